/**
 * PSS, prototypical safety sampling (Pham et al.): a category's prototype is the mean embedding of
 * its members; categories smallest first, take the k = floor(N / #categories) not-yet-chosen
 * members with the highest cosine similarity to the prototype; fill the rest at random.
 * PSS-B: the same over the T1 subset (prototypes from T1 members).
 * Embeddings are unit rows, so ranking by dot product with the (unnormalised) mean equals ranking
 * by cosine; the reported score is the cosine.
 */
import { dotRows, meanRows } from '../embed/vecmath';
import { type CommonOptions, Picker, type SelectionPool, type SelectionResult, budgetCount, eligibleIndices, mulberry32, strata } from './common';

export function selectPSS(pool: SelectionPool, opts: CommonOptions & { t1Only?: boolean }): SelectionResult {
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
    const proto = meanRows(emb, dim, mem);
    let norm = 0;
    for (let j = 0; j < dim; j++) norm += proto[j]! * proto[j]!;
    norm = Math.sqrt(norm) || 1;
    const sims = dotRows(emb, dim, proto, mem);
    const order2 = Int32Array.from(mem.keys()).sort((a, b) => sims[b]! - sims[a]! || mem[a]! - mem[b]!);
    let taken = 0;
    for (let t = 0; t < order2.length && taken < k; t++) {
      const i = mem[order2[t]!]!;
      if (picker.take(i, 'stratum', pool.categories[c]!, sims[order2[t]!]! / norm)) taken++;
    }
  }
  picker.fillRandom(eligible, rng);
  return picker.result(opts.t1Only ? 'pss-b' : 'pss', seed, eligible.length, order.map((c) => pool.categories[c]!), k);
}
