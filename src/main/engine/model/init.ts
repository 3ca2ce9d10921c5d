/**
 * A model initialised from a config (training from scratch): random weights as Hugging Face's
 * LlamaPreTrainedModel._init_weights draws them — every linear and embedding matrix from
 * normal(0, initializer_range), biases zero, RMSNorm weights one (the padding token's embedding row
 * zero when a pad id is given) — with a tokenizer the caller supplies.
 *
 * The weights are not held: each tensor is drawn again, identically, whenever it is read (its own
 * generator seeded from the seed and the tensor name), so the model costs no memory until a trainer
 * copies the weights it trains, and a resumed run sees the same frozen and initial weights.
 */
import { mulberry32 } from '../../util/prng';
import type { TextTokenizer } from '../tokenizer/types';
import { parameterCount, type DecoderConfig } from './config';
import { expectedWeightShapes } from './decoderGraph';
import type { LoadedModel } from './loaded';
import type { WeightSource } from './weights';

export interface LlamaConfigInput {
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  /** default numHeads */
  numKvHeads?: number;
  intermediateSize: number;
  /** default 2048 */
  maxPositions?: number;
  /** default 1e-5 */
  rmsNormEps?: number;
  /** default 10000 */
  ropeTheta?: number;
  /** default false */
  tieWordEmbeddings?: boolean;
  bosTokenId?: number | null;
  eosTokenIds?: number[];
}

/** A Llama DecoderConfig (the architecture of llama.cpp's and Hugging Face's Llama) from its sizes. */
export function llamaConfig(c: LlamaConfigInput): DecoderConfig {
  const kv = c.numKvHeads ?? c.numHeads;
  const problems: string[] = [];
  for (const [k, v] of Object.entries({
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: kv,
    intermediateSize: c.intermediateSize,
  }))
    if (!Number.isInteger(v) || v < 1) problems.push(`${k} must be a positive integer (got ${v})`);
  if (!problems.length && c.hiddenSize % c.numHeads !== 0) problems.push(`hiddenSize ${c.hiddenSize} is not a multiple of numHeads ${c.numHeads}`);
  if (!problems.length && c.numHeads % kv !== 0) problems.push(`numHeads ${c.numHeads} is not a multiple of numKvHeads ${kv}`);
  if (!problems.length && (c.hiddenSize / c.numHeads) % 2 !== 0) problems.push(`the head size ${c.hiddenSize / c.numHeads} must be even (rotary embeddings)`);
  if (problems.length) throw new Error(`llamaConfig: ${problems.join('; ')}`);
  const headDim = c.hiddenSize / c.numHeads;
  return {
    architecture: 'llama',
    vocabSize: c.vocabSize,
    hiddenSize: c.hiddenSize,
    numLayers: c.numLayers,
    numHeads: c.numHeads,
    numKvHeads: kv,
    headDim,
    intermediateSize: c.intermediateSize,
    rmsNormEps: c.rmsNormEps ?? 1e-5,
    ropeTheta: c.ropeTheta ?? 10000,
    ropeScaling: null,
    maxPositions: c.maxPositions ?? 2048,
    tieWordEmbeddings: c.tieWordEmbeddings ?? false,
    attentionBias: false,
    activation: 'silu',
    normAddOne: false,
    embedScale: null,
    attnSoftcap: null,
    finalSoftcap: null,
    attnScale: 1 / Math.sqrt(headDim),
    slidingWindow: new Array<number | null>(c.numLayers).fill(null),
    sandwichNorms: false,
    bosTokenId: c.bosTokenId ?? null,
    eosTokenIds: c.eosTokenIds ?? [],
  };
}

export interface InitOptions {
  /** default 0 */
  seed?: number;
  /** standard deviation of the matrices (Hugging Face's initializer_range, default 0.02) */
  initializerRange?: number;
  /** this token's embedding row is zero (nn.Embedding's padding_idx) */
  padTokenId?: number | null;
}

