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
  const rows = s.datasets.mapRows(datasetId);
  const stride = Math.max(1, Math.ceil(rows.length / maxPoints));
  const sample = rows.filter((_, i) => i % stride === 0);
  let dim = 0;
  const vectors: Float32Array[] = [];
  const kept: typeof sample = [];
  for (const r of sample) {
    const v = s.embeddings.get(embedder, textHash(r.prompt));
    if (!v) continue;
    dim = v.length;
    vectors.push(v);
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
      categories: r.categories,
      behaviour: r.behaviour,
      text: r.prompt.length > 240 ? r.prompt.slice(0, 240) + '…' : r.prompt,
    })),
  };
}
