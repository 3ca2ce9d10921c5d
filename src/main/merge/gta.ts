/**
 * Generalized task arithmetic, mergekit's core of task_arithmetic, TIES and DARE: per tensor, the
 * task vectors τᵢ = modelᵢ − base are sparsified (none, top-k magnitude, or random drop), weighted
 * (wᵢ·τᵢ), combined — summed, or with TIES' sign election keeping only the entries whose sign
 * agrees with the sign of Σ wᵢ·τᵢ (≥ 0 counts as +; a dropped zero never agrees) — divided by the
 * sum of the (agreeing) weights when `normalize`, scaled by lambda and added to the base.
 */
import type { TensorParams } from './params';
import { applyMagnitudeCut, dareMask, keptCount, l1Rescale, MagnitudeSelector, type MagnitudeCut } from './sparsify';
import type { EmitChunk, MergeMethodImpl, TensorInputs } from './types';

export interface GtaSpec {
  sparsify: 'none' | 'magnitude' | 'random';
  /** TIES' sign election */
  consensus: boolean;
}

interface Resolved {
  weights: number[];
  densities: number[];
  normalize: boolean;
  rescale: boolean;
  lambda: number;
  seed: number;
}

function resolve(p: TensorParams): Resolved {
  return {
    weights: p.perModel.map((m) => Number(m['weight'])),
    densities: p.perModel.map((m) => Number(m['density'] ?? 1)),
    normalize: Boolean(p.global['normalize']),
    rescale: Boolean(p.global['rescale']),
    lambda: Number(p.global['lambda'] ?? 1),
    seed: Number(p.global['seed'] ?? 0),
  };
}

/** Without a sign election, normalize divides by Σ weights: refuse a sum of (nearly) zero. */
function checkGta(spec: GtaSpec, p: TensorParams, numel: number, tensor: string): void {
  const r = resolve(p);
  if (!spec.consensus && r.normalize) {
    const sum = r.weights.reduce((a, b) => a + b, 0);
    if (Math.abs(sum) < 1e-8) throw new Error(`tensor ${tensor}: the weights (${r.weights.join(', ')}) sum to 0, so normalize cannot divide by them; change a weight or set normalize: false`);
  }
  if (spec.sparsify === 'magnitude')
    r.densities.forEach((d, i) => {
      if (d < 1 && keptCount(d, numel) === 0) throw new Error(`tensor ${tensor}: density ${d} keeps no entry of its ${numel} (model ${i + 1}); raise the density`);
    });
}

/** The task vector x − base of one chunk, written into `tv` (which may be x itself). */
function taskVector(tv: Float32Array, x: Float32Array, base: Float32Array): Float32Array {
  const out = tv.subarray(0, x.length);
  for (let j = 0; j < x.length; j++) out[j] = x[j]! - base[j]!;
  return out;
}

/** Top-k cuts for the models with density < 1 (two streaming passes; one when no ties need resolving). */
function magnitudeCuts(inp: TensorInputs, r: Resolved): (MagnitudeCut | null)[] {
  const trimmed = r.densities.map((d, m) => (d < 1 ? m : -1)).filter((m) => m >= 0);
  const cuts: (MagnitudeCut | null)[] = r.densities.map(() => null);
  if (!trimmed.length) return cuts;
  const sel = new MagnitudeSelector(
    trimmed.map((m) => keptCount(r.densities[m]!, inp.numel)),
    r.rescale,
  );
  const tv = inp.scratch();
  inp.forEachChunk((_s, base, xs) => trimmed.forEach((m, k) => sel.pass1(k, taskVector(tv, xs[m]!, base!))));
  sel.endPass1();
  if (sel.needsPass2) {
    inp.forEachChunk((_s, base, xs) => trimmed.forEach((m, k) => sel.pass2(k, taskVector(tv, xs[m]!, base!))));
    sel.endPass2();
  }
  trimmed.forEach((m, k) => (cuts[m] = sel.cuts[k]!));
  return cuts;
}

