/**
 * linear (mergekit): the weighted sum Σ wᵢ·modelᵢ of every listed model, divided by Σ wᵢ when
 * `normalize` (default true). The base model takes part only when it is listed among the models.
 */
import type { TensorParams } from './params';
import type { MergeMethodImpl } from './types';

function weights(p: TensorParams): number[] {
  return p.perModel.map((m) => Number(m['weight']));
}

export const linear: MergeMethodImpl = {
  usesBase: false,
  check(p, _numel, tensor) {
    const w = weights(p);
    const sum = w.reduce((a, b) => a + b, 0);
    if (p.global['normalize'] && Math.abs(sum) < 1e-8)
      throw new Error(`tensor ${tensor}: the weights (${w.join(', ')}) sum to 0, so normalize cannot divide by them; change a weight or set normalize: false`);
  },
  merge(inp, p, emit) {
    const w = weights(p);
    const sum = w.reduce((a, b) => a + b, 0);
    const n = w.length;
    const scale = p.global['normalize'] ? 1 / sum : 1;
    // the last pass: the merged values are written over the first model's chunk
    inp.forEachChunk((start, _base, xs) => {
      const o = xs[0] as Float32Array;
      for (let j = 0; j < o.length; j++) {
        let s = 0;
        for (let m = 0; m < n; m++) s += w[m]! * xs[m]![j]!;
        o[j] = s * scale;
      }
      emit(start, o);
    }, true);
  },
};
