import { createHash } from 'node:crypto';
import type { Db } from '../db/database';
import { normaliseText } from '../data/formats';
import type { Embedder } from './types';

const LOOKUP_CHUNK = 500;

export function textHash(text: string): string {
  return createHash('sha256').update(normaliseText(text)).digest('hex');
}

/**
 * Embeds texts through the workspace's embedding cache (keyed by embedder id and text hash):
 * what was embedded before is read back, never recomputed; the rest is embedded and stored.
 */
export async function embedCached(
  db: Db,
  embedder: Embedder,
  texts: readonly string[],
  opts: { batchSize?: number; onProgress?: (done: number, total: number) => void; check?: () => void } = {},
): Promise<{ matrix: Float32Array; computed: number }> {
  const dim = embedder.dimension;
  const out = new Float32Array(texts.length * dim);
  const hashes = texts.map(textHash);
  const missing: number[] = [];
  const get = db.prepare('SELECT dim, vector FROM embeddings WHERE model_id = ? AND text_hash = ?');
  for (let i = 0; i < texts.length; i++) {
    const row = get.get(embedder.id, hashes[i]) as { dim: number; vector: Buffer } | undefined;
    if (row && row.dim === dim) out.set(new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + dim * 4)), i * dim);
    else missing.push(i);
    if (i % LOOKUP_CHUNK === 0) opts.check?.();
  }
  const put = db.prepare('INSERT OR REPLACE INTO embeddings (model_id, text_hash, dim, vector) VALUES (?, ?, ?, ?)');
  const bs = opts.batchSize ?? 512;
  for (let s = 0; s < missing.length; s += bs) {
    opts.check?.();
    const idx = missing.slice(s, s + bs);
    const m = await embedder.embedBatch(idx.map((i) => texts[i]!));
    db.transaction(() => {
      idx.forEach((i, k) => {
        const v = m.subarray(k * dim, (k + 1) * dim);
        out.set(v, i * dim);
        put.run(embedder.id, hashes[i], dim, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
      });
    })();
    opts.onProgress?.(texts.length - missing.length + Math.min(missing.length, s + bs), texts.length);
  }
  opts.onProgress?.(texts.length, texts.length);
  return { matrix: out, computed: missing.length };
}
