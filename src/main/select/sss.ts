/**
 * SSS, stratified safety sampling (Pham et al.): categories sorted smallest first;
 * k = floor(N / #categories); from each category draw k not-yet-chosen examples at random (all of
 * them if fewer remain); fill the rest of the budget uniformly at random. SSS-B: the same over
 * the T1 subset only.
 */
import {
  type CommonOptions,
  Picker,
  type Sampler,
  type SelectionPool,
  type SelectionResult,
  budgetCount,
  eligibleIndices,
  mulberry32,
  shuffleInPlace,
  strata,
} from './common';

export function selectSSS(pool: SelectionPool, opts: CommonOptions & { t1Only?: boolean }): SelectionResult {
  const seed = opts.seed ?? 0;
  const rng = mulberry32(seed);
  const n = budgetCount(opts.budget);
  const eligible = eligibleIndices(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only: !!opts.t1Only });
  const picker = new Picker(pool, n);
  const { order, members, k } = strata(pool, eligible, opts.categories, n);
  for (const c of order) {
    const cand = members.get(c)!.filter((i) => !picker.chosen[i]);
    shuffleInPlace(cand, rng);
    for (let t = 0; t < Math.min(k, cand.length); t++) picker.take(cand[t]!, 'stratum', pool.categories[c]!, null);
  }
  picker.fillRandom(eligible, rng);
  return picker.result(
    opts.t1Only ? 'sss-b' : 'sss',
    seed,
    eligible.length,
    order.map((c) => pool.categories[c]!),
    k,
  );
}

/** SSS, and SSS-B with t1Only. */
export const sssSampler: Sampler = {
  select: (pool, opts) => selectSSS(pool, opts),
};
