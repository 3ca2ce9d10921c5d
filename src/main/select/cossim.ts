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
import { dotRowsMulti, dotRowsMultiFast, topKIndices } from '../embed/vecmath';
import {
  type CommonOptions,
  type CossimReference,
  Picker,
  type Sampler,
  type SelectionPool,
  type SelectionResult,
  budgetCount,
  categoryMask,
  eligibleIndices,
} from './common';

export type { CossimReference };

export interface CossimOptions extends CommonOptions {
  t1Only?: boolean;
  reference: CossimReference;
  /**
   * Scores of every pool record against the groups in use (pool.size × G, row-major; groups =
   * the task, or the selected categories in pool order), e.g. from cossimScores() which uses
   * onnxruntime. Computed here in JS when absent.
   */
  scores?: Float32Array;
}

/** The reference groups in use and their centroids (G × dim). */
export function cossimGroups(pool: SelectionPool, reference: CossimReference, categories?: readonly string[]): { names: string[]; centroids: Float32Array } {
  const dim = pool.dim!;
  if (reference.kind === 'task') {
    if (reference.centroid.length !== dim) throw new Error(`task centroid has ${reference.centroid.length} dims, pool ${dim}`);
    return { names: ['task'], centroids: reference.centroid };
  }
  if (reference.centroids.length !== pool.categories.length * dim) throw new Error(`expected ${pool.categories.length} × ${dim} category centroids`);
  // Categories without references (all-zero centroid) cannot rank anything: left out.
  const ids = categoryMask(pool, categories).ids.filter((c) => reference.centroids.subarray(c * dim, (c + 1) * dim).some((v) => v !== 0));
  const centroids = new Float32Array(ids.length * dim);
  ids.forEach((c, g) => centroids.set(reference.centroids.subarray(c * dim, (c + 1) * dim), g * dim));
  return { names: ids.map((c) => pool.categories[c]!), centroids };
}

/** Full-pool Cossim scores with onnxruntime's MatMul (pass as `scores`). */
export async function cossimScores(pool: SelectionPool, reference: CossimReference, categories?: readonly string[]): Promise<Float32Array> {
  if (!pool.embeddings || !pool.dim) throw new Error('Cossim needs embeddings for the pool');
  const { centroids } = cossimGroups(pool, reference, categories);
  return dotRowsMultiFast(pool.embeddings, pool.dim, centroids);
}

export function selectCossim(pool: SelectionPool, opts: CossimOptions): SelectionResult {
  if (!pool.embeddings || !pool.dim) throw new Error('Cossim needs embeddings for the pool');
  const dim = pool.dim;
  const seed = opts.seed ?? 0;
  const n = budgetCount(opts.budget);
  const eligible = eligibleIndices(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: !!opts.t1Only });
  const picker = new Picker(pool, n);
  const { names, centroids } = cossimGroups(pool, opts.reference, opts.categories);
  const G = names.length;
  let scores: Float32Array; // eligible.length × G
  if (opts.scores) {
    if (opts.scores.length !== pool.size * G) throw new Error(`scores: expected ${pool.size} × ${G} values`);
    scores = new Float32Array(eligible.length * G);
    for (let r = 0; r < eligible.length; r++) scores.set(opts.scores.subarray(eligible[r]! * G, (eligible[r]! + 1) * G), r * G);
  } else scores = dotRowsMulti(pool.embeddings, dim, centroids, eligible);
  const k = Math.max(1, Math.floor(n / G));
  // Only the best (k + already chosen) candidates of a group can be needed: a bounded heap
  // instead of sorting the whole pool per group.
  const E = eligible.length;
  for (let g = 0; g < G && !picker.full; g++) {
    const ord = topKIndices(scores, k + picker.items.length, { n: E, stride: G, offset: g });
    let taken = 0;
    for (let t = 0; t < ord.length && taken < k; t++) {
      if (picker.take(eligible[ord[t]!]!, 'stratum', names[g]!, scores[ord[t]! * G + g]!)) taken++;
    }
  }
  if (!picker.full) {
    const best = new Float32Array(E);
    for (let r = 0; r < E; r++) {
      let m = -Infinity;
      for (let g = 0; g < G; g++) m = Math.max(m, scores[r * G + g]!);
      best[r] = m;
    }
    const ord = topKIndices(best, picker.budget);
    for (let t = 0; t < ord.length && !picker.full; t++) picker.take(eligible[ord[t]!]!, 'fill', null, best[ord[t]!]!);
  }
  return picker.result(opts.t1Only ? 'cossim-b' : 'cossim', seed, eligible.length, names, k);
}

function needReference(opts: { reference?: CossimReference }): CossimReference {
  if (!opts.reference) throw new Error('Cossim needs a reference (category centroids or the task centroid)');
  return opts.reference;
}

/** Cossim, and Cossim-B with t1Only; selectAsync scores the pool against the reference with onnxruntime. */
export const cossimSampler: Sampler = {
  select: (pool, opts) => selectCossim(pool, { ...opts, reference: needReference(opts) }),
  async selectAsync(pool, opts) {
    const reference = needReference(opts);
    const scores = await cossimScores(pool, reference, opts.categories);
    return selectCossim(pool, { ...opts, reference, scores });
  },
};
