import { createHash } from 'node:crypto';
import { normaliseText } from '../data/formats';
import type { Embedder } from './types';

const LOOKUP_CHUNK = 500;

/**
 * Where embeddings are kept between runs, keyed by embedder id and text hash. The caller hands one
 * in (the workspace's is the db's EmbeddingStore); the embed core knows no database.
 */
export interface EmbeddingCache {
  /** The vector stored for this embedder and text hash, if any. */
  get(embedderId: string, textHash: string): Float32Array | undefined;
  /** Stores vectors (all or none), replacing any stored under the same key. */
  put(embedderId: string, entries: readonly { textHash: string; vector: Float32Array }[]): void;
}

export function textHash(text: string): string {
  return createHash('sha256').update(normaliseText(text)).digest('hex');
}

/**
 * Embeds texts through a cache: what was embedded before is read back, never recomputed; the rest
 * is embedded and stored, one batch at a time.
 */
export async function embedCached(
  cache: EmbeddingCache,
  embedder: Embedder,
  texts: readonly string[],
  opts: { batchSize?: number; onProgress?: (done: number, total: number) => void; check?: () => void } = {},
): Promise<{ matrix: Float32Array; computed: number }> {
  const dim = embedder.dimension;
  const out = new Float32Array(texts.length * dim);
  const hashes = texts.map(textHash);
  const missing: number[] = [];
  for (let i = 0; i < texts.length; i++) {
    const cached = cache.get(embedder.id, hashes[i]!);
    if (cached && cached.length === dim) out.set(cached, i * dim);
    else missing.push(i);
    if (i % LOOKUP_CHUNK === 0) opts.check?.();
  }
  const bs = opts.batchSize ?? 512;
  for (let s = 0; s < missing.length; s += bs) {
    opts.check?.();
    const idx = missing.slice(s, s + bs);
    const m = await embedder.embedBatch(idx.map((i) => texts[i]!));
    const entries = idx.map((i, k) => {
      const vector = m.subarray(k * dim, (k + 1) * dim);
      out.set(vector, i * dim);
      return { textHash: hashes[i]!, vector };
    });
    cache.put(embedder.id, entries);
    opts.onProgress?.(texts.length - missing.length + Math.min(missing.length, s + bs), texts.length);
  }
  opts.onProgress?.(texts.length, texts.length);
  return { matrix: out, computed: missing.length };
}
