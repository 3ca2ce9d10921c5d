/**
 * The merge's WebAssembly SIMD kernels (src/main/merge/tiesKernels.wat) bit for bit against the
 * scalar JavaScript they replaced: fp16 decode on all 65,536 halves and encode on rounding ties,
 * subnormals, overflow, inf and NaN; the top-k count, trim and two-model sign election on random
 * data with signed zeros, threshold ties and NaN-free edge values, at lengths that are not whole
 * vectors, on arrays inside and outside the kernels' memory, with the values after an array's end
 * left as they were. A merge gives the kernels' memory back when it ends. And the committed module
 * is the .wat assembled (skipped when wabt is absent).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { assembleModuleSource, loadWabt, MODULE_PATH, WAT_PATH } from '../../../scripts/assembleKernels';
import { float32ToHalfBits, halfBitsToFloat32 } from '../../../src/main/engine/half';
import { BufferPool } from '../../../src/main/merge/chunks';
import { parseMergeYaml, runMerge } from '../../../src/main/merge';
import { decodeF16, encodeF16, kernelMemoryBytes, l1Sums, reserveSlots, slotView, ties2, topkCount, trim } from '../../../src/main/merge/wasmKernels';
import { mulberry32 } from '../../../src/main/util/prng';
import { repoRoot } from '../../helpers/shared';

const bitsOf = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
const f32 = new Float32Array(1);
const u32 = new Int32Array(f32.buffer);
const floatBits = (v: number) => ((f32[0] = v), u32[0]!);

/** Random task-vector-like data: fp16-quantised values, some zeros and −0, some exact repeats (threshold ties). */
function data(n: number, seed: number): Float32Array {
  const r = mulberry32(seed);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = r();
    x[i] = u < 0.05 ? 0 : u < 0.1 ? -0 : u < 0.2 ? (r() < 0.5 ? 0.25 : -0.25) : (r() - 0.5) * 2 ** Math.floor(r() * 20 - 10);
  }
  const q = new Uint16Array(n);
  float32ToHalfBits(x, q);
  return halfBitsToFloat32(q);
}

// --- the scalar code the kernels replaced (src/main/merge at 298d5bf), as references ---

function refCount(x: Float32Array, base: Float32Array, lo: number, hi: number) {
  const d = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) d[i] = x[i]! - base[i]!;
  const bits = new Int32Array(d.buffer);
  let above = 0;
  let l1 = 0;
  let aboveL1 = 0;
  const cand: number[] = [];
  for (let i = 0; i < x.length; i++) {
    const a = bits[i]! & 0x7fffffff;
    const g = (hi - a) >>> 31;
    above += g;
    if ((((a - lo) >>> 31) | g) === 0) cand.push(Math.abs(d[i]!));
    const fa = Math.abs(d[i]!);
    l1 += fa;
    aboveL1 += g * fa;
  }
  return { above, cand: Float32Array.from(cand), l1, aboveL1 };
}

function refTrim(x: Float32Array, base: Float32Array, atBits: number, scale: number, left: number): number {
  const bits = new Int32Array(x.buffer, x.byteOffset, x.length);
  for (let i = 0; i < x.length; i++) {
    x[i] = x[i]! - base[i]!;
    const a = bits[i]! & 0x7fffffff;
    if (a === atBits && left > 0) left--;
    else bits[i]! &= (atBits - a) >> 31;
    x[i]! *= scale;
  }
  return left;
}

function refTies2(a: Float32Array, c: Float32Array, base: Float32Array, f: number[]): void {
  const ab = new Int32Array(a.buffer, a.byteOffset, base.length);
  const cb = new Int32Array(c.buffer, c.byteOffset, base.length);
  for (let j = 0; j < base.length; j++) {
    const ia = ab[j]!;
    const ic = cb[j]!;
    const ma = ia & 0x7fffffff;
    const mc = ic & 0x7fffffff;
    const sa = ia >>> 31;
    const sc = ic >>> 31;
    const neg = (sa & ((mc - ma) >>> 31)) | (sc & ((ma - mc) >>> 31)) | (sa & sc & ((0 - ma) >>> 31));
    const ka = ((0 - ma) >>> 31) & ~(sa ^ neg);
    const kc = ((0 - mc) >>> 31) & ~(sc ^ neg);
    base[j] = base[j]! + (ka * a[j]! + kc * c[j]!) * f[ka | (kc << 1)]!;
  }
}

