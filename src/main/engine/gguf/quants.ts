/**
 * ggml block quantisation formats: geometry, dequantisation and the reference quantizers.
 *
 * Dequantisation follows ggml's `dequantize_row_*` (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) bit for bit: every value is the same float32 ggml computes.
 * Quantisation follows ggml's `quantize_row_*_ref` (what `llama-quantize` writes without an
 * importance matrix) byte for byte: the float32 arithmetic of the C code is replayed with
 * Math.fround after every operation (a double result of one +, -, *, / or sqrt on two float32
 * values rounds to the same float32 as the float32 operation would), in the C code's order.
 * Both are checked against ggml itself (test/fixtures/engine/quants, made by make_quant_fixtures.py).
 */
import { floatToHalf, halfToFloat } from '../half';

/** ggml type codes of the block formats handled here (the full list is GGML_TYPE in reader.ts). */
export const QTYPE = {
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  IQ4_NL: 20,
  IQ4_XS: 23,
} as const;

export type QuantTypeName = keyof typeof QTYPE;

/** [elements per block, bytes per block] */
export const QUANT_BLOCK: Record<number, [number, number]> = {
  [QTYPE.Q4_0]: [32, 18],
  [QTYPE.Q4_1]: [32, 20],
  [QTYPE.Q5_0]: [32, 22],
  [QTYPE.Q5_1]: [32, 24],
  [QTYPE.Q8_0]: [32, 34],
  [QTYPE.Q2_K]: [256, 84],
  [QTYPE.Q3_K]: [256, 110],
  [QTYPE.Q4_K]: [256, 144],
  [QTYPE.Q5_K]: [256, 176],
  [QTYPE.Q6_K]: [256, 210],
  [QTYPE.IQ4_NL]: [32, 18],
  [QTYPE.IQ4_XS]: [256, 136],
};

/** Types the reference quantizers here can write. */
export const QUANTIZABLE: readonly number[] = [
  QTYPE.Q4_0,
  QTYPE.Q4_1,
  QTYPE.Q5_0,
  QTYPE.Q5_1,
  QTYPE.Q8_0,
  QTYPE.Q2_K,
  QTYPE.Q3_K,
  QTYPE.Q4_K,
  QTYPE.Q5_K,
  QTYPE.Q6_K,
];

const NAME: Record<number, string> = Object.fromEntries(Object.entries(QTYPE).map(([k, v]) => [v, k]));

export function quantTypeName(type: number): string {
  return NAME[type] ?? `type${type}`;
}

export function isBlockQuant(type: number): boolean {
  return QUANT_BLOCK[type] !== undefined;
}

/** Bytes of `n` elements stored as `type` (n a multiple of the block size). */
export function quantBytes(type: number, n: number): number {
  const b = QUANT_BLOCK[type];
  if (!b) throw new Error(`not a block quantisation type: ${quantTypeName(type)}`);
  if (n % b[0]) throw new Error(`${quantTypeName(type)}: ${n} elements is not a multiple of its block size ${b[0]}`);
  return (n / b[0]) * b[1];
}

const f = Math.fround;

/** IQ4_NL / IQ4_XS code book (ggml's kvalues_iq4nl). */
export const IQ4_VALUES = Int8Array.from([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]);

/** ggml's nearest_int: round half to even of a float32 (|x| < 2^22), through the 1.5·2^23 trick. */
function nearestInt(x: number): number {
  return f(x + 12582912) - 12582912;
}

/** C roundf: half away from zero. */
function roundf(x: number): number {
  return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5);
}

