/**
 * magmax (MagMax, Marczak et al. 2024; not in mergekit): per entry, the task-vector value of
 * largest magnitude across the models (the first model's on a tie), times lambda, added to the base.
 */
import type { MergeMethodImpl } from './types';

export const magmax: MergeMethodImpl = {
  usesBase: true,
  merge(inp, p, emit) {
    const lambda = Number(p.global['lambda'] ?? 1);
    const n = inp.count;
    inp.forEachChunk((start, base, xs) => {
      const b = base!;
      for (let j = 0; j < b.length; j++) {
        const bj = b[j]!;
        let best = 0;
        let bestAbs = -1;
        for (let m = 0; m < n; m++) {
          const d = xs[m]![j]! - bj;
          const a = Math.abs(d);
          if (a > bestAbs) {
            best = d;
            bestAbs = a;
          }
        }
        b[j] = bj + lambda * best;
      }
      emit(start, b);
    }, true);
  },
};