describe('fp16 kernels', () => {
  it('decode every half to the float32 the lookup table gives (NaN: the table’s quiet NaN)', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const want = halfBitsToFloat32(all);
    const got = new Float32Array(65536);
    decodeF16(new Uint8Array(all.buffer), got);
    expect(bitsOf(got)).toEqual(bitsOf(want));
    // unaligned bytes, an odd count
    const bytes = new Uint8Array(2 * 1001 + 1);
    bytes.set(new Uint8Array(all.buffer, 2 * 30000, 2 * 1001), 1);
    const odd = new Float32Array(1001);
    decodeF16(bytes.subarray(1), odd);
    expect(bitsOf(odd)).toEqual(bitsOf(want.subarray(30000, 31001)));
  });

  it('encode like the scalar rounding: ties to even, subnormals, overflow, ±inf and NaN', () => {
    const r = mulberry32(7);
    const u = new Uint32Array(200003);
    for (let i = 0; i < u.length; i++) u[i] = (r() * 2 ** 32) >>> 0;
    // every exponent near the half range, with mantissas on and beside the rounding ties
    let i = 0;
    for (let e = 90; e < 160 && i < 40000; e++)
      for (const m of [0, 1, 0xfff, 0x1000, 0x1001, 0x2000, 0x3000, 0x7fffff, 0x400000, 0x3fffff])
        for (const s of [0, 0x80000000]) u[i++] = (s | (e << 23) | m) >>> 0;
    u.set([0x7f800000, 0xff800000, 0x7fc00000, 0xffc00001, 0x7f800001, 0x47800000, 0x477fefff, 0x477ff000, 0x38800000, 0x387fffff, 0x33000000, 0x33000001], i);
    const src = new Float32Array(u.buffer);
    const want = float32ToHalfBits(src, new Uint16Array(src.length));
    const got = new Uint16Array(src.length);
    encodeF16(src, got);
    expect(got).toEqual(want);
  });
});

