/**
 * slerp (mergekit): per tensor, spherical interpolation from the base (v0) to the other model (v1)
 * at `t`: with the tensors' directions v̂ = v / ‖v‖ (left as is when ‖v‖ ≤ 1e-8) and
 * dot = Σ v̂0·v̂1, the result is sin((1−t)θ)/sin θ · v0 + sin(tθ)/sin θ · v1 with θ = acos(dot),
 * applied to the original (unnormalised) tensors; when |dot| > 0.9995 the tensors are nearly
 * collinear and it falls back to (1 − t)·v0 + t·v1.
 */
import type { MergeMethodImpl } from './types';

export const DOT_THRESHOLD = 0.9995;
const EPS = 1e-8;

/** The two coefficients (of v0 and v1) slerp applies, from the tensors' squared norms and dot product. */
export function slerpCoefficients(t: number, n0sq: number, n1sq: number, dot01: number): { s0: number; s1: number; collinear: boolean } {
  const n0 = Math.sqrt(n0sq);
  const n1 = Math.sqrt(n1sq);
  const dot = dot01 * (n0 > EPS ? 1 / n0 : 1) * (n1 > EPS ? 1 / n1 : 1);
  if (Math.abs(dot) > DOT_THRESHOLD) return { s0: 1 - t, s1: t, collinear: true };
  const theta0 = Math.acos(dot);
  const sin0 = Math.sin(theta0);
  return { s0: Math.sin(theta0 - theta0 * t) / sin0, s1: Math.sin(theta0 * t) / sin0, collinear: false };
}

export const slerp: MergeMethodImpl = {
  usesBase: true,
  merge(inp, p, emit) {
    const t = Number(p.global['t']);
    let n0 = 0;
    let n1 = 0;
    let dot = 0;
    inp.forEachChunk((_s, base, xs) => {
      const a = base!;
      const b = xs[0]!;
      for (let j = 0; j < a.length; j++) {
        const x = a[j]!;
        const y = b[j]!;
        n0 += x * x;
        n1 += y * y;
        dot += x * y;
      }
    });
    const { s0, s1 } = slerpCoefficients(t, n0, n1, dot);
    inp.forEachChunk((start, base, xs) => {
      const a = base!;
      const b = xs[0]!;
      for (let j = 0; j < a.length; j++) a[j] = s0 * a[j]! + s1 * b[j]!;
      emit(start, a);
    }, true);
  },
};
