/**
 * Sparsification of task vectors, as mergekit's sparsify.py defines it, computed over a tensor
 * streamed in chunks:
 *
 * - magnitude (TIES): keep the k = floor(density · numel) entries of largest |value|, entries equal
 *   to the threshold in index order (a stable descending sort). The k-th largest magnitude is found
 *   exactly in two cheap passes: a sample (short spans spread over the tensor) brackets it, then
 *   one pass counts the entries above the bracket and collects those inside it (a few per cent),
 *   whose sort gives the exact value. When the bracket misses (it should not), a two-level radix select on the float bits
 *   finds it in two more passes. With `rescale`, kept entries are scaled to the task vector's
 *   original L1 norm.
 * - random (DARE): keep each entry with probability density (Bernoulli), then with `rescale` scale to
 *   the original L1 norm (mergekit's default for DARE; not 1/density). The draws come from a
 *   mulberry32 stream per block of 4096 entries seeded by (seed, tensor, model, block), so a merge
 *   is reproducible whatever the chunking or the order tensors are processed in.
 *
 * Magnitudes are those of the float32 task vector x − base, as mergekit computes it on float32.
 */

import { l1Sums, topkCount, trim } from './wasmKernels';

const ABS = 0x7fffffff;

/** A one-value float32 box and its bits: how a kernel reads the bits of a value it just computed. */
const box = new Float32Array(1);
const boxBits = new Int32Array(box.buffer);
/** The float32 bits of a non-negative value, as an integer (ordered like the values). */
function floatBits(v: number): number {
  box[0] = v;
  return boxBits[0]!;
}

/** The magnitude threshold of one task vector: keep |τ| > `at`, and the first `ties` entries with |τ| = `at`. */
export interface MagnitudeCut {
  at: number;
  ties: number;
  /** L1 norm of the whole task vector and of its kept entries (for rescale) */
  l1: number;
  keptL1: number;
}

/** Number of entries magnitude sparsification keeps, as mergekit computes it (int(density × numel)). */
export function keptCount(density: number, numel: number): number {
  return Math.floor(density * numel);
}

/** Samples taken to bracket the threshold (every entry of a smaller tensor), in spans of SAMPLE_SPAN neighbours. */
const SAMPLES = 1 << 16;
const SAMPLE_SPAN = 32;

/** The value of rank `kth` (0 = smallest) of a[0..], by quickselect (reorders a). */
export function selectKth(a: Float32Array, kth: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (hi > lo) {
    // median of three as the pivot
    const mid = (lo + hi) >>> 1;
    let p = a[mid]!;
    const x = a[lo]!;
    const y = a[hi]!;
    if ((x <= p && p <= y) || (y <= p && p <= x)) void 0;
    else if ((p <= x && x <= y) || (y <= x && x <= p)) p = x;
    else p = y;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (a[i]! < p) i++;
      while (a[j]! > p) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i] = a[j]!;
        a[j] = t;
        i++;
        j--;
      }
    }
    if (kth <= j) hi = j;
    else if (kth >= i) lo = i;
    else return a[kth]!;
  }
  return a[kth]!;
}

/**
 * Exact top-k by magnitude for one task vector, streamed: call `sample` on every chunk (or
 * `sampleSpan` on spans read for sampling), then `count` on every chunk, then `resolve()`; null
 * means the bracket missed and `RadixSelector` must finish the job.
 */
export class BracketSelector {
  /** distance between the starts of two sampled spans */
  private readonly gap: number;
  private readonly sampled: Float32Array;
  private nSampled = 0;
  private lo = 0;
  private hi = Infinity;
  private above = 0;
  private aboveL1 = 0;
  private l1 = 0;
  private cand = new Float32Array(1024);
  private nCand = 0;
  private readonly maxCand: number;
  private overflow = false;

  /** `withL1`: also sum the L1 norms (whole and kept) that rescale needs */
  constructor(
    readonly k: number,
    readonly numel: number,
    private readonly withL1 = true,
  ) {
    const count = Math.min(numel, SAMPLES);
    this.gap = numel / Math.ceil(count / SAMPLE_SPAN);
    this.sampled = new Float32Array(count);
    this.maxCand = Math.max(4 * SAMPLES, Math.ceil(numel * 0.1));
  }

