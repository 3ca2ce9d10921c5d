/** Deterministic subsets of a suite (`--limit N --seed S`). */
import { mulberry32 } from '../../util/prng';
import type { Suite, SuiteItem } from '../types';

/**
 * A deterministic subset: `limit` items chosen by a seeded shuffle (kept in suite order), or the
 * first `limit` when no seed is given. The same seed always picks the same items.
 */
export function subsetSuite(suite: Suite, limit: number, seed?: number): Suite {
  if (limit >= suite.items.length) return suite;
  let picked: SuiteItem[];
  if (seed === undefined) picked = suite.items.slice(0, limit);
  else {
    const rand = mulberry32(seed);
    const idx = suite.items.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    picked = idx
      .slice(0, limit)
      .sort((a, b) => a - b)
      .map((i) => suite.items[i]!);
  }
  return {
    ...suite,
    items: picked,
    notes: [...suite.notes, `subset: ${limit} of ${suite.items.length} items${seed === undefined ? ' (first)' : ` (seed ${seed})`}`],
  };
}
