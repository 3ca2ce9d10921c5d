/**
 * Generalized task arithmetic, mergekit's core of task_arithmetic, TIES and DARE: per tensor, the
 * task vectors τᵢ = modelᵢ − base are sparsified (none, top-k magnitude, or random drop), weighted
 * (wᵢ·τᵢ), combined — summed, or with TIES' sign election keeping only the entries whose sign
 * agrees with the sign of Σ wᵢ·τᵢ (≥ 0 counts as +; a dropped zero never agrees) — divided by the
 * sum of the (agreeing) weights when `normalize`, scaled by lambda and added to the base.
 */
import type { TensorParams } from './params';
import { applyMagnitudeCut, BracketSelector, dareMask, keptCount, l1Rescale, RadixSelector, type MagnitudeCut } from './sparsify';
import type { EmitChunk, MergeMethodImpl, TensorInputs } from './types';
import { ties2 } from './wasmKernels';

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
    if (Math.abs(sum) < 1e-8)
      throw new Error(
        `tensor ${tensor}: the weights (${r.weights.join(', ')}) sum to 0, so normalize cannot divide by them; change a weight or set normalize: false`,
      );
  }
  if (spec.sparsify === 'magnitude')
    r.densities.forEach((d, i) => {
      if (d < 1 && keptCount(d, numel) === 0)
        throw new Error(`tensor ${tensor}: density ${d} keeps no entry of its ${numel} (model ${i + 1}); raise the density`);
    });
}

/** Top-k cuts for the models with density < 1: a sample (spans, or a pass), a counting pass (two more if a bracket misses). */
function magnitudeCuts(inp: TensorInputs, r: Resolved): (MagnitudeCut | null)[] {
  const trimmed = r.densities.map((d, m) => (d < 1 ? m : -1)).filter((m) => m >= 0);
  const cuts: (MagnitudeCut | null)[] = r.densities.map(() => null);
  if (!trimmed.length) return cuts;
  const sel = trimmed.map((m) => new BracketSelector(keptCount(r.densities[m]!, inp.numel), inp.numel, r.rescale));
  // a tensor larger than a chunk is sampled from short spans rather than read whole once more
  const spans = inp.forEachSpan?.(sel[0]!.samples, (_s, base, xs) => trimmed.forEach((m, k) => sel[k]!.sampleSpan(xs[m]!, base!)));
  if (!spans) inp.forEachChunk((start, base, xs) => trimmed.forEach((m, k) => sel[k]!.sample(start, xs[m]!, base!)));
  for (const x of sel) x.endSample();
  inp.forEachChunk((_s, base, xs) => trimmed.forEach((m, k) => sel[k]!.count(xs[m]!, base!)));
  const missed: number[] = [];
  trimmed.forEach((m, k) => {
    cuts[m] = sel[k]!.resolve();
    if (!cuts[m]) missed.push(m);
  });
  if (missed.length) {
    const radix = missed.map((m) => new RadixSelector(keptCount(r.densities[m]!, inp.numel)));
    inp.forEachChunk((_s, base, xs) => missed.forEach((m, k) => radix[k]!.pass1(xs[m]!, base!)));
    for (const x of radix) x.endPass1();
    inp.forEachChunk((_s, base, xs) => missed.forEach((m, k) => radix[k]!.pass2(xs[m]!, base!)));
    missed.forEach((m, k) => (cuts[m] = radix[k]!.resolve()));
  }
  return cuts;
}

/** DARE's L1 rescale factor per model (one pass drawing the same masks the merge will draw). */
function dareScales(inp: TensorInputs, r: Resolved, seedKey: number): number[] {
  const scales = r.densities.map(() => 1);
  const dropped = r.densities.map((d, m) => (d < 1 ? m : -1)).filter((m) => m >= 0);
  if (!r.rescale || !dropped.length) return scales;
  const l1 = dropped.map(() => 0);
  const kept = dropped.map(() => 0);
  const mask = inp.mask();
  inp.forEachChunk((start, base, xs) =>
    dropped.forEach((m, k) => {
      const x = xs[m]!;
      const bs = base!;
      const mk = mask.subarray(0, x.length);
      dareMask(r.seed, seedKey, m, r.densities[m]!, start, mk);
      let a = 0;
      let b = 0;
      for (let j = 0; j < x.length; j++) {
        const v = Math.abs(Math.fround(x[j]! - bs[j]!));
        a += v;
        b += v * mk[j]!;
      }
      l1[k]! += a;
      kept[k]! += b;
    }),
  );
  dropped.forEach((m, k) => (scales[m] = l1Rescale(l1[k]!, kept[k]!)));
  return scales;
}

/** Entries per block of the last pass (the block of every input stays in the second-level cache between its steps). */
const BLOCK = 16384;
/** combineTies2's factors by which models agree (none, a, c, both). */
const TIES2_FACTORS = new Float64Array(4);