  /**
   * The sampled entries among [start, start + x.length): spans of SAMPLE_SPAN values starting at
   * floor(j · gap) (none of a tensor no larger than the sample: every entry is a candidate). Runs of neighbours rather
   * than single entries: a sample of a tensor in memory touches a few cache lines, not one per value.
   */
  sample(start: number, x: Float32Array, base: Float32Array): void {
    if (this.sampled.length === this.numel) return; // the bracket will be everything
    const end = start + x.length;
    for (let j = Math.max(0, Math.floor((start - SAMPLE_SPAN) / this.gap)); ; j++) {
      const s = Math.floor(j * this.gap);
      if (s >= end || this.nSampled >= this.sampled.length) return;
      const to = Math.min(end, s + SAMPLE_SPAN) - start;
      for (let i = Math.max(s, start) - start; i < to && this.nSampled < this.sampled.length; i++)
        this.sampled[this.nSampled++] = Math.abs(Math.fround(x[i]! - base[i]!));
    }
  }

  /** Samples it takes in all. */
  get samples(): number {
    return this.sampled.length;
  }

  /** Every entry of a span read for sampling (forEachSpan), as long as there is room. */
  sampleSpan(x: Float32Array, base: Float32Array): void {
    const n = Math.min(x.length, this.sampled.length - this.nSampled);
    for (let i = 0; i < n; i++) this.sampled[this.nSampled++] = Math.abs(Math.fround(x[i]! - base[i]!));
  }

  /** Bracket the k-th largest with a margin of 4 standard deviations of its rank in the sample (a miss falls back to radix select). */
  endSample(): void {
    if (this.sampled.length === this.numel) return; // a tensor no larger than the sample: the bracket is everything
    const s = this.sampled.subarray(0, this.nSampled);
    const n = s.length;
    const q = this.k / this.numel;
    const rank = q * n; // expected rank from the top
    const margin = 4 * Math.sqrt(n * q * (1 - q)) + 2;
    const top = Math.floor(rank - margin);
    const bottom = Math.ceil(rank + margin);
    // the first select leaves the values below its rank before it: the second searches only those
    const below = top > 0 ? n - top : n;
    if (top > 0) this.hi = selectKth(s, below);
    if (bottom < n) this.lo = selectKth(s.subarray(0, below), n - 1 - bottom);
  }

  /**
   * Count the entries above the bracket and keep those inside it (a few per cent): the merge's
   * hottest loop, a WebAssembly SIMD kernel comparing magnitudes as integers on the float bits (a
   * NaN counts as above, as its bits order it). The L1 sums (for rescale) are taken only when
   * asked for.
   */
  count(x: Float32Array, base: Float32Array): void {
    if (this.overflow) return;
    const hiBits = floatBits(this.hi);
    if (this.withL1) {
      const s = l1Sums(x, base, hiBits);
      this.l1 += s.l1;
      this.aboveL1 += s.aboveL1;
    }
    const { above, candidates } = topkCount(x, base, floatBits(this.lo), hiBits);
    this.above += above;
    this.keep(candidates);
  }

  /** Keep candidates; past maxCand, resolve() gives up and radix select takes over. */
  private keep(c: Float32Array): void {
    const n = this.nCand + c.length;
    if (n > this.maxCand) {
      this.overflow = true;
      return;
    }
    if (n > this.cand.length) {
      const grown = new Float32Array(Math.min(this.maxCand, Math.max(n, this.cand.length * 2)));
      grown.set(this.cand.subarray(0, this.nCand));
      this.cand = grown;
    }
    this.cand.set(c, this.nCand);
    this.nCand = n;
  }

  /** The cut, or null when the k-th largest fell outside the bracket. */
  resolve(): MagnitudeCut | null {
    const need = this.k - this.above;
    if (this.overflow || need < 1 || need > this.nCand) return null;
    const c = this.cand.subarray(0, this.nCand);
    const at = selectKth(c, c.length - need);
    const atBits = floatBits(at);
    const bits = new Int32Array(c.buffer, c.byteOffset, c.length);
    let keptL1 = this.aboveL1;
    let greater = 0;
    for (let i = 0; i < c.length; i++) {
      const g = (atBits - bits[i]!) >>> 31; // c[i] > at
      greater += g;
      keptL1 += g * c[i]!;
    }
    const ties = need - greater;
    return { at, ties, l1: this.l1, keptL1: keptL1 + ties * at };
  }
}

/**
 * The fallback: exact top-k by a two-level radix select on the float bits of |τ| (a histogram of
 * the high 16 bits, then of the low 16 bits inside the chosen bin), two streaming passes.
 */
