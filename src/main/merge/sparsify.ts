/**
 * Sparsification of task vectors, as mergekit's sparsify.py defines it, computed over a tensor
 * streamed in chunks:
 *
 * - magnitude (TIES): keep the k = floor(density · numel) entries of largest |value|. The k-th
 *   largest magnitude is found exactly by a two-level radix select on the float bits of |value|
 *   (a histogram of the high 16 bits, then of the low 16 bits inside the chosen bin); entries equal
 *   to the threshold are kept in index order (a stable descending sort). With `rescale`, the kept
 *   entries are scaled to the task vector's original L1 norm.
 * - random (DARE): keep each entry with probability density (Bernoulli), then with `rescale` scale to
 *   the original L1 norm (mergekit's default for DARE; not 1/density). The draws come from a
 *   mulberry32 stream per block of 4096 entries seeded by (seed, tensor, model, block), so a merge
 *   is reproducible whatever the chunking or the order tensors are processed in.
 */
import { mulberry32 } from '../util/prng';

const ABS = 0x7fffffff;

/** The magnitude threshold of one task vector: keep |x| bits > `above`, and the first `ties` entries equal to `at`. */
export interface MagnitudeCut {
  /** keep entries whose |x| bits exceed this (as uint32) */
  above: number;
  /** … and the first `ties` entries (in index order) whose |x| bits equal `at` */
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

/**
 * Streaming exact top-k by magnitude for several task vectors at once. Feed every chunk to pass1,
 * call endPass1, feed every chunk again to pass2 (skipped when `needsPass2` is false), then read
 * `cuts`.
 */
export class MagnitudeSelector {
  private readonly hi: Uint32Array[];
  private readonly lo: Uint32Array[];
  private readonly loSum: Float64Array[];
  private readonly bin: number[];
  private readonly need: number[];
  private readonly aboveSum: number[];
  private readonly l1: number[];
  readonly cuts: MagnitudeCut[] = [];
  needsPass2 = false;

  constructor(
    private readonly k: number[],
    private readonly wantL1: boolean,
  ) {
    this.hi = k.map(() => new Uint32Array(1 << 15));
    this.lo = k.map(() => new Uint32Array(1 << 16));
    this.loSum = k.map(() => (wantL1 ? new Float64Array(1 << 16) : new Float64Array(0)));
    this.bin = k.map(() => 0);
    this.need = k.map(() => 0);
    this.aboveSum = k.map(() => 0);
    this.l1 = k.map(() => 0);
  }

  /** Histogram of the high bits of |tv| for model m (tv: the task vector's values for one chunk). */
  pass1(m: number, tv: Float32Array): void {
    const bits = new Uint32Array(tv.buffer, tv.byteOffset, tv.length);
    const h = this.hi[m]!;
    for (let i = 0; i < bits.length; i++) h[(bits[i]! & ABS) >>> 16]!++;
    if (this.wantL1) {
      let s = 0;
      for (let i = 0; i < tv.length; i++) s += Math.abs(tv[i]!);
      this.l1[m]! += s;
    }
  }

  endPass1(): void {
    this.k.forEach((k, m) => {
      const h = this.hi[m]!;
      let above = 0;
      let b = h.length - 1;
      for (; b > 0 && above + h[b]! < k; b--) above += h[b]!;
      this.bin[m] = b;
      this.need[m] = k - above;
      // the whole bin is kept: no second pass for this model
      if (above + h[b]! === k) this.cuts[m] = { above: ((b << 16) >>> 0) - 1, at: 0, ties: 0, l1: this.l1[m]!, keptL1: NaN };
      else this.needsPass2 = true;
    });
    if (this.wantL1) this.needsPass2 = true;
  }

  /** Histogram of the low bits inside the chosen bin (and the L1 of the entries above it). */
  pass2(m: number, tv: Float32Array): void {
    const bits = new Uint32Array(tv.buffer, tv.byteOffset, tv.length);
    const b = this.bin[m]!;
    const lo = this.lo[m]!;
    if (!this.wantL1) {
      for (let i = 0; i < bits.length; i++) {
        const a = bits[i]! & ABS;
        if (a >>> 16 === b) lo[a & 0xffff]!++;
      }
      return;
    }
    const sums = this.loSum[m]!;
    let above = 0;
    for (let i = 0; i < bits.length; i++) {
      const a = bits[i]! & ABS;
      const hb = a >>> 16;
      if (hb > b) above += Math.abs(tv[i]!);
      else if (hb === b) {
        lo[a & 0xffff]!++;
        sums[a & 0xffff]! += Math.abs(tv[i]!);
      }
    }
    this.aboveSum[m]! += above;
  }

  endPass2(): void {
    this.k.forEach((_, m) => {
      const lo = this.lo[m]!;
      const sums = this.loSum[m]!;
      const b = this.bin[m]!;
      const need = this.need[m]!;
      let above = 0;
      let keptL1 = this.aboveSum[m]!;
      let j = lo.length - 1;
      for (; j > 0 && above + lo[j]! < need; j--) {
        above += lo[j]!;
        if (this.wantL1) keptL1 += sums[j]!;
      }
      const at = ((b << 16) | j) >>> 0;
      const ties = need - above;
      if (this.wantL1) keptL1 += ties * (lo[j] ? sums[j]! / lo[j]! : 0);
      const prev = this.cuts[m];
      this.cuts[m] = prev && !this.wantL1 ? prev : { above: at, at, ties, l1: this.l1[m]!, keptL1 };
    });
  }
}

/** Apply a magnitude cut to one chunk of a task vector in place (kept entries scaled by `scale`); `state.tiesUsed` carries across chunks. */
export function applyMagnitudeCut(tv: Float32Array, cut: MagnitudeCut, scale: number, state: { tiesUsed: number }): void {
  const bits = new Uint32Array(tv.buffer, tv.byteOffset, tv.length);
  const above = cut.above;
  const at = cut.at;
  let left = cut.ties - state.tiesUsed;
  for (let i = 0; i < tv.length; i++) {
    const a = (bits[i]! & ABS) >>> 0;
    if (a > above) tv[i]! *= scale;
    else if (a === at && left > 0) {
      left--;
      tv[i]! *= scale;
    } else tv[i] = 0;
  }
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
  let i = 0;
  let pos = start;
  while (i < out.length) {
    const block = Math.floor(pos / DARE_BLOCK);
    const rand = mulberry32(blockSeed(seed, tensorHash, model, block));
    const skip = pos - block * DARE_BLOCK;
    for (let s = 0; s < skip; s++) rand();
    const end = Math.min(out.length, i + DARE_BLOCK - skip);
    for (; i < end; i++) out[i] = rand() < density ? 1 : 0;
    pos = start + i;
  }
}
