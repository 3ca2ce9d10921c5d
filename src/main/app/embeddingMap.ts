import { AppError } from '../../shared/errors';
import { textHash } from '../embed/cache';
import { pca2 } from '../embed/projection';
import type { Services } from './services';

/**
 * The embedding map of a data set: its prompts' cached embeddings projected to 2-D (PCA), at most
 * `maxPoints` of them (an even stride through the data set when it is larger).
 */
export function embeddingMap(s: Services, datasetId: number, maxPoints: number) {
  s.datasets.get(datasetId);
  const embedder = s.datasets.embedderOf(datasetId);
  if (!embedder) throw new AppError('conflict', 'This data set has no embeddings yet: run Analyse on it first', { datasetId });
  const rows = s.db
    .prepare('SELECT id, prompt, categories, behaviour FROM records WHERE dataset_id = ? ORDER BY id')
    .all(datasetId) as { id: number; prompt: string; categories: string; behaviour: string | null }[];
  const stride = Math.max(1, Math.ceil(rows.length / maxPoints));
  const sample = rows.filter((_, i) => i % stride === 0);
  const get = s.db.prepare('SELECT dim, vector FROM embeddings WHERE model_id = ? AND text_hash = ?');
  let dim = 0;
  const vectors: Float32Array[] = [];
  const kept: typeof sample = [];
  for (const r of sample) {
    const row = get.get(embedder, textHash(r.prompt)) as { dim: number; vector: Buffer } | undefined;
    if (!row) continue;
    dim = row.dim;
    vectors.push(new Float32Array(row.vector.buffer.slice(row.vector.byteOffset, row.vector.byteOffset + row.dim * 4)));
    kept.push(r);
  }
  if (kept.length === 0) throw new AppError('conflict', 'No cached embeddings found for this data set: run Analyse on it again', { datasetId });
  const m = new Float32Array(kept.length * dim);
  vectors.forEach((v, i) => m.set(v, i * dim));
  const { x, y, explained } = pca2(m, dim);
  return {
    total: rows.length,
    embedder,
    explained,
    points: kept.map((r, i) => ({
      id: r.id,
      x: x[i]!,
      y: y[i]!,
      categories: JSON.parse(r.categories) as string[],
      behaviour: r.behaviour,
      text: r.prompt.length > 240 ? r.prompt.slice(0, 240) + '…' : r.prompt,
    })),
  };
}