function mergeGta(spec: GtaSpec, inp: TensorInputs, p: TensorParams, emit: EmitChunk, seedKey: number): void {
  const r = resolve(p);
  const n = inp.count;
  const cuts = spec.sparsify === 'magnitude' ? magnitudeCuts(inp, r) : r.densities.map(() => null);
  const scales =
    spec.sparsify === 'magnitude'
      ? cuts.map((c) => (c && r.rescale ? l1Rescale(c.l1, c.keptL1) : 1))
      : spec.sparsify === 'random'
        ? dareScales(inp, r, seedKey)
        : r.densities.map(() => 1);
  const tieState = r.densities.map(() => ({ tiesUsed: 0 }));
  const sumW = r.weights.reduce((a, b) => a + b, 0);
  const factor = (r.normalize ? 1 / (Math.abs(sumW) < 1e-8 ? 1 : sumW) : 1) * r.lambda;
  // the last pass turns each model's chunk into its weighted, sparsified task vector in place and
  // writes the merged values over the base's chunk, a block at a time (the block stays in cache
  // between the steps)
  inp.forEachChunk((start, base, xs) => {
    const len = base!.length;
    for (let at = 0; at < len; at += BLOCK) {
      const end = Math.min(len, at + BLOCK);
      const b = base!.subarray(at, end);
      const ms = xs.map((x) => x.subarray(at, end));
      for (let m = 0; m < n; m++) {
        const x = ms[m]!;
        const w = r.weights[m]!;
        if (spec.sparsify === 'magnitude' && cuts[m]) applyMagnitudeCut(x, b, cuts[m]!, scales[m]! * w, tieState[m]!);
        else if (spec.sparsify === 'random' && r.densities[m]! < 1) {
          const mk = inp.mask().subarray(0, x.length);
          dareMask(r.seed, seedKey, m, r.densities[m]!, start + at, mk);
          const s = scales[m]! * w;
          for (let j = 0; j < x.length; j++) x[j] = (x[j]! - b[j]!) * s * mk[j]!;
        } else for (let j = 0; j < x.length; j++) x[j] = (x[j]! - b[j]!) * w;
      }
      if (spec.consensus) combineTies(ms, r.weights, b, r.normalize, r.lambda);
      else sumInto(ms, b, factor);
    }
    emit(start, base!);
  }, true);
}

/** base += factor · Σ wtvᵢ (one and two models unrolled: the common cases). */
function sumInto(wtv: readonly Float32Array[], base: Float32Array, factor: number): void {
  const n = wtv.length;
  if (n === 1) {
    const a = wtv[0]!;
    for (let j = 0; j < base.length; j++) base[j] = base[j]! + a[j]! * factor;
  } else if (n === 2) {
    const a = wtv[0]!;
    const c = wtv[1]!;
    for (let j = 0; j < base.length; j++) base[j] = base[j]! + (a[j]! + c[j]!) * factor;
  } else
    for (let j = 0; j < base.length; j++) {
      let s = 0;
      for (let m = 0; m < n; m++) s += wtv[m]![j]!;
      base[j] = base[j]! + s * factor;
    }
}

/** TIES' sign election and disjoint mean for one chunk, written over the base's values. */
function combineTies(wtv: readonly Float32Array[], weights: number[], base: Float32Array, normalize: boolean, lambda: number): void {
  const n = wtv.length;
  if (n === 2) return combineTies2(wtv[0]!, wtv[1]!, weights[0]!, weights[1]!, base, normalize, lambda);
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

/**
 * combineTies for two models, on the float bits as integers (the elected sign and each entry's
 * agreement are unpredictable branches otherwise). The elected sign is that of the entry of larger
 * magnitude (of both when they agree; + when they cancel or are zero: −0 counts as ≥ 0, as in
 * mergekit); an entry agrees when it is nonzero and its sign bit is the elected one. Which of the
 * two agree picks one of four factors, lambda over the sum of the agreeing weights, computed once.
 * The loop is a WebAssembly SIMD kernel (wasmKernels.ts).
 */
function combineTies2(a: Float32Array, c: Float32Array, wa: number, wc: number, base: Float32Array, normalize: boolean, lambda: number): void {
  // no agreeing entry: the sum is 0 and the divisor 1 (mergekit's divisor[divisor == 0] = 1), as for weights that cancel
  const div = (w: number) => (normalize && w !== 0 ? w : 1);
  const factor = TIES2_FACTORS;
  factor[0] = lambda;
  factor[1] = lambda / div(wa);
  factor[2] = lambda / div(wc);
  factor[3] = lambda / div(wa + wc);
  ties2(a, c, base, factor);
}

/** A generalized-task-arithmetic method. */
export function gtaMethod(spec: GtaSpec): MergeMethodImpl {
  return {
    usesBase: true,
    check: (p, numel, tensor) => checkGta(spec, p, numel, tensor),
    merge: (inp, p, emit, seedKey) => mergeGta(spec, inp, p, emit, seedKey),
  };
}