const h2f = (b: Uint8Array, o: number) => halfToFloat(b[o]! | (b[o + 1]! << 8));
function putHalf(b: Uint8Array, o: number, v: number): void {
  const h = floatToHalf(v);
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

// ---------------------------------------------------------------------------------------------
// dequantisation

/** Dequantise `n` elements of `type` blocks to float32 (ggml's dequantize_row_*). */
export function dequantizeBlocks(type: number, b: Uint8Array, n: number, out: Float32Array = new Float32Array(n)): Float32Array {
  const geo = QUANT_BLOCK[type];
  if (!geo) throw new Error(`unsupported ggml type ${quantTypeName(type)}`);
  const [bs, bb] = geo;
  if (n % bs) throw new Error(`${quantTypeName(type)}: ${n} elements is not a multiple of its block size ${bs}`);
  if (b.length < (n / bs) * bb) throw new Error(`${quantTypeName(type)}: ${b.length} bytes hold fewer than ${n} elements`);
  const deq = DEQUANT[type]!;
  for (let blk = 0; blk < n / bs; blk++) deq(b, blk * bb, out, blk * bs);
  return out;
}

type BlockDequant = (b: Uint8Array, o: number, y: Float32Array, yo: number) => void;

/** The 6-bit scale and min of sub-block j of a Q4_K / Q5_K block (ggml's get_scale_min_k4). */
function scaleMinK4(j: number, q: Uint8Array, o: number): [number, number] {
  if (j < 4) return [q[o + j]! & 63, q[o + j + 4]! & 63];
  return [(q[o + j + 4]! & 0xf) | ((q[o + j - 4]! >> 6) << 4), (q[o + j + 4]! >> 4) | ((q[o + j]! >> 6) << 4)];
}

/** The sixteen signed 6-bit scales of a Q3_K block (ggml's aux/kmask unpacking), each already minus 32. */
function q3kScales(b: Uint8Array, so: number): Int8Array {
  const s = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? b[so + j]! & 0xf : b[so + j - 8]! >> 4;
    const high = (b[so + 8 + (j % 4)]! >> (2 * Math.floor(j / 4))) & 3;
    s[j] = (low | (high << 4)) - 32;
  }
  return s;
}

