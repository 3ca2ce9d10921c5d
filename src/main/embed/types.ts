/**
 * The embedder interface shared by samplers, detectors and the embedding cache.
 *
 * Rows are L2-normalised (a text with no known token embeds to the zero vector), so cosine
 * similarity is a dot product. `id` is stable and names everything that changes the output
 * (model, weighting, pooling): cache entries are keyed by embeddingKey(id, text).
 */
import { createHash } from 'node:crypto';
import { normaliseText } from '../data/formats';

export interface Embedder {
  readonly id: string;
  readonly dimension: number;
  /** n texts → one contiguous row-major Float32Array of n × dimension, rows L2-normalised. */
  embedBatch(texts: readonly string[]): Promise<Float32Array>;
  /** Free native resources (sessions). */
  dispose?(): Promise<void>;
}

/** Stable cache key for one text under one embedder: `${embedderId}:${sha256(normalised text)}`. */
export function embeddingKey(embedderId: string, text: string): string {
  return `${embedderId}:${createHash('sha256').update(normaliseText(text)).digest('hex')}`;
}

/** Normalise each row of a row-major matrix in place; zero rows stay zero. */
export function l2NormaliseRows(m: Float32Array, dim: number): Float32Array {
  const n = m.length / dim;
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += m[o + j]! * m[o + j]!;
    if (s > 0) {
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < dim; j++) m[o + j]! *= inv;
    }
  }
  return m;
}

/** View of row r (no copy). */
export function row(m: Float32Array, dim: number, r: number): Float32Array {
  return m.subarray(r * dim, (r + 1) * dim);
}

/**
 * Embed many texts in batches into one matrix (rows in input order), reporting progress. Texts
 * are processed in order of length so each batch pads little (model embedders); results do not
 * depend on the order.
 */
export async function embedAll(
  embedder: Embedder,
  texts: readonly string[],
  options: { batchSize?: number; onProgress?: (done: number, total: number) => void; signal?: AbortSignal } = {},
): Promise<Float32Array> {
  const bs = options.batchSize ?? 256;
  const d = embedder.dimension;
  const out = new Float32Array(texts.length * d);
  const order = Int32Array.from(texts.keys()).sort((a, b) => texts[a]!.length - texts[b]!.length || a - b);
  for (let s = 0; s < texts.length; s += bs) {
    options.signal?.throwIfAborted();
    const idx = order.subarray(s, s + bs);
    const part = await embedder.embedBatch(Array.from(idx, (i) => texts[i]!));
    idx.forEach((i, k) => out.set(part.subarray(k * d, (k + 1) * d), i * d));
    options.onProgress?.(Math.min(texts.length, s + bs), texts.length);
  }
  return out;
}
