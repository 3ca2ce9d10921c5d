/**
 * Cossim (Pham et al.): score each candidate against per-category reference sets by mean cosine
 * similarity; take the top max(1, floor(N / #categories)) per category without duplicates, then
 * fill by the highest max-category score. Cossim-B: candidates from the T1 subset only.
 *
 * With unit-length rows, mean cosine to a reference set = candidate · (mean of the reference
 * embeddings), so a reference set enters as its (unnormalised) centroid: the per-category
 * centroids of BeaverTails single-category prompts (detect/categories.ts), or one centroid of the
 * user's task data ("task" mode: one group, top-N by mean similarity to the task).
 * Categories are processed in the order given (default: pool category order); the pool's own
 * category labels are not used, except to restrict candidates when a category subset is given.
 */
import { dotRowsMulti } from '../embed/vecmath';
import { type CommonOptions, Picker, type SelectionPool, type SelectionResult, budgetCount, categoryMask, eligibleIndices } from './common';

export type CossimReference =
  /** C × dim centroids aligned with `pool.categories` (all of them, in order). */
  | { kind: 'categories'; centroids: Float32Array }
  /** Mean of the task-data embeddings (dim). */
  | { kind: 'task'; centroid: Float32Array };

export function selectCossim(pool: SelectionPool, opts: CommonOptions & { t1Only?: boolean; reference: CossimReference }): SelectionResult {
  if (!pool.embeddings || !pool.dim) throw new Error('Cossim needs embeddings for the pool');
  const dim = pool.dim;
  const seed = opts.seed ?? 0;
  const n = budgetCount(opts.budget);
  const eligible = eligibleIndices(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: !!opts.t1Only });
  const picker = new Picker(pool, n);
  let groups: number[];
  let names: string[];
  let centroids: Float32Array;
  if (opts.reference.kind === 'task') {
    if (opts.reference.centroid.length !== dim) throw new Error(`task centroid has ${opts.reference.centroid.length} dims, pool ${dim}`);
    groups = [0];
    names = ['task'];
    centroids = opts.reference.centroid;
  } else {
    if (opts.reference.centroids.length !== pool.categories.length * dim) throw new Error(`expected ${pool.categories.length} × ${dim} category centroids`);
    const { ids } = categoryMask(pool, opts.categories);
    groups = ids;
    names = ids.map((c) => pool.categories[c]!);
    centroids = new Float32Array(ids.length * dim);
    ids.forEach((c, g) => centroids.set((opts.reference as { centroids: Float32Array }).centroids.subarray(c * dim, (c + 1) * dim), g * dim));
  }
  const G = groups.length;
  const scores = dotRowsMulti(pool.embeddings, dim, centroids, eligible); // eligible.length × G
  const k = Math.max(1, Math.floor(n / G));
  const byScore = (g: number) => Int32Array.from(eligible.keys()).sort((a, b) => scores[b * G + g]! - scores[a * G + g]! || eligible[a]! - eligible[b]!);
  for (let g = 0; g < G && !picker.full; g++) {
    const ord = byScore(g);
    let taken = 0;
    for (let t = 0; t < ord.length && taken < k; t++) {
      if (picker.take(eligible[ord[t]!]!, 'stratum', names[g]!, scores[ord[t]! * G + g]!)) taken++;
    }
  }
  if (!picker.full) {
    const best = new Float32Array(eligible.length);
    for (let r = 0; r < eligible.length; r++) {
      let m = -Infinity;
      for (let g = 0; g < G; g++) m = Math.max(m, scores[r * G + g]!);
      best[r] = m;
    }
    const ord = Int32Array.from(eligible.keys()).sort((a, b) => best[b]! - best[a]! || eligible[a]! - eligible[b]!);
    for (let t = 0; t < ord.length && !picker.full; t++) picker.take(eligible[ord[t]!]!, 'fill', null, best[ord[t]!]!);
  }
  return picker.result(opts.t1Only ? 'cossim-b' : 'cossim', seed, eligible.length, names, k);
}