/** DARE's L1 rescale factor per model (one pass drawing the same masks the merge will draw). */
function dareScales(inp: TensorInputs, r: Resolved, seedKey: number): number[] {
  const scales = r.densities.map(() => 1);
  const dropped = r.densities.map((d, m) => (d < 1 ? m : -1)).filter((m) => m >= 0);
  if (!r.rescale || !dropped.length) return scales;
  const l1 = dropped.map(() => 0);
  const kept = dropped.map(() => 0);
  const tv = inp.scratch();
  const mask = inp.mask();
  inp.forEachChunk((start, base, xs) =>
    dropped.forEach((m, k) => {
      const t = taskVector(tv, xs[m]!, base!);
      const mk = mask.subarray(0, t.length);
      dareMask(r.seed, seedKey, m, r.densities[m]!, start, mk);
      let a = 0;
      let b = 0;
      for (let j = 0; j < t.length; j++) {
        const v = Math.abs(t[j]!);
        a += v;
        if (mk[j]) b += v;
      }
      l1[k]! += a;
      kept[k]! += b;
    }),
  );
  dropped.forEach((m, k) => (scales[m] = l1Rescale(l1[k]!, kept[k]!)));
  return scales;
}

function mergeGta(spec: GtaSpec, inp: TensorInputs, p: TensorParams, emit: EmitChunk, seedKey: number): void {
  const r = resolve(p);
  const n = inp.count;
  const cuts = spec.sparsify === 'magnitude' ? magnitudeCuts(inp, r) : r.densities.map(() => null);
  const scales = spec.sparsify === 'magnitude' ? cuts.map((c) => (c && r.rescale ? l1Rescale(c.l1, c.keptL1) : 1)) : spec.sparsify === 'random' ? dareScales(inp, r, seedKey) : r.densities.map(() => 1);
  const tieState = r.densities.map(() => ({ tiesUsed: 0 }));
  const sumW = r.weights.reduce((a, b) => a + b, 0);
  const factor = (r.normalize ? 1 / (Math.abs(sumW) < 1e-8 ? 1 : sumW) : 1) * r.lambda;
  // the last pass turns each model's chunk into its weighted, sparsified task vector in place and
  // writes the merged values over the base's chunk
  inp.forEachChunk((start, base, xs) => {
    const b = base!;
    const len = b.length;
    for (let m = 0; m < n; m++) {
      const t = taskVector(xs[m] as Float32Array, xs[m]!, b);
      const w = r.weights[m]!;
      if (spec.sparsify === 'magnitude' && cuts[m]) applyMagnitudeCut(t, cuts[m]!, scales[m]! * w, tieState[m]!);
      else if (spec.sparsify === 'random' && r.densities[m]! < 1) {
        const mk = inp.mask().subarray(0, len);
        dareMask(r.seed, seedKey, m, r.densities[m]!, start, mk);
        const s = scales[m]! * w;
        for (let j = 0; j < len; j++) t[j] = mk[j] ? t[j]! * s : 0;
      } else for (let j = 0; j < len; j++) t[j]! *= w;
    }
    if (spec.consensus) combineTies(xs, r.weights, b, r.normalize, r.lambda);
    else
      for (let j = 0; j < len; j++) {
        let s = 0;
        for (let m = 0; m < n; m++) s += xs[m]![j]!;
        b[j] = b[j]! + s * factor;
      }
    emit(start, b);
  }, true);
}

/** TIES' sign election and disjoint mean for one chunk, written over the base's values. */
function combineTies(wtv: readonly Float32Array[], weights: number[], base: Float32Array, normalize: boolean, lambda: number): void {
  const n = wtv.length;
  for (let j = 0; j < base.length; j++) {
    let s = 0;
    for (let m = 0; m < n; m++) s += wtv[m]![j]!;
    const positive = s >= 0;
    let mixed = 0;
    let div = 0;
    for (let m = 0; m < n; m++) {
      const v = wtv[m]![j]!;
      if (positive ? v > 0 : v < 0) {
        mixed += v;
        div += weights[m]!;
      }
    }
    if (normalize) mixed /= div === 0 ? 1 : div;
    base[j] = base[j]! + mixed * lambda;
  }
}

/** A generalized-task-arithmetic method. */
export function gtaMethod(spec: GtaSpec): MergeMethodImpl {
  return {
    usesBase: true,
    check: (p, numel, tensor) => checkGta(spec, p, numel, tensor),
    merge: (inp, p, emit, seedKey) => mergeGta(spec, inp, p, emit, seedKey),
  };
}
