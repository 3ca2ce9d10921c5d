import type { Statement } from 'better-sqlite3';
import type { Db } from './database';

/**
 * The workspace's embedding cache: one vector per embedder id and text hash, written by the Analyse
 * and evaluation jobs and read back by later runs and the embedding map. It has the shape of
 * `EmbeddingCache` (src/main/embed/cache.ts), which the embed core is handed; the core does not
 * know this store, nor this store the core.
 */
export class EmbeddingStore {
  private getStatement?: Statement<[string, string], { dim: number; vector: Buffer }>;
  private putStatement?: Statement<[string, string, number, Buffer]>;

  constructor(private readonly db: Db) {}

  /** The vector stored for this embedder and text hash (a copy), if any. */
  get(embedderId: string, textHash: string): Float32Array | undefined {
    this.getStatement ??= this.db.prepare<[string, string], { dim: number; vector: Buffer }>(
      'SELECT dim, vector FROM embeddings WHERE model_id = ? AND text_hash = ?',
    );
    const row = this.getStatement.get(embedderId, textHash);
    if (!row) return undefined;
    const { buffer, byteOffset } = row.vector;
    return new Float32Array(buffer.slice(byteOffset, byteOffset + row.dim * 4));
  }

  /** Stores vectors in one transaction, replacing any stored under the same key. */
  put(embedderId: string, entries: readonly { textHash: string; vector: Float32Array }[]): void {
    const put = (this.putStatement ??= this.db.prepare<[string, string, number, Buffer]>(
      'INSERT OR REPLACE INTO embeddings (model_id, text_hash, dim, vector) VALUES (?, ?, ?, ?)',
    ));
    this.db.transaction(() => {
      for (const { textHash, vector: v } of entries) put.run(embedderId, textHash, v.length, Buffer.from(v.buffer, v.byteOffset, v.byteLength));
    })();
  }
}