/** FNV-1a of a string: each tensor's own seed */
function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Randomly initialised weights of a config (drawn on every read, identically). */
export class InitWeights implements WeightSource {
  readonly origin: string;
  private readonly shapes: Map<string, number[]>;
  readonly seed: number;
  readonly initializerRange: number;
  readonly padTokenId: number | null;

  constructor(
    readonly config: DecoderConfig,
    opts: InitOptions = {},
  ) {
    this.seed = opts.seed ?? 0;
    this.initializerRange = opts.initializerRange ?? 0.02;
    if (!(this.initializerRange > 0)) throw new Error(`initializerRange must be positive, got ${this.initializerRange}`);
    this.padTokenId = opts.padTokenId ?? null;
    if (this.padTokenId !== null && !(Number.isInteger(this.padTokenId) && this.padTokenId >= 0 && this.padTokenId < config.vocabSize))
      throw new Error(`padTokenId ${this.padTokenId} is not a token of the ${config.vocabSize}-token vocabulary`);
    this.shapes = expectedWeightShapes(config);
    this.origin = `(random initialisation, seed ${this.seed}, std ${this.initializerRange})`;
  }
  names(): string[] {
    return [...this.shapes.keys()];
  }
  has(name: string): boolean {
    return this.shapes.has(name);
  }
  shape(name: string): number[] {
    const s = this.shapes.get(name);
    if (!s) throw new Error(`${this.origin}: no tensor ${name}`);
    return s.slice();
  }
  dtype(): string {
    return 'F32';
  }
  f32(name: string): Float32Array {
    const shape = this.shape(name);
    const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (shape.length === 1) {
      // RMSNorm weights one (Gemma-style norms store w with (1 + w) applied: zero), biases zero
      if (/norm\.weight$/.test(name) && !this.config.normAddOne) out.fill(1);
      return out;
    }
    const r = mulberry32((hashName(name) ^ Math.imul(this.seed >>> 0, 0x9e3779b1)) >>> 0);
    const std = this.initializerRange;
    for (let i = 0; i < out.length; i += 2) {
      // Box-Muller: two normals per pair of uniforms
      const u = Math.max(r(), 1e-12);
      const rad = Math.sqrt(-2 * Math.log(u)) * std;
      const a = 2 * Math.PI * r();
      out[i] = rad * Math.cos(a);
      if (i + 1 < out.length) out[i + 1] = rad * Math.sin(a);
    }
    if (name === 'model.embed_tokens.weight' && this.padTokenId !== null) out.fill(0, this.padTokenId * shape[1]!, (this.padTokenId + 1) * shape[1]!);
    return out;
  }
}

export interface CreateModelOptions extends InitOptions {
  /** the model's name (default "llama-<parameters>") */
  name?: string;
  /** a Jinja chat template, if the model is to have one */
  chatTemplate?: string | null;
}

/**
 * A randomly initialised model of `cfg` with the caller's tokenizer, ready for the trainer
 * (`full: {}` trains every weight) and the inference engine. It has no files: its `path` is a label
 * ("init:<name>"); export the trained model (Trainer.exportModel) to get a folder or GGUF file.
 */
export function createModelFromConfig(cfg: DecoderConfig, tokenizer: TextTokenizer, opts: CreateModelOptions = {}): LoadedModel {
  if (tokenizer.vocabSize > cfg.vocabSize)
    throw new Error(`the tokenizer has ${tokenizer.vocabSize} tokens but the config's vocabulary only ${cfg.vocabSize}: raise vocabSize`);
  const name = opts.name ?? `${cfg.architecture}-${(parameterCount(cfg) / 1e6).toFixed(1)}M`;
  return {
    format: 'hf',
    path: `init:${name}`,
    name,
    config: cfg,
    tokenizer,
    weights: new InitWeights(cfg, opts),
    chatTemplate: opts.chatTemplate ?? null,
  };
}
