/**
 * A trained sequence detector (seqnet.ts) as shipped: one JSON file holding its configuration,
 * its weights (base64 float32), the Platt scaling of every output and the decision thresholds,
 * all chosen on a validation split (bench/detect/train.ts writes it).
 *
 * Two kinds ship:
 *  - 'prompt' (resources/taxonomy/prompt-detector.v2.json): outputs "harmful" and the 14 BeaverTails
 *    categories, calibrated each: P(harmful) and P(category c applies);
 *  - 'refusal' (resources/refusal-phrases/refusal-detector.v2.json): output "refusal" over the head of
 *    a reply, with the phrase-rule flags (classifiers.ts refusalRuleFlags) as extra features.
 *
 * Inference runs in onnxruntime (`SeqDetector.logits`); texts of a call are batched by length.
 * The weights need the word vectors they were trained on (file.vectors), taken from the default
 * static embedder (StaticWordEmbedder.table).
 */
import { z } from 'zod';
import { parseOrThrow } from '../data/zodUtil';
import type { Embedder } from '../embed/types';
import { StaticWordEmbedder, type StaticVectorTable } from '../embed/staticVectors';
import { applyPlatt } from './calibration';
import { refusalRuleFlags, responseHead } from './classifiers';
import type { SeqNetRunner } from './seqnet';
import { checkParams, type SeqNetConfig, type SeqNetParams } from './seqnetConfig';
import { tableId, tokenIds } from './wordseq';

const PlattJson = z.object({ a: z.number(), b: z.number() });

export const SeqDetectorFile = z.object({
  id: z.string().min(1),
  version: z.string().regex(/^\d+\.\d+\.\d+$/),
  kind: z.enum(['prompt', 'refusal']),
  /** The word-vector table the weights need (wordseq.ts tableId). */
  vectors: z.string(),
  /** The embedder to pass (the default static one over those vectors). */
  embedderId: z.string(),
  inputScale: z.number().positive(),
  /** Tokens read from each text (a reply: its head). */
  maxTokens: z.number().int().positive(),
  /** Refusal: words of the reply's head read (responseHead). */
  headWords: z.number().int().positive().optional(),
  config: z.object({
    inputChannels: z.number().int().positive(),
    kernel: z.number().int().positive(),
    layers: z.number().int().positive(),
    attention: z.number().int().nonnegative(),
    hidden: z.number().int().positive(),
    poolHeads: z.number().int().positive(),
    prefixTokens: z.number().int().nonnegative(),
    extraFeatures: z.number().int().nonnegative(),
    mlpHidden: z.number().int().nonnegative(),
    outputs: z.array(z.string().min(1)).min(1),
    tokenOutputs: z.number().int().nonnegative(),
  }),
  /** Names of the extra features, in order (refusal: the phrase-rule flags). */
  extraFeatures: z.array(z.string()),
  /** Parameter name → base64 of little-endian float32 values. */
  params: z.record(z.string(), z.string()),
  /** Platt scaling per output name. */
  calibration: z.record(z.string(), PlattJson),
  /** Decision threshold on the calibrated probability of the first output (harmful / refusal). */
  threshold: z.number().min(0).max(1),
  /** Category outputs: a category is assigned (besides the best one) at or above this calibrated probability. */
  categoryThreshold: z.number().min(0).max(1).optional(),
  /** Category outputs with reference prompts: weight of the kNN vote share in the blended score (chosen on validation). */
  referenceBlend: z.number().min(0).max(1).optional(),
  trainedOn: z.array(z.string()),
  /** Held-out figures recorded by the trainer (see the model card). */
  heldOut: z.record(z.string(), z.unknown()).optional(),
  note: z.string().optional(),
});
export type SeqDetectorFile = z.infer<typeof SeqDetectorFile>;

/** Category labels for a row of calibrated probabilities: the best one, then every other at or above the threshold. */
export function assignCategories(probs: ArrayLike<number>, threshold: number): number[] {
  const order = [...Array(probs.length).keys()].sort((a, b) => probs[b]! - probs[a]! || a - b);
  return order.filter((c, rank) => rank === 0 || probs[c]! >= threshold);
}