export class RadixSelector {
  private readonly hi = new Uint32Array(1 << 15);
  private readonly lo = new Uint32Array(1 << 16);
  private readonly loSum = new Float64Array(1 << 16);
  private bin = 0;
  private need = 0;
  private aboveSum = 0;
  private l1 = 0;

  constructor(readonly k: number) {}

  /** Histogram of the high bits of |x − base| over one chunk. */
  pass1(x: Float32Array, base: Float32Array): void {
    const h = this.hi;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      box[0] = x[i]! - base[i]!;
      h[(boxBits[0]! & ABS) >>> 16]!++;
      s += Math.abs(box[0]!);
    }
    this.l1 += s;
  }

  endPass1(): void {
    const h = this.hi;
    let above = 0;
    let b = h.length - 1;
    for (; b > 0 && above + h[b]! < this.k; b--) above += h[b]!;
    this.bin = b;
    this.need = this.k - above;
  }

  /** Histogram of the low bits inside the chosen bin, and the L1 of the entries above it. */
  pass2(x: Float32Array, base: Float32Array): void {
    const b = this.bin;
    let above = 0;
    for (let i = 0; i < x.length; i++) {
      box[0] = x[i]! - base[i]!;
      const a = boxBits[0]! & ABS;
      const hb = a >>> 16;
      if (hb > b) above += Math.abs(box[0]!);
      else if (hb === b) {
        this.lo[a & 0xffff]!++;
        this.loSum[a & 0xffff]! += Math.abs(box[0]!);
      }
    }
    this.aboveSum += above;
  }

  resolve(): MagnitudeCut {
    const lo = this.lo;
    let above = 0;
    let keptL1 = this.aboveSum;
    let j = lo.length - 1;
    for (; j > 0 && above + lo[j]! < this.need; j--) {
      above += lo[j]!;
      keptL1 += this.loSum[j]!;
    }
    const ties = this.need - above;
    keptL1 += ties * (lo[j] ? this.loSum[j]! / lo[j]! : 0);
    const bits = new Uint32Array([((this.bin << 16) | j) >>> 0]);
    return { at: new Float32Array(bits.buffer)[0]!, ties, l1: this.l1, keptL1 };
  }
}

/**
 * Turn one chunk of a model into its trimmed, scaled task vector in place: x ← (x − base)·scale
 * where the cut keeps the entry, else 0. `state.tiesUsed` carries the threshold ties across chunks.
 */
export function applyMagnitudeCut(x: Float32Array, base: Float32Array, cut: MagnitudeCut, scale: number, state: { tiesUsed: number }): void {
  const left = trim(x, base, floatBits(cut.at), scale, cut.ties - state.tiesUsed);
  state.tiesUsed = cut.ties - left;
}

/** mergekit's rescale factor: the original L1 over the kept L1, or 1 when either is below 1e-7. */
export function l1Rescale(l1: number, keptL1: number): number {
  return l1 < 1e-7 || keptL1 < 1e-7 ? 1 : l1 / keptL1;
}

export const DARE_BLOCK = 4096;

/** 32-bit FNV-1a of a string (the tensor's part of a DARE seed). */
export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function blockSeed(seed: number, tensorHash: number, model: number, block: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ tensorHash;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ Math.imul(model + 1, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 16), 0x165667b1) ^ block;
  return (h ^ (h >>> 15)) >>> 0;
}

/**
 * DARE's keep mask for entries [start, start + out.length) of one task vector: out[i] = 1 with
 * probability density. The same (seed, tensor, model) always gives the same mask.
 */
export function dareMask(seed: number, tensorHash: number, model: number, density: number, start: number, out: Uint8Array): void {
  // mulberry32 (src/main/util/prng) inlined for its 32-bit output: keep ⇔ u / 2³² < density, compared
  // as 31-bit integers without a branch (about half the draws go each way)
  const threshold = Math.min(2 ** 31, Math.round(density * 2 ** 31));
  let i = 0;
  let pos = start;
  while (i < out.length) {
    const block = Math.floor(pos / DARE_BLOCK);
    let a = blockSeed(seed, tensorHash, model, block);
    const skip = pos - block * DARE_BLOCK;
    const end = Math.min(out.length, i + DARE_BLOCK - skip);
    for (let k = -skip; i < end; k++) {
      a = (a + 0x6d2b79f5) | 0;
      let t = Math.imul(a ^ (a >>> 15), a | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      const u = (t ^ (t >>> 14)) >>> 1;
      if (k >= 0) out[i++] = (u - threshold) >>> 31;
    }
    pos = start + i;
  }
}
