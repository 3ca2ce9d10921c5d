/**
 * The v1 detectors (shipped until detectors v2, now a baseline the benches train): logistic
 * regressions over a text embedding (plus, for refusals, the transparent phrase-rule flags as
 * extra features):
 *  - response refusal: features = embedding(head of the response) ++ [xstest start match,
 *    GCG anywhere match, SafeTune-extra start match, hedge phrases]
 *  - prompt harmfulness: features = embedding(prompt)
 * A trained classifier is tied to the embedder id it was trained with. The phrase-rule flags
 * (refusalRuleFlags) and the reply head (responseHead) also feed the v2 refusal detector.
 */
import { z } from 'zod';
import { parseOrThrow } from '../data/zodUtil';
import type { Embedder } from '../embed/types';
import { type BinaryMetrics, type LogRegOptions, predictLogReg, trainLogReg } from './logreg';
import { getRefusalRules } from './refusalRules';

export const LinearClassifierFile = z.object({
  id: z.string(),
  version: z.string(),
  kind: z.enum(['refusal', 'prompt-harm']),
  embedderId: z.string(),
  /** Names of features appended after the embedding. */
  extraFeatures: z.array(z.string()),
  dim: z.number().int().positive(),
  weights: z.array(z.number()),
  bias: z.number(),
  threshold: z.number().min(0).max(1),
  trainedOn: z.array(z.string()),
  metrics: z.record(z.string(), z.unknown()).optional(),
  note: z.string().optional(),
});
export type LinearClassifierFile = z.infer<typeof LinearClassifierFile>;

export class LinearClassifier {
  readonly file: LinearClassifierFile;
  readonly weights: Float32Array;
  constructor(json: unknown) {
    this.file = parseOrThrow(LinearClassifierFile, json, 'classifier');
    if (this.file.weights.length !== this.file.dim) throw new Error(`classifier ${this.file.id}: ${this.file.weights.length} weights for dim ${this.file.dim}`);
    this.weights = Float32Array.from(this.file.weights);
  }
  predict(features: Float32Array): Float32Array {
    return predictLogReg({ dim: this.file.dim, weights: this.weights, bias: this.file.bias }, features);
  }
}

/** First `maxWords` whitespace-separated words: refusals show at the start of a reply. */
export function responseHead(text: string, maxWords = 48): string {
  const w = text.trim().split(/\s+/);
  return w.length <= maxWords ? text.trim() : w.slice(0, maxWords).join(' ');
}

/** Rule features: the XSTest start rule, GCG anywhere, SafeTune-extra start, then one indicator per
 *  phrase of the "hedges" list found anywhere in the response head. */
export function refusalExtraFeatureNames(): string[] {
  const hedges = getRefusalRules().set.lists.find((l) => l.id === 'hedges')?.phrases ?? [];
  return ['rule:xstest:start', 'rule:gcg:anywhere', 'rule:safetune-extra:start', ...hedges.map((h) => `hedge:${h}`)];
}

/** Rule flags for one response, in refusalExtraFeatureNames() order. */
export function refusalRuleFlags(response: string): number[] {
  const r = getRefusalRules();
  const head = responseHead(response)
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'");
  const hedges = r.set.lists.find((l) => l.id === 'hedges')?.phrases ?? [];
  return [
    r.match(response, { mode: 'start', lists: ['xstest'] }).refusal ? 1 : 0,
    r.match(response, { mode: 'anywhere', lists: ['gcg'] }).refusal ? 1 : 0,
    r.match(response, { mode: 'start', lists: ['safetune-extra'] }).refusal ? 1 : 0,
    ...hedges.map((h) => (head.includes(h) ? 1 : 0)),
  ];
}

export async function refusalFeatures(embedder: Embedder, responses: readonly string[]): Promise<Float32Array> {
  const d = embedder.dimension;
  const e = await embedder.embedBatch(responses.map((r) => responseHead(r)));
  const extra = refusalExtraFeatureNames().length;
  const dim = d + extra;
  const out = new Float32Array(responses.length * dim);
  for (let i = 0; i < responses.length; i++) {
    out.set(e.subarray(i * d, (i + 1) * d), i * dim);
    out.set(refusalRuleFlags(responses[i]!), i * dim + d);
  }
  return out;
}

export async function promptHarmFeatures(embedder: Embedder, prompts: readonly string[]): Promise<Float32Array> {
  return embedder.embedBatch(prompts);
}

/** L2 strengths the v1 classifiers were trained with. */
export const LINEAR_REFUSAL_L2 = 1e-2;
export const LINEAR_HARM_L2 = 1e-3;

export interface TrainClassifierOptions extends LogRegOptions {
  id?: string;
  version?: string;
  trainedOn?: string[];
  threshold?: number;
  note?: string;
}

export async function trainRefusalClassifier(
  embedder: Embedder,
  examples: ReadonlyArray<{ response: string; refusal: boolean }>,
  opts: TrainClassifierOptions = {},
): Promise<LinearClassifier> {
  const x = await refusalFeatures(
    embedder,
    examples.map((e) => e.response),
  );
  const dim = embedder.dimension + refusalExtraFeatureNames().length;
  const m = trainLogReg(
    x,
    examples.map((e) => (e.refusal ? 1 : 0)),
    dim,
    opts,
  );
  return new LinearClassifier({
    id: opts.id ?? 'safetune-refusal-classifier',
    version: opts.version ?? '1.0.0',
    kind: 'refusal',
    embedderId: embedder.id,
    extraFeatures: refusalExtraFeatureNames(),
    dim,
    weights: Array.from(m.weights, (v) => Number(v.toPrecision(7))),
    bias: Number(m.bias.toPrecision(7)),
    threshold: opts.threshold ?? 0.5,
    trainedOn: opts.trainedOn ?? [],
    ...(opts.note ? { note: opts.note } : {}),
  });
}

export async function trainPromptHarmClassifier(
  embedder: Embedder,
  examples: ReadonlyArray<{ prompt: string; harmful: boolean }>,
  opts: TrainClassifierOptions = {},
): Promise<LinearClassifier> {
  const x = await promptHarmFeatures(
    embedder,
    examples.map((e) => e.prompt),
  );
  const m = trainLogReg(
    x,
    examples.map((e) => (e.harmful ? 1 : 0)),
    embedder.dimension,
    opts,
  );
  return new LinearClassifier({
    id: opts.id ?? 'safetune-prompt-harm-classifier',
    version: opts.version ?? '1.0.0',
    kind: 'prompt-harm',
    embedderId: embedder.id,
    extraFeatures: [],
    dim: embedder.dimension,
    weights: Array.from(m.weights, (v) => Number(v.toPrecision(7))),
    bias: Number(m.bias.toPrecision(7)),
    threshold: opts.threshold ?? 0.5,
    trainedOn: opts.trainedOn ?? [],
    ...(opts.note ? { note: opts.note } : {}),
  });
}

export type { BinaryMetrics };