/** Features of replies for the refusal detector: token ids of the head and the rule flags. */
export function refusalInputs(
  table: StaticVectorTable,
  responses: readonly string[],
  headWords: number,
  maxTokens: number,
): { ids: Int32Array[]; extra: number[][] } {
  return { ids: responses.map((r) => tokenIds(table, responseHead(r, headWords), maxTokens)), extra: responses.map((r) => refusalRuleFlags(r)) };
}

export function encodeParams(params: SeqNetParams): Record<string, string> {
  return Object.fromEntries([...params].map(([k, v]) => [k, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')]));
}

export function decodeParams(enc: Record<string, string>): SeqNetParams {
  const out: SeqNetParams = new Map();
  for (const [k, b64] of Object.entries(enc)) {
    const b = Buffer.from(b64, 'base64');
    if (b.byteLength % 4) throw new Error(`detector weights: parameter ${k} is not a float32 array`);
    const a = new Float32Array(b.byteLength / 4);
    new Uint8Array(a.buffer).set(b);
    out.set(k, a);
  }
  return out;
}

/** The word-vector table of a default static embedder, checked against what the detector needs. */
export function vectorTableFor(file: SeqDetectorFile, embedder: Embedder): StaticVectorTable {
  if (!(embedder instanceof StaticWordEmbedder)) {
    throw new Error(
      `detector ${file.id} reads static word vectors (${file.vectors}); pass the default static embedder (createDefaultEmbedder), not "${embedder.id}"`,
    );
  }
  const id = tableId(embedder.table);
  if (id !== file.vectors) throw new Error(`detector ${file.id} was trained on word vectors "${file.vectors}", the embedder has "${id}"`);
  return embedder.table;
}

export class SeqDetector {
  readonly file: SeqDetectorFile;
  readonly cfg: SeqNetConfig;
  readonly params: SeqNetParams;
  private runner: Promise<SeqNetRunner> | null = null;
  private runnerTable: StaticVectorTable | null = null;

  constructor(json: unknown) {
    this.file = parseOrThrow(SeqDetectorFile, json, 'detector');
    this.cfg = this.file.config;
    this.params = decodeParams(this.file.params);
    checkParams(this.cfg, this.params);
    if (this.file.extraFeatures.length !== this.cfg.extraFeatures)
      throw new Error(`detector ${this.file.id}: ${this.file.extraFeatures.length} extra feature names for ${this.cfg.extraFeatures} features`);
    for (const o of this.cfg.outputs) if (!this.file.calibration[o]) throw new Error(`detector ${this.file.id}: no calibration for output "${o}"`);
  }

  /** `${id}@${version}` */
  get tag(): string {
    return `${this.file.id}@${this.file.version}`;
  }

  private session(table: StaticVectorTable): Promise<SeqNetRunner> {
    if (!this.runner || this.runnerTable !== table) {
      this.runnerTable = table;
      // onnxruntime loads with the first detector that runs, not with this module
      this.runner = import('./seqnet').then(({ SeqNetRunner }) => SeqNetRunner.create(this.cfg, this.params, table, this.file.inputScale, 1));
    }
    return this.runner;
  }

  /** Raw logits [n, outputs] for texts (with their extra features when the model has some). */
  async logits(embedder: Embedder, texts: readonly string[], extra?: ReadonlyArray<ArrayLike<number>>): Promise<Float32Array> {
    const table = vectorTableFor(this.file, embedder);
    if (this.cfg.extraFeatures > 0 && extra?.length !== texts.length)
      throw new Error(`detector ${this.file.id} needs ${this.cfg.extraFeatures} extra features per text`);
    const ids = texts.map((t) => tokenIds(table, t, this.file.maxTokens));
    return (await this.session(table)).logits(ids, extra);
  }

  /** Calibrated probability of output k for a logit. */
  probability(k: number, logit: number): number {
    return applyPlatt(this.file.calibration[this.cfg.outputs[k]!]!, logit);
  }

  /** Calibrated probabilities [n, outputs]. */
  async probabilities(embedder: Embedder, texts: readonly string[], extra?: ReadonlyArray<ArrayLike<number>>): Promise<Float32Array> {
    const z = await this.logits(embedder, texts, extra);
    const O = this.cfg.outputs.length;
    for (let i = 0; i < z.length; i++) z[i] = this.probability(i % O, z[i]!);
    return z;
  }

  async dispose(): Promise<void> {
    const r = this.runner;
    this.runner = null;
    if (r) await (await r).release();
  }
}