const DEQUANT: Record<number, BlockDequant> = {
  [QTYPE.Q4_0]: (b, o, y, yo) => {
    const d = h2f(b, o);
    for (let j = 0; j < 16; j++) {
      y[yo + j] = ((b[o + 2 + j]! & 0xf) - 8) * d;
      y[yo + j + 16] = ((b[o + 2 + j]! >> 4) - 8) * d;
    }
  },
  [QTYPE.Q4_1]: (b, o, y, yo) => {
    const d = h2f(b, o);
    const m = h2f(b, o + 2);
    for (let j = 0; j < 16; j++) {
      y[yo + j] = f((b[o + 4 + j]! & 0xf) * d) + m;
      y[yo + j + 16] = f((b[o + 4 + j]! >> 4) * d) + m;
    }
  },
  [QTYPE.Q5_0]: (b, o, y, yo) => {
    const d = h2f(b, o);
    const qh = (b[o + 2]! | (b[o + 3]! << 8) | (b[o + 4]! << 16) | (b[o + 5]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = (((b[o + 6 + j]! & 0xf) | xh0) - 16) * d;
      y[yo + j + 16] = (((b[o + 6 + j]! >> 4) | xh1) - 16) * d;
    }
  },
  [QTYPE.Q5_1]: (b, o, y, yo) => {
    const d = h2f(b, o);
    const m = h2f(b, o + 2);
    const qh = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const xh0 = ((qh >>> j) << 4) & 0x10;
      const xh1 = (qh >>> (j + 12)) & 0x10;
      y[yo + j] = f(((b[o + 8 + j]! & 0xf) | xh0) * d) + m;
      y[yo + j + 16] = f(((b[o + 8 + j]! >> 4) | xh1) * d) + m;
    }
  },
  [QTYPE.Q8_0]: (b, o, y, yo) => {
    const d = h2f(b, o);
    for (let j = 0; j < 32; j++) y[yo + j] = ((b[o + 2 + j]! << 24) >> 24) * d;
  },
  [QTYPE.Q2_K]: (b, o, y, yo) => {
    // scales[16] qs[64] d dmin
    const d = h2f(b, o + 80);
    const min = h2f(b, o + 82);
    let is = 0;
    let k = yo;
    for (let n = 0; n < 2; n++) {
      const q = o + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2)
        for (const half of [0, 16]) {
          const sc = b[o + is++]!;
          const dl = f(d * (sc & 0xf));
          const ml = f(min * (sc >> 4));
          for (let l = 0; l < 16; l++) y[k++] = f(dl * ((b[q + l + half]! >> shift) & 3)) - ml;
        }
    }
  },
  [QTYPE.Q3_K]: (b, o, y, yo) => {
    // hmask[32] qs[64] scales[12] d
    const dAll = h2f(b, o + 108);
    const sc = q3kScales(b, o + 96);
    let is = 0;
    let k = yo;
    let m = 1;
    for (let n = 0; n < 2; n++) {
      const q = o + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (const half of [0, 16]) {
          const dl = f(dAll * sc[is++]!);
          for (let l = 0; l < 16; l++) y[k++] = dl * (((b[q + l + half]! >> shift) & 3) - (b[o + l + half]! & m ? 0 : 4));
        }
        m <<= 1;
      }
    }
  },
  [QTYPE.Q4_K]: (b, o, y, yo) => {
    // d dmin scales[12] qs[128]
    const d = h2f(b, o);
    const min = h2f(b, o + 2);
    let k = yo;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1s] = scaleMinK4(2 * j, b, o + 4);
      const [sc2, m2s] = scaleMinK4(2 * j + 1, b, o + 4);
      const d1 = f(d * sc1);
      const m1 = f(min * m1s);
      const d2 = f(d * sc2);
      const m2 = f(min * m2s);
      const q = o + 16 + j * 32;
      for (let l = 0; l < 32; l++) y[k++] = f(d1 * (b[q + l]! & 0xf)) - m1;
      for (let l = 0; l < 32; l++) y[k++] = f(d2 * (b[q + l]! >> 4)) - m2;
    }
  },
  [QTYPE.Q5_K]: (b, o, y, yo) => {
    // d dmin scales[12] qh[32] qs[128]
    const d = h2f(b, o);
    const min = h2f(b, o + 2);
    let k = yo;
    let u1 = 1;
    let u2 = 2;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1s] = scaleMinK4(2 * j, b, o + 4);
      const [sc2, m2s] = scaleMinK4(2 * j + 1, b, o + 4);
      const d1 = f(d * sc1);
      const m1 = f(min * m1s);
      const d2 = f(d * sc2);
      const m2 = f(min * m2s);
      const ql = o + 48 + j * 32;
      for (let l = 0; l < 32; l++) y[k++] = f(d1 * ((b[ql + l]! & 0xf) + (b[o + 16 + l]! & u1 ? 16 : 0))) - m1;
      for (let l = 0; l < 32; l++) y[k++] = f(d2 * ((b[ql + l]! >> 4) + (b[o + 16 + l]! & u2 ? 16 : 0))) - m2;
      u1 <<= 2;
      u2 <<= 2;
    }
  },
  [QTYPE.Q6_K]: (b, o, y, yo) => {
    // ql[128] qh[64] scales[16] (int8) d
    const d = h2f(b, o + 208);
    for (let n = 0; n < 2; n++) {
      const ql = o + n * 64;
      const qh = o + 128 + n * 32;
      const sc = o + 192 + n * 8;
      const yb = yo + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const s = (i: number) => f(d * ((b[sc + is + i]! << 24) >> 24));
        const h = b[qh + l]!;
        y[yb + l] = s(0) * (((b[ql + l]! & 0xf) | ((h & 3) << 4)) - 32);
        y[yb + l + 32] = s(2) * (((b[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) - 32);
        y[yb + l + 64] = s(4) * (((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) - 32);
        y[yb + l + 96] = s(6) * (((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  },
  [QTYPE.IQ4_NL]: (b, o, y, yo) => {
    const d = h2f(b, o);
    for (let j = 0; j < 16; j++) {
      y[yo + j] = d * IQ4_VALUES[b[o + 2 + j]! & 0xf]!;
      y[yo + j + 16] = d * IQ4_VALUES[b[o + 2 + j]! >> 4]!;
    }
  },
  [QTYPE.IQ4_XS]: (b, o, y, yo) => {
    // d scales_h(u16) scales_l[4] qs[128]
    const d = h2f(b, o);
    const sh = b[o + 2]! | (b[o + 3]! << 8);
    for (let ib = 0; ib < 8; ib++) {
      const ls = ((b[o + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
      const dl = f(d * (ls - 32));
      const q = o + 8 + ib * 16;
      for (let j = 0; j < 16; j++) {
        y[yo + ib * 32 + j] = dl * IQ4_VALUES[b[q + j]! & 0xf]!;
        y[yo + ib * 32 + j + 16] = dl * IQ4_VALUES[b[q + j]! >> 4]!;
      }
    }
  },
};

/**
 * Per-block scale (and min) of the formats, for repacking into other blockwise layouts without
 * going through float32 values. Exported for gguf/repack.ts.
 */
export const blockParts = { scaleMinK4, q3kScales };

// ---------------------------------------------------------------------------------------------
// reference quantizers (ggml's quantize_row_*_ref)

/** Quantise float32 values (a multiple of the block size) to `type` blocks. */
export function quantizeRow(type: number, x: Float32Array, out: Uint8Array = new Uint8Array(quantBytes(type, x.length))): Uint8Array {
  const q = QUANT[type];
  if (!q) throw new Error(`no quantizer for ggml type ${quantTypeName(type)} (supported: ${QUANTIZABLE.map(quantTypeName).join(', ')})`);
  const [bs, bb] = QUANT_BLOCK[type]!;
  const n = x.length;
  if (n % bs) throw new Error(`${quantTypeName(type)}: ${n} elements is not a multiple of its block size ${bs}`);
  // the arithmetic must see float32 inputs
  const xs = x instanceof Float32Array ? x : Float32Array.from(x);
  for (let blk = 0; blk < n / bs; blk++) q(xs.subarray(blk * bs, (blk + 1) * bs), out, blk * bb);
  return out;
}

type BlockQuant = (x: Float32Array, y: Uint8Array, o: number) => void;

function absMax(x: Float32Array): [number, number] {
  let amax = 0;
  let max = 0;
  for (let j = 0; j < x.length; j++) {
    const v = x[j]!;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return [amax, max];
}

function minMax(x: Float32Array): [number, number] {
  let min = 3.4028234663852886e38;
  let max = -3.4028234663852886e38;
  for (let j = 0; j < x.length; j++) {
    const v = x[j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

/** C's (int8_t)(float) for values known to be in range: truncation toward zero. */
const trunc8 = (v: number) => (Math.trunc(v) << 24) >> 24;

const GROUP_MAX_EPS = f(1e-15);
const F01 = f(0.1);

/** ggml make_qx_quants with rmse_type 1 and no importance weights (Q6_K). L gets l + nmax. */
function makeQxQuants(n: number, nmax: number, x: Float32Array, L: Int8Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]!);
    if (ax > amax) {
      amax = ax;
      max = x[i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  let iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(f(iscale * x[i]!));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[i] = l + nmax;
    const w = f(x[i]! * x[i]!);
    sumlx = f(sumlx + f(f(w * x[i]!) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  let scale = suml2 ? f(sumlx / suml2) : 0;
  let best = f(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = f(-f(nmax + f(F01 * is)) / max);
    sumlx = 0;
    suml2 = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(f(iscale * x[i]!));
      l = Math.max(-nmax, Math.min(nmax - 1, l));
      const w = f(x[i]! * x[i]!);
      sumlx = f(sumlx + f(f(w * x[i]!) * l));
      suml2 = f(suml2 + f(f(w * l) * l));
    }
    if (suml2 > 0 && f(sumlx * sumlx) > f(best * suml2)) {
      for (let i = 0; i < n; i++) {
        const l = nearestInt(f(iscale * x[i]!));
        L[i] = nmax + Math.max(-nmax, Math.min(nmax - 1, l));
      }
      scale = f(sumlx / suml2);
      best = f(scale * sumlx);
    }
  }
  return scale;
}

/** ggml make_q3_quants with do_rmse (Q3_K). L gets l + nmax. */
function makeQ3Quants(n: number, nmax: number, x: Float32Array, L: Int8Array): number {
  let max = 0;
  let amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]!);
    if (ax > amax) {
      amax = ax;
      max = x[i]!;
    }
  }
  if (amax < GROUP_MAX_EPS) {
    L.fill(0, 0, n);
    return 0;
  }
  const iscale = f(-nmax / max);
  let sumlx = 0;
  let suml2 = 0;
  for (let i = 0; i < n; i++) {
    let l = nearestInt(f(iscale * x[i]!));
    l = Math.max(-nmax, Math.min(nmax - 1, l));
    L[i] = l;
    const w = f(x[i]! * x[i]!);
    sumlx = f(sumlx + f(f(w * x[i]!) * l));
    suml2 = f(suml2 + f(f(w * l) * l));
  }
  for (let itry = 0; itry < 5; itry++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const w = f(x[i]! * x[i]!);
      let slx = f(sumlx - f(f(w * x[i]!) * L[i]!));
      if (slx > 0) {
        let sl2 = f(suml2 - f(f(w * L[i]!) * L[i]!));
        let nl = nearestInt(f(f(x[i]! * sl2) / slx));
        nl = Math.max(-nmax, Math.min(nmax - 1, nl));
        if (nl !== L[i]) {
          slx = f(slx + f(f(w * x[i]!) * nl));
          sl2 = f(sl2 + f(f(w * nl) * nl));
          if (sl2 > 0 && f(f(slx * slx) * suml2) > f(f(sumlx * sumlx) * sl2)) {
            L[i] = nl;
            sumlx = slx;
            suml2 = sl2;
            changed++;
          }
        }
      }
    }
    if (!changed) break;
  }
  for (let i = 0; i < n; i++) L[i] = L[i]! + nmax;
  return suml2 > 0 ? f(sumlx / suml2) : 0;
}

/** ggml make_qkx2_quants (Q2_K, Q4_K, Q5_K): returns [scale, min] with min >= 0 (value ≈ scale·L − min). */
function makeQkx2Quants(
  n: number,
  nmax: number,
  x: Float32Array,
  weights: Float32Array,
  L: Uint8Array,
  Laux: Uint8Array,
  rmin: number,
  rdelta: number,
  nstep: number,
  useMad: boolean,
): [number, number] {
  let min = x[0]!;
  let max = x[0]!;
  let sumW = weights[0]!;
  let sumX = f(sumW * x[0]!);
  for (let i = 1; i < n; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
    const w = weights[i]!;
    sumW = f(sumW + w);
    sumX = f(sumX + f(w * x[i]!));
  }
  if (min > 0) min = 0;
  if (max === min) {
    L.fill(0, 0, n);
    return [0, -min];
  }
  let iscale = f(nmax / f(max - min));
  let scale = f(1 / iscale);
  let bestError = 0;
  for (let i = 0; i < n; i++) {
    const l = nearestInt(f(iscale * f(x[i]! - min)));
    L[i] = Math.max(0, Math.min(nmax, l));
    let diff = f(f(f(scale * L[i]!) + min) - x[i]!);
    diff = useMad ? Math.abs(diff) : f(diff * diff);
    bestError = f(bestError + f(weights[i]! * diff));
  }
  for (let is = 0; is <= nstep; is++) {
    iscale = f(f(f(rmin + f(rdelta * is)) + nmax) / f(max - min));
    let sumL = 0;
    let sumL2 = 0;
    let sumXL = 0;
    for (let i = 0; i < n; i++) {
      let l = nearestInt(f(iscale * f(x[i]! - min)));
      l = Math.max(0, Math.min(nmax, l));
      Laux[i] = l;
      const w = weights[i]!;
      sumL = f(sumL + f(w * l));
      sumL2 = f(sumL2 + f(f(w * l) * l));
      sumXL = f(sumXL + f(f(w * l) * x[i]!));
    }
    const D = f(f(sumW * sumL2) - f(sumL * sumL));
    if (D > 0) {
      let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
      let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
      if (thisMin > 0) {
        thisMin = 0;
        thisScale = f(sumXL / sumL2);
      }
      let cur = 0;
      for (let i = 0; i < n; i++) {
        let diff = f(f(f(thisScale * Laux[i]!) + thisMin) - x[i]!);
        diff = useMad ? Math.abs(diff) : f(diff * diff);
        cur = f(cur + f(weights[i]! * diff));
      }
      if (cur < bestError) {
        L.set(Laux.subarray(0, n));
        bestError = cur;
        scale = thisScale;
        min = thisMin;
      }
    }
  }
  return [scale, -min];
}

/** Pack 32-element 4-bit sub-block pairs as ggml's K-quants do: byte l = L[l] | L[l + 32] << 4. */
function pack4(L: Uint8Array, y: Uint8Array, o: number): void {
  for (let j = 0; j < 256; j += 64) for (let l = 0; l < 32; l++) y[o + j / 2 + l] = (L[j + l]! & 0xf) | ((L[j + l + 32]! & 0xf) << 4);
}

/** Q4_K / Q5_K: sub-block scales and mins from make_qkx2_quants, packed as 6-bit pairs. */
function quantizeKScaleMin(x: Float32Array, y: Uint8Array, o: number, L: Uint8Array, nmax: number, rmin: number, nstep: number): void {
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  const weights = new Float32Array(32);
  const Laux = new Uint8Array(32);
  let maxScale = 0;
  let maxMin = 0;
  for (let j = 0; j < 8; j++) {
    const xs = x.subarray(32 * j, 32 * j + 32);
    let sumX2 = 0;
    for (let l = 0; l < 32; l++) sumX2 = f(sumX2 + f(xs[l]! * xs[l]!));
    const avX = f(Math.sqrt(f(sumX2 / 32)));
    for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(xs[l]!));
    const [s, m] = makeQkx2Quants(32, nmax, xs, weights, L.subarray(32 * j, 32 * j + 32), Laux, rmin, F01, nstep, false);
    scales[j] = s;
    mins[j] = m;
    if (scales[j]! > maxScale) maxScale = scales[j]!;
    if (mins[j]! > maxMin) maxMin = mins[j]!;
  }
  const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
  const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
  const sc = o + 4;
  y.fill(0, sc, sc + 12);
  for (let j = 0; j < 8; j++) {
    const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
    const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
    if (j < 4) {
      y[sc + j] = ls;
      y[sc + j + 4] = lm;
    } else {
      y[sc + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
      y[sc + j - 4] |= (ls >> 4) << 6;
      y[sc + j] |= (lm >> 4) << 6;
    }
  }
  putHalf(y, o, f(maxScale / 63));
  putHalf(y, o + 2, f(maxMin / 63));
  const d0 = h2f(y, o);
  const dm0 = h2f(y, o + 2);
  for (let j = 0; j < 8; j++) {
    const [s, m] = scaleMinK4(j, y, sc);
    const d = f(d0 * s);
    if (!d) continue;
    const dm = f(dm0 * m);
    for (let ii = 0; ii < 32; ii++) {
      const l = nearestInt(f(f(x[32 * j + ii]! + dm) / d));
      L[32 * j + ii] = Math.max(0, Math.min(nmax, l));
    }
  }
}

const QUANT: Record<number, BlockQuant> = {
  [QTYPE.Q8_0]: (x, y, o) => {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[j]!));
    const d = f(amax / 127);
    const id = d ? f(1 / d) : 0;
    putHalf(y, o, d);
    for (let j = 0; j < 32; j++) y[o + 2 + j] = roundf(f(x[j]! * id)) & 0xff;
  },
  [QTYPE.Q4_0]: (x, y, o) => {
    const [, max] = absMax(x);
    const d = f(max / -8);
    const id = d ? f(1 / d) : 0;
    putHalf(y, o, d);
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.min(15, trunc8(f(f(x[j]! * id) + 8.5)));
      const xi1 = Math.min(15, trunc8(f(f(x[j + 16]! * id) + 8.5)));
      y[o + 2 + j] = (xi0 & 0xff) | ((xi1 << 4) & 0xff);
    }
  },
  [QTYPE.Q4_1]: (x, y, o) => {
    const [min, max] = minMax(x);
    const d = f(f(max - min) / 15);
    const id = d ? f(1 / d) : 0;
    putHalf(y, o, d);
    putHalf(y, o + 2, min);
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.min(15, trunc8(f(f(f(x[j]! - min) * id) + 0.5)));
      const xi1 = Math.min(15, trunc8(f(f(f(x[j + 16]! - min) * id) + 0.5)));
      y[o + 4 + j] = (xi0 & 0xff) | ((xi1 << 4) & 0xff);
    }
  },
  [QTYPE.Q5_0]: (x, y, o) => {
    const [, max] = absMax(x);
    const d = f(max / -16);
    const id = d ? f(1 / d) : 0;
    putHalf(y, o, d);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.min(31, trunc8(f(f(x[j]! * id) + 16.5))) & 0xff;
      const xi1 = Math.min(31, trunc8(f(f(x[j + 16]! * id) + 16.5))) & 0xff;
      y[o + 6 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + 16);
    }
    for (let k = 0; k < 4; k++) y[o + 2 + k] = (qh >>> (8 * k)) & 0xff;
  },
  [QTYPE.Q5_1]: (x, y, o) => {
    const [min, max] = minMax(x);
    const d = f(f(max - min) / 31);
    const id = d ? f(1 / d) : 0;
    putHalf(y, o, d);
    putHalf(y, o + 2, min);
    let qh = 0;
    for (let j = 0; j < 16; j++) {
      const xi0 = Math.trunc(f(f(f(x[j]! - min) * id) + 0.5)) & 0xff;
      const xi1 = Math.trunc(f(f(f(x[j + 16]! - min) * id) + 0.5)) & 0xff;
      y[o + 8 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
      qh |= ((xi0 & 0x10) >> 4) << j;
      qh |= ((xi1 & 0x10) >> 4) << (j + 16);
    }
    for (let k = 0; k < 4; k++) y[o + 4 + k] = (qh >>> (8 * k)) & 0xff;
  },
  [QTYPE.Q2_K]: (x, y, o) => {
    const L = new Uint8Array(256);
    const Laux = new Uint8Array(16);
    const weights = new Float32Array(16);
    const scales = new Float32Array(16);
    const mins = new Float32Array(16);
    let maxScale = 0;
    let maxMin = 0;
    for (let j = 0; j < 16; j++) {
      const xs = x.subarray(16 * j, 16 * j + 16);
      for (let l = 0; l < 16; l++) weights[l] = Math.abs(xs[l]!);
      const [s, m] = makeQkx2Quants(16, 3, xs, weights, L.subarray(16 * j, 16 * j + 16), Laux, -0.5, F01, 15, true);
      scales[j] = s;
      mins[j] = m;
      if (scales[j]! > maxScale) maxScale = scales[j]!;
      if (mins[j]! > maxMin) maxMin = mins[j]!;
    }
    y.fill(0, o, o + 16);
    if (maxScale > 0) {
      const iscale = f(15 / maxScale);
      for (let j = 0; j < 16; j++) y[o + j] = nearestInt(f(iscale * scales[j]!)) & 0xff;
      putHalf(y, o + 80, f(maxScale / 15));
    } else putHalf(y, o + 80, 0);
    if (maxMin > 0) {
      const iscale = f(15 / maxMin);
      for (let j = 0; j < 16; j++) y[o + j] = (y[o + j]! | (nearestInt(f(iscale * mins[j]!)) << 4)) & 0xff;
      putHalf(y, o + 82, f(maxMin / 15));
    } else putHalf(y, o + 82, 0);
    const d0 = h2f(y, o + 80);
    const dm0 = h2f(y, o + 82);
    for (let j = 0; j < 16; j++) {
      const d = f(d0 * (y[o + j]! & 0xf));
      if (!d) continue;
      const dm = f(dm0 * (y[o + j]! >> 4));
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(f(x[16 * j + ii]! + dm) / d));
        L[16 * j + ii] = Math.max(0, Math.min(3, l));
      }
    }
    for (let j = 0; j < 256; j += 128)
      for (let l = 0; l < 32; l++) y[o + 16 + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
  },
  [QTYPE.Q3_K]: (x, y, o) => {
    const L = new Int8Array(256);
    const scales = new Float32Array(16);
    let maxScale = 0;
    let amax = 0;
    for (let j = 0; j < 16; j++) {
      scales[j] = makeQ3Quants(16, 4, x.subarray(16 * j, 16 * j + 16), L.subarray(16 * j, 16 * j + 16));
      const s = Math.abs(scales[j]!);
      if (s > amax) {
        amax = s;
        maxScale = scales[j]!;
      }
    }
    const sc = o + 96;
    y.fill(0, sc, sc + 12);
    if (maxScale) {
      const iscale = f(-32 / maxScale);
      for (let j = 0; j < 16; j++) {
        let l = (nearestInt(f(iscale * scales[j]!)) << 24) >> 24;
        l = Math.max(-32, Math.min(31, l)) + 32;
        if (j < 8) y[sc + j] = l & 0xf;
        else y[sc + j - 8] |= (l & 0xf) << 4;
        l >>= 4;
        y[sc + (j % 4) + 8] |= l << (2 * Math.floor(j / 4));
      }
      putHalf(y, o + 108, f(1 / iscale));
    } else putHalf(y, o + 108, 0);
    const d0 = h2f(y, o + 108);
    const s = q3kScales(y, sc);
    for (let j = 0; j < 16; j++) {
      const d = f(d0 * s[j]!);
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[16 * j + ii]! / d));
        L[16 * j + ii] = Math.max(-4, Math.min(3, l)) + 4;
      }
    }
    y.fill(0, o, o + 32);
    let m = 0;
    let hm = 1;
    for (let j = 0; j < 256; j++) {
      if (L[j]! > 3) {
        y[o + m] |= hm;
        L[j] = L[j]! - 4;
      }
      if (++m === 32) {
        m = 0;
        hm <<= 1;
      }
    }
    for (let j = 0; j < 256; j += 128)
      for (let l = 0; l < 32; l++) y[o + 32 + j / 4 + l] = L[j + l]! | (L[j + l + 32]! << 2) | (L[j + l + 64]! << 4) | (L[j + l + 96]! << 6);
  },
  [QTYPE.Q4_K]: (x, y, o) => {
    const L = new Uint8Array(256);
    quantizeKScaleMin(x, y, o, L, 15, -1, 20);
    pack4(L, y, o + 16);
  },
  [QTYPE.Q5_K]: (x, y, o) => {
    const L = new Uint8Array(256);
    quantizeKScaleMin(x, y, o, L, 31, -0.5, 15);
    const qh = o + 16;
    y.fill(0, qh, qh + 32);
    let m1 = 1;
    let m2 = 2;
    for (let n = 0; n < 256; n += 64) {
      const ql = o + 48 + n / 2;
      for (let j = 0; j < 32; j++) {
        let l1 = L[n + j]!;
        if (l1 > 15) {
          l1 -= 16;
          y[qh + j] |= m1;
        }
        let l2 = L[n + j + 32]!;
        if (l2 > 15) {
          l2 -= 16;
          y[qh + j] |= m2;
        }
        y[ql + j] = l1 | (l2 << 4);
      }
      m1 <<= 2;
      m2 <<= 2;
    }
  },
  [QTYPE.Q6_K]: (x, y, o) => {
    const L = new Int8Array(256);
    const scales = new Float32Array(16);
    let maxScale = 0;
    let maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      const s = makeQxQuants(16, 32, x.subarray(16 * ib, 16 * ib + 16), L.subarray(16 * ib, 16 * ib + 16));
      scales[ib] = s;
      if (Math.abs(s) > maxAbs) {
        maxAbs = Math.abs(s);
        maxScale = s;
      }
    }
    if (maxAbs < GROUP_MAX_EPS) {
      y.fill(0, o, o + 210);
      return;
    }
    const iscale = f(-128 / maxScale);
    putHalf(y, o + 208, f(1 / iscale));
    for (let ib = 0; ib < 16; ib++) y[o + 192 + ib] = Math.min(127, nearestInt(f(iscale * scales[ib]!))) & 0xff;
    const d0 = h2f(y, o + 208);
    for (let j = 0; j < 16; j++) {
      const d = f(d0 * ((y[o + 192 + j]! << 24) >> 24));
      if (!d) continue;
      for (let ii = 0; ii < 16; ii++) {
        const l = nearestInt(f(x[16 * j + ii]! / d));
        L[16 * j + ii] = Math.max(-32, Math.min(31, l)) + 32;
      }
    }
    for (let j = 0; j < 256; j += 128) {
      const ql = o + j / 2;
      const qh = o + 128 + j / 4;
      for (let l = 0; l < 32; l++) {
        const a = L[j + l]!;
        const b = L[j + l + 32]!;
        const c = L[j + l + 64]!;
        const e = L[j + l + 96]!;
        y[ql + l] = (a & 0xf) | ((c & 0xf) << 4);
        y[ql + l + 32] = (b & 0xf) | ((e & 0xf) << 4);
        y[qh + l] = (a >> 4) | ((b >> 4) << 2) | ((c >> 4) << 4) | ((e >> 4) << 6);
      }
    }
  },
};