describe('TIES kernels', () => {
  const n = 40001; // not a whole number of vectors
  const base = data(n, 1);
  const x = data(n, 2);
  const c = data(n, 3);

  it('count above a bracket and collect the entries inside it, in index order, with the L1 sums', () => {
    for (const [lo, hi] of [
      [0, 0x7f800000],
      [floatBits(0.01), floatBits(0.25)],
      [floatBits(0.25), floatBits(0.25)],
      [floatBits(3), floatBits(4)],
    ] as const) {
      const want = refCount(x, base, lo, hi);
      const got = topkCount(x, base, lo, hi);
      expect(got.above).toBe(want.above);
      expect(bitsOf(got.candidates)).toEqual(bitsOf(want.cand));
      expect(l1Sums(x, base, hi)).toEqual({ l1: want.l1, aboveL1: want.aboveL1 });
    }
  });

  it('trim with the threshold’s ties in index order and scale in double precision', () => {
    for (const [at, scale, left] of [
      [floatBits(0.25), 1.2345678901, 100],
      [floatBits(0.25), -0.7, 0],
      [floatBits(0.25), 0.3, 1e9],
      [floatBits(0.001), 2 / 3, 5],
      [-1, 0.5, 0],
    ] as const) {
      const want = x.slice();
      const leftWant = refTrim(want, base, at, scale, left);
      // in pieces, a vector's worth and an odd end: the ties carry over
      const got = x.slice();
      let rest: number = left;
      for (const [s, e] of [
        [0, 4],
        [4, 1003],
        [1003, n],
      ])
        rest = trim(got.subarray(s, e), base.subarray(s, e), at, scale, rest);
      expect(rest).toBe(leftWant);
      expect(bitsOf(got)).toEqual(bitsOf(want));
    }
  });

  it('elect signs and take the disjoint mean of two models as the scalar code did', () => {
    const a = x.map((v, i) => (i % 97 === 0 ? -c[i]! : v)); // exact cancellations
    for (const f of [
      [1, 1, 2, 2 / 3],
      [0.5, 0.5, 1 / 0.3, -1.7],
    ]) {
      const want = base.slice();
      refTies2(a, c, want, f);
      const got = base.slice();
      ties2(a, c, got, f);
      expect(bitsOf(got)).toEqual(bitsOf(want));
    }
  });

  it('work in place on the merge’s chunk buffers and leave the values after an array’s end alone', () => {
    const pool = new BufferPool(1 << 16);
    pool.reserve(3, 5000);
    const [b, m, k] = [0, 1, 2].map((i) => slotView(i, 5000));
    b!.set(base.subarray(0, 5000));
    m!.set(x.subarray(0, 5000));
    k!.set(c.subarray(0, 5000));
    const want = x.slice(0, 5000);
    refTrim(want.subarray(0, 4999), base.subarray(0, 4999), floatBits(0.01), 0.9, 3);
    trim(m!.subarray(0, 4999), b!.subarray(0, 4999), floatBits(0.01), 0.9, 3);
    expect(bitsOf(m!)).toEqual(bitsOf(want)); // the last value untouched
    const wantB = base.slice(0, 5000);
    refTies2(want.subarray(0, 4997), c.subarray(0, 4997), wantB.subarray(0, 4997), [1, 2, 3, 4]);
    ties2(m!.subarray(0, 4997), k!.subarray(0, 4997), b!.subarray(0, 4997), [1, 2, 3, 4]);
    expect(bitsOf(b!)).toEqual(bitsOf(wantB));
    expect(m!.buffer).toBe(slotView(0, 1).buffer); // nothing grew the memory under the views
    reserveSlots(1, 10); // a smaller request keeps the layout
    expect(slotView(2, 5000).byteOffset).toBe(k!.byteOffset);
  });
});

describe('kernel memory', () => {
  it('a merge grows the memory for its chunks and gives it back when it ends (a memory never shrinks)', async () => {
    const fix = join(repoRoot, 'test', 'fixtures', 'merge');
    const { cases } = JSON.parse(readFileSync(join(fix, 'cases.json'), 'utf8')) as { cases: { name: string; yaml: string }[] };
    const c = cases.find((x) => x.name.startsWith('ties'))!;
    const tmp = mkdtempSync(join(tmpdir(), 'merge-mem-'));
    try {
      reserveSlots(3, 1 << 20); // memory left grown by earlier work on this thread
      expect(kernelMemoryBytes()).toBeGreaterThan(3 * 4 * (1 << 20));
      let during = 0;
      await runMerge(parseMergeYaml(c.yaml, 'ties.yml', fix), join(tmp, 'out'), {
        onProgress: () => (during = Math.max(during, kernelMemoryBytes())),
      });
      expect(during).toBeGreaterThan(0);
      expect(kernelMemoryBytes()).toBe(0);
      // the kernels work again afterwards, in a fresh memory
      const got = new Float32Array(3);
      decodeF16(new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800]).buffer), got);
      expect([...got]).toEqual([1, -2, 0.5]);
      expect(kernelMemoryBytes()).toBeLessThan(1 << 20);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('tiesKernelsWasm.ts', () => {
  it('is tiesKernels.wat assembled (scripts/assembleKernels.ts)', async (ctx) => {
    const wabt = await loadWabt();
    if (!wabt) {
      ctx.skip('wabt is not installed (npm i -D wabt, or WABT_MODULE=/path/to/wabt): the committed module is not checked against the .wat');
      return;
    }
    expect(readFileSync(MODULE_PATH, 'utf8')).toBe(assembleModuleSource(wabt, readFileSync(WAT_PATH, 'utf8')));
  });
});
