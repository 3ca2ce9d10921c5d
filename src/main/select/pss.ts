/**
 * PSS, prototypical safety sampling (Pham et al.): a category's prototype is the mean embedding of
 * its members; categories smallest first, take the k = floor(N / #categories) not-yet-chosen
 * members with the highest cosine similarity to the prototype; fill the rest at random.
 * PSS-B: the same over the T1 subset (prototypes from T1 members).
 * Embeddings are unit rows, so ranking by dot product with the (unnormalised) mean equals ranking
 * by cosine; the reported score is the cosine.
 */
import { dotRows, dotRowsMultiFast, meanRows, topKIndices, weightedRowSumsFast } from '../embed/vecmath';
import { type CommonOptions, Picker, type Sampler, type SelectionPool, type SelectionResult, budgetCount, eligibleIndices, mulberry32, strata } from './common';

export interface PSSOptions extends CommonOptions {
  t1Only?: boolean;
  /** Precomputed by pssPrecompute() (onnxruntime); computed here in JS when absent. */
  precomputed?: PSSPrecomputed;
}

/** Prototypes (C × dim, C = all pool categories) and every record's dot with each (n × C). */
export interface PSSPrecomputed {
  prototypes: Float32Array;
  scores: Float32Array;
}

/**
 * Prototypes and scores for all categories with onnxruntime's MatMul: prototype_c = mean of the
 * eligible members' embeddings (membership-weighted row sums), scores = embeddings · prototypesᵀ.
 */
export async function pssPrecompute(pool: SelectionPool, opts: { categories?: readonly string[]; t1Only?: boolean } = {}): Promise<PSSPrecomputed> {
  if (!pool.embeddings || !pool.dim) throw new Error('PSS needs embeddings for the pool');
  const C = pool.categories.length;
  const n = pool.size;
  const eligible = eligibleIndices(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: !!opts.t1Only });
  const counts = new Int32Array(C);
  for (const i of eligible) for (let c = 0; c < C; c++) if (pool.labels[i]! & (1 << c)) counts[c]!++;
  const w = new Float32Array(C * n);
  for (const i of eligible) for (let c = 0; c < C; c++) if (pool.labels[i]! & (1 << c)) w[c * n + i] = 1 / counts[c]!;
  const prototypes = await weightedRowSumsFast(w, C, pool.embeddings, pool.dim);
  const scores = await dotRowsMultiFast(pool.embeddings, pool.dim, prototypes, { backend: 'onnxruntime' });
  return { prototypes, scores };
}

export function selectPSS(pool: SelectionPool, opts: PSSOptions): SelectionResult {
  if (!pool.embeddings || !pool.dim) throw new Error('PSS needs embeddings for the pool');
  const emb = pool.embeddings;
  const dim = pool.dim;
  const seed = opts.seed ?? 0;
  const rng = mulberry32(seed);
  const n = budgetCount(opts.budget);
  const eligible = eligibleIndices(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: !!opts.t1Only });
  const picker = new Picker(pool, n);
  const { order, members, k } = strata(pool, eligible, opts.categories, n);
  for (const c of order) {
    const mem = members.get(c)!;
    const C = pool.categories.length;
    const proto = opts.precomputed ? opts.precomputed.prototypes.subarray(c * dim, (c + 1) * dim) : meanRows(emb, dim, mem);
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += proto[j]! * proto[j]!;
    norm = Math.sqrt(norm) || 1;
    const pre = opts.precomputed?.scores;
    let sims: Float32Array;
    if (pre) {
      sims = new Float32Array(mem.length);
      for (let t = 0; t < mem.length; t++) sims[t] = pre[mem[t]! * C + c]!;
    } else sims = dotRows(emb, dim, proto, mem);
    // The best k + (already chosen) members suffice (bounded heap, no full sort).
    const order2 = topKIndices(sims, k + picker.items.length);
    let taken = 0;
    for (let t = 0; t < order2.length && taken < k; t++) {
      const i = mem[order2[t]!]!;
      if (picker.take(i, 'stratum', pool.categories[c]!, sims[order2[t]!]! / norm)) taken++;
    }
  }
  picker.fillRandom(eligible, rng);
  return picker.result(
    opts.t1Only ? 'pss-b' : 'pss',
    seed,
    eligible.length,
    order.map((c) => pool.categories[c]!),
    k,
  );
}

/** PSS, and PSS-B with t1Only; selectAsync computes prototypes and similarities with onnxruntime. */
export const pssSampler: Sampler = {
  select: (pool, opts) => selectPSS(pool, opts),
  async selectAsync(pool, opts) {
    const precomputed = await pssPrecompute(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: opts.t1Only });
    return selectPSS(pool, { ...opts, precomputed });
  },
};
