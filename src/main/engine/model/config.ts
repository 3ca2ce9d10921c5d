/**
 * The one model description both decoder graphs (full-sequence and KV-cache step) are built from,
 * and the bounds every description read from a file (config.json, a GGUF header) must fall within.
 */
import { describeJson, ModelFileError } from '../files';

export type Architecture = 'llama' | 'mistral' | 'qwen2' | 'gemma' | 'gemma2';

export type RopeScaling =
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number }
  | { type: 'linear'; factor: number };

export interface DecoderConfig {
  architecture: Architecture;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  /** maximum context length (positions) */
  maxPositions: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections have biases (Qwen2) */
  attentionBias: boolean;
  /** MLP activation: SwiGLU (silu) or GeGLU (gelu, tanh approximation) */
  activation: 'silu' | 'gelu_tanh' | 'gelu';
  /** Gemma: RMSNorm uses (1 + w) */
  normAddOne: boolean;
  /** Gemma: embeddings multiplied by sqrt(hidden) */
  embedScale: number | null;
  /** Gemma 2: tanh soft-capping of attention scores / final logits */
  attnSoftcap: number | null;
  finalSoftcap: number | null;
  /** attention score scale (default 1/sqrt(headDim); Gemma 2: query_pre_attn_scalar^-0.5) */
  attnScale: number;
  /** sliding-window attention size per layer (null = full attention) */
  slidingWindow: (number | null)[];
  /** Gemma 2: extra post-attention / pre- and post-feed-forward norms */
  sandwichNorms: boolean;
  bosTokenId: number | null;
  eosTokenIds: number[];
}

/** Inverse RoPE frequencies, with llama3 / linear scaling applied. */
export function ropeInvFreq(cfg: Pick<DecoderConfig, 'headDim' | 'ropeTheta' | 'ropeScaling'>): Float32Array {
  const half = cfg.headDim / 2;
  const inv = new Float64Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / cfg.ropeTheta ** ((2 * i) / cfg.headDim);
  const s = cfg.ropeScaling;
  if (s?.type === 'linear') for (let i = 0; i < half; i++) inv[i]! /= s.factor;
  if (s?.type === 'llama3') {
    const lowWavelen = s.originalMaxPositions / s.lowFreqFactor;
    const highWavelen = s.originalMaxPositions / s.highFreqFactor;
    for (let i = 0; i < half; i++) {
      const f = inv[i]!;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen < highWavelen) continue;
      if (wavelen > lowWavelen) inv[i] = f / s.factor;
      else {
        const smooth = (s.originalMaxPositions / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv[i] = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
  }
  return Float32Array.from(inv);
}

export function parameterCount(cfg: DecoderConfig): number {
  const h = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  const bias = cfg.attentionBias ? q + 2 * kv : 0;
  const norms = (cfg.sandwichNorms ? 4 : 2) * h;
  const emb = cfg.vocabSize * h;
  return projectionParameterCount(cfg) + cfg.numLayers * (bias + norms) + emb + h + (cfg.tieWordEmbeddings ? 0 : emb);
}

/** Parameters of every layer's projection matrices (q, k, v, o, gate, up, down; no biases). */
export function projectionParameterCount(cfg: DecoderConfig): number {
  const h = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  return cfg.numLayers * (2 * h * q + 2 * h * kv + 3 * h * cfg.intermediateSize);
}

/**
 * Upper bounds on what a config.json or GGUF header may claim. They sit well above every published
 * decoder (Llama 3.1 405B: 126 layers, hidden 16 384, FFN 53 248, 128 heads; Gemma: head dim 256,
 * vocabulary 256 000; Llama 4 Scout: 10M positions) and stop a damaged or hostile file from sizing
 * arrays and loops by its claims (a 1e9-layer config would otherwise exhaust memory).
 */
export const CONFIG_LIMITS = {
  numLayers: 1024,
  hiddenSize: 65_536,
  intermediateSize: 262_144,
  numHeads: 1024,
  numKvHeads: 1024,
  headDim: 1024,
  vocabSize: 4_194_304,
  maxPositions: 16_777_216,
} as const;

/** A whole number in [min, max] read from a model file; `field` is the file's own name for it. */
export function checkedInt(value: unknown, file: string, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new ModelFileError(`${file}: ${field} is ${describeJson(value)}; expected a whole number from ${min} to ${max}`);
  return value;
}

/** A finite number greater than zero read from a model file. */
export function checkedPositive(value: unknown, file: string, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new ModelFileError(`${file}: ${field} is ${describeJson(value)}; expected a number greater than 0`);
  return value;
}

/** The file's own names of the fields `checkHeads` reports on. */
export interface HeadFieldNames {
  heads: string;
  kvHeads: string;
  headDim: string;
}

/** Attention heads that fit together: key/value heads divide the query heads, and the head dimension is even (RoPE rotates pairs). */
export function checkHeads(cfg: Pick<DecoderConfig, 'numHeads' | 'numKvHeads' | 'headDim'>, file: string, names: HeadFieldNames): void {
  if (cfg.numHeads % cfg.numKvHeads !== 0)
    throw new ModelFileError(`${file}: ${names.heads} (${cfg.numHeads}) is not a multiple of ${names.kvHeads} (${cfg.numKvHeads})`);
  if (cfg.headDim % 2 !== 0) throw new ModelFileError(`${file}: ${names.headDim} is ${cfg.headDim}; rotary embeddings need an even head dimension`);
}
