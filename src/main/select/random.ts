/** Random: N examples uniformly from the (eligible) pool, without replacement. */
import { type CommonOptions, Picker, type Sampler, type SelectionPool, type SelectionResult, budgetCount, eligibleIndices, mulberry32 } from './common';

export function selectRandom(pool: SelectionPool, opts: CommonOptions): SelectionResult {
  const seed = opts.seed ?? 0;
  const n = budgetCount(opts.budget);
  const eligible = eligibleIndices(pool, opts.categories ? { categories: opts.categories } : {});
  const picker = new Picker(pool, n);
  picker.fillRandom(eligible, mulberry32(seed));
  return picker.result('random', seed, eligible.length, [], 0);
}

export const randomSampler: Sampler = {
  select: (pool, opts) => selectRandom(pool, opts),
};
