/**
 * ggml blocks repacked into onnxruntime's blockwise layout (com.microsoft MatMulNBits and
 * GatherBlockQuantized), so quantised weights are computed without inflating them to float32.
 *
 * The target layout per matrix [rows N, cols K]: `codes` [N, K/bs, bs·bits/8] uint8 (4-bit codes
 * packed low nibble first), `scales` [N, K/bs] float32, and for formats with a per-block minimum
 * `zeroPoints` [N, ⌈(K/bs)·bits/8⌉] uint8 (packed like the codes) and `mins` [N, K/bs] float32.
 * A weight is (code − zp)·scale − min, zp = 2^(bits−1) and min = 0 for the symmetric formats.
 *
 * Formats with a minimum (value = q·s − m) are re-centred: zp = round(m/s) (clamped to the code
 * range) and min = m − zp·s, the residual, at most half a step when m/s is in range (it is for
 * data quantised by ggml, whose min lies between the block's extremes). The kernel then handles
 * zp consistently with its quantised activations (its block sums of int8 activations), and only
 * the small residual goes through Σ_block min·Σx in float32 (decoder-graph); with the whole m there
 * instead, int8 activations cost ~3x the error of the symmetric formats (measured).
 *
 * Every weight the layout describes equals ggml's dequantised value exactly (same float32 scale,
 * same integer code; checked against dequantizeBlocks in the tests):
 *
 * | ggml | bits | block | code | scale | minimum m (value q·s − m) |
 * |---|---|---|---|---|---|
 * | Q4_0 | 4 | 32 | q | d | — |
 * | Q4_1 | 4 | 32 | q | d | −m |
 * | Q5_0 | 8 | 32 | q + 112 | d | — |
 * | Q5_1 | 8 | 32 | q + 112 | d | −m |
 * | Q8_0 | 8 | 32 | q + 128 | d | — |
 * | Q2_K | 4 | 16 | q | d·sc | dmin·m |
 * | Q3_K | 4 | 16 | q + 4 | d·(sc − 32) | — |
 * | Q4_K | 4 | 32 | q | d·sc | dmin·m |
 * | Q5_K | 8 | 32 | q + 112 | d·sc | dmin·m |
 * | Q6_K | 8 | 16 | q + 96 | d·sc | — |
 * | IQ4_NL | 8 | 32 | kvalue + 128 | d | — |
 * | IQ4_XS | 8 | 32 | kvalue + 128 | d·(ls − 32) | — |
 *
 * Q5_x and Q6_K take 8-bit codes (onnxruntime has no 5- or 6-bit kernel; its 2-bit CPU kernel was
 * ~40x slower than the 4-bit one here, so Q2_K uses 4-bit codes). The products d·sc and zp·s are
 * exact in float32 (an 11-bit fp16 mantissa times a ≤ 8-bit integer); the residual m − zp·s rounds
 * once (so a weight is ggml's value up to that one rounding, ~1e-7 of m). What is not exact is the
 * arithmetic around the weights: with mins, Σ((code − zp)·scale − min)·x is computed as
 * Σ(code − zp)·scale·x − Σmin·(Σx), another rounding order; and with int8 compute (accuracy_level
 * 4, the default, as llama.cpp's CPU kernels do with their q8 activations) the activations are
 * quantised to 8 bits per block.
 */
import { halfToFloat } from '../half';
import { GGML_TYPE_NAME } from './reader';
import { IQ4_VALUES, QTYPE, QUANT_BLOCK, blockParts } from './quants';

export interface QuantMatrix {
  rows: number;
  cols: number;
  bits: 4 | 8;
  /** elements per scale (16 or 32) */
  blockSize: number;
  /** [rows, cols/blockSize, blockSize·bits/8] */
  codes: Uint8Array;
  /** [rows, cols/blockSize] */
  scales: Float32Array;
  /** [rows, ⌈(cols/blockSize)·bits/8⌉] packed like the codes, or null (symmetric: zero point 2^(bits−1)) */
  zeroPoints: Uint8Array | null;
  /** [rows, cols/blockSize], with zeroPoints: the residual minimum subtracted from each weight */
  mins: Float32Array | null;
  /** ggml type name of the source tensor */
  from: string;
}

interface Repacker {
  bits: 4 | 8;
  /** elements per scale */
  sub: number;
  hasMin: boolean;
  /** one ggml block at byte o: unsigned codes of its elements (element order) and the scale/min of each sub-block */
  block(b: Uint8Array, o: number, codes: Uint8Array, scales: Float32Array, mins: Float32Array, so: number): void;
}

const f = Math.fround;
/** 8-bit codes of formats with a minimum are offset so that zero points can sit on either side */
const MIN_CODE_OFFSET_8 = 112;
const h2f = (b: Uint8Array, o: number) => halfToFloat(b[o]! | (b[o + 1]! << 8));

/** 32 element codes of a Q4_0 / Q4_1 / IQ4_NL style block: low nibbles then high nibbles of 16 bytes. */
function nibbles32(b: Uint8Array, q: number, codes: Uint8Array, map?: (v: number) => number): void {
  for (let j = 0; j < 16; j++) {
    const lo = b[q + j]! & 0xf;
    const hi = b[q + j]! >> 4;
    codes[j] = map ? map(lo) : lo;
    codes[j + 16] = map ? map(hi) : hi;
  }
}

function q5Codes(b: Uint8Array, qh: number, qs: number, codes: Uint8Array, add: number): void {
  const h = (b[qh]! | (b[qh + 1]! << 8) | (b[qh + 2]! << 16) | (b[qh + 3]! << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    codes[j] = ((b[qs + j]! & 0xf) | (((h >>> j) & 1) << 4)) + add;
    codes[j + 16] = ((b[qs + j]! >> 4) | (((h >>> (j + 16)) & 1) << 4)) + add;
  }
}

const REPACK: Record<number, Repacker> = {
  [QTYPE.Q4_0]: {
    bits: 4,
    sub: 32,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      scales[so] = h2f(b, o);
      nibbles32(b, o + 2, codes);
    },
  },
  [QTYPE.Q4_1]: {
    bits: 4,
    sub: 32,
    hasMin: true,
    block: (b, o, codes, scales, mins, so) => {
      scales[so] = h2f(b, o);
      mins[so] = -h2f(b, o + 2);
      nibbles32(b, o + 4, codes);
    },
  },
  [QTYPE.Q5_0]: {
    bits: 8,
    sub: 32,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      scales[so] = h2f(b, o);
      q5Codes(b, o + 2, o + 6, codes, 112);
    },
  },
  [QTYPE.Q5_1]: {
    bits: 8,
    sub: 32,
    hasMin: true,
    block: (b, o, codes, scales, mins, so) => {
      scales[so] = h2f(b, o);
      mins[so] = -h2f(b, o + 2);
      q5Codes(b, o + 4, o + 8, codes, MIN_CODE_OFFSET_8);
    },
  },
  [QTYPE.Q8_0]: {
    bits: 8,
    sub: 32,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      scales[so] = h2f(b, o);
      for (let j = 0; j < 32; j++) codes[j] = b[o + 2 + j]! ^ 0x80;
    },
  },
  [QTYPE.Q2_K]: {
    bits: 4,
    sub: 16,
    hasMin: true,
    block: (b, o, codes, scales, mins, so) => {
      const d = h2f(b, o + 80);
      const dmin = h2f(b, o + 82);
      for (let s = 0; s < 16; s++) {
        scales[so + s] = f(d * (b[o + s]! & 0xf));
        mins[so + s] = f(dmin * (b[o + s]! >> 4));
      }
      let e = 0;
      for (let n = 0; n < 2; n++)
        for (let shift = 0; shift < 8; shift += 2)
          for (const half of [0, 16]) for (let l = 0; l < 16; l++) codes[e++] = (b[o + 16 + n * 32 + half + l]! >> shift) & 3;
    },
  },
  [QTYPE.Q3_K]: {
    bits: 4,
    sub: 16,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      const d = h2f(b, o + 108);
      const sc = blockParts.q3kScales(b, o + 96);
      for (let s = 0; s < 16; s++) scales[so + s] = f(d * sc[s]!);
      let e = 0;
      let m = 1;
      for (let n = 0; n < 2; n++)
        for (let shift = 0; shift < 8; shift += 2) {
          for (const half of [0, 16])
            for (let l = 0; l < 16; l++) {
              const low = (b[o + 32 + n * 32 + half + l]! >> shift) & 3;
              const high = b[o + half + l]! & m ? 4 : 0;
              codes[e++] = low + high + 4; // signed value low + high − 4, offset by 8
            }
          m <<= 1;
        }
    },
  },
  [QTYPE.Q4_K]: {
    bits: 4,
    sub: 32,
    hasMin: true,
    block: (b, o, codes, scales, mins, so) => {
      const d = h2f(b, o);
      const dmin = h2f(b, o + 2);
      for (let s = 0; s < 8; s++) {
        const [sc, m] = blockParts.scaleMinK4(s, b, o + 4);
        scales[so + s] = f(d * sc);
        mins[so + s] = f(dmin * m);
      }
      for (let j = 0; j < 4; j++)
        for (let l = 0; l < 32; l++) {
          const q = b[o + 16 + j * 32 + l]!;
          codes[j * 64 + l] = q & 0xf;
          codes[j * 64 + 32 + l] = q >> 4;
        }
    },
  },
  [QTYPE.Q5_K]: {
    bits: 8,
    sub: 32,
    hasMin: true,
    block: (b, o, codes, scales, mins, so) => {
      const d = h2f(b, o);
      const dmin = h2f(b, o + 2);
      for (let s = 0; s < 8; s++) {
        const [sc, m] = blockParts.scaleMinK4(s, b, o + 4);
        scales[so + s] = f(d * sc);
        mins[so + s] = f(dmin * m);
      }
      for (let j = 0; j < 4; j++)
        for (let l = 0; l < 32; l++) {
          const q = b[o + 48 + j * 32 + l]!;
          const h = b[o + 16 + l]!;
          codes[j * 64 + l] = ((q & 0xf) | (((h >> (2 * j)) & 1) << 4)) + MIN_CODE_OFFSET_8;
          codes[j * 64 + 32 + l] = ((q >> 4) | (((h >> (2 * j + 1)) & 1) << 4)) + MIN_CODE_OFFSET_8;
        }
    },
  },
  [QTYPE.Q6_K]: {
    bits: 8,
    sub: 16,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      const d = h2f(b, o + 208);
      for (let s = 0; s < 16; s++) scales[so + s] = f(d * ((b[o + 192 + s]! << 24) >> 24));
      for (let n = 0; n < 2; n++) {
        const ql = o + n * 64;
        const qh = o + 128 + n * 32;
        const e = n * 128;
        for (let l = 0; l < 32; l++) {
          const h = b[qh + l]!;
          codes[e + l] = ((b[ql + l]! & 0xf) | ((h & 3) << 4)) + 96;
          codes[e + l + 32] = ((b[ql + l + 32]! & 0xf) | (((h >> 2) & 3) << 4)) + 96;
          codes[e + l + 64] = ((b[ql + l]! >> 4) | (((h >> 4) & 3) << 4)) + 96;
          codes[e + l + 96] = ((b[ql + l + 32]! >> 4) | (((h >> 6) & 3) << 4)) + 96;
        }
      }
    },
  },
  [QTYPE.IQ4_NL]: {
    bits: 8,
    sub: 32,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      scales[so] = h2f(b, o);
      nibbles32(b, o + 2, codes, (v) => IQ4_VALUES[v]! + 128);
    },
  },
  [QTYPE.IQ4_XS]: {
    bits: 8,
    sub: 32,
    hasMin: false,
    block: (b, o, codes, scales, _m, so) => {
      const d = h2f(b, o);
      const sh = b[o + 2]! | (b[o + 3]! << 8);
      for (let ib = 0; ib < 8; ib++) {
        const ls = ((b[o + 4 + (ib >> 1)]! >> (4 * (ib % 2))) & 0xf) | (((sh >> (2 * ib)) & 3) << 4);
        scales[so + ib] = f(d * (ls - 32));
        for (let j = 0; j < 16; j++) {
          codes[ib * 32 + j] = IQ4_VALUES[b[o + 8 + ib * 16 + j]! & 0xf]! + 128;
          codes[ib * 32 + j + 16] = IQ4_VALUES[b[o + 8 + ib * 16 + j]! >> 4]! + 128;
        }
      }
    },
  },
};

/**
 * Bytes a [rows, cols] tensor of `type` takes in this layout (codes, float32 scales and, for
 * formats with a minimum, zero points and residual minimums): what onnxruntime holds for it.
 */
export function repackedBytes(type: number, rows: number, cols: number): number {
  const r = REPACK[type];
  if (!r) throw new Error(`no blockwise layout for ggml type ${GGML_TYPE_NAME[type] ?? type}`);
  const kb = Math.ceil(cols / r.sub);
  const perRow = (kb * r.sub * r.bits) / 8 + 4 * kb + (r.hasMin ? Math.ceil((kb * r.bits) / 8) + 4 * kb : 0);
  return rows * perRow;
}

/** Whether a ggml type can be repacked (all block formats of quants.ts). */
export function canRepack(type: number): boolean {
  return REPACK[type] !== undefined;
}

/**
 * Repack a [rows, cols] tensor of ggml blocks (rows of cols elements, cols a multiple of the block
 * size) into the MatMulNBits layout.
 */
export function repackMatrix(type: number, b: Uint8Array, rows: number, cols: number): QuantMatrix {
  const r = REPACK[type];
  const geo = QUANT_BLOCK[type];
  const name = GGML_TYPE_NAME[type] ?? `type${type}`;
  if (!r || !geo) throw new Error(`no blockwise layout for ggml type ${name}`);
  const [bs, bb] = geo;
  if (cols % bs) throw new Error(`${name}: rows of ${cols} elements are not a whole number of ${bs}-element blocks`);
  const n = rows * cols;
  if (b.length < (n / bs) * bb) throw new Error(`${name}: ${b.length} bytes hold fewer than ${rows}x${cols} elements`);
  const subs = n / r.sub;
  const codeBytes = (r.sub * r.bits) / 8;
  const codes = new Uint8Array(subs * codeBytes);
  const scales = new Float32Array(subs);
  const mins = r.hasMin ? new Float32Array(subs) : null;
  const tmp = new Uint8Array(bs);
  const perBlock = bs / r.sub;
  for (let blk = 0; blk < n / bs; blk++) {
    r.block(b, blk * bb, tmp, scales, mins ?? scales, blk * perBlock);
    const out = blk * perBlock * codeBytes;
    if (r.bits === 8) codes.set(tmp, out);
    else for (let i = 0; i < bs / 2; i++) codes[out + i] = tmp[2 * i]! | (tmp[2 * i + 1]! << 4);
  }
  const zeroPoints = mins ? recentre(scales, mins, rows, cols / r.sub, r.bits) : null;
  return { rows, cols, bits: r.bits, blockSize: r.sub, codes, scales, zeroPoints, mins, from: name };
}

/**
 * Zero points zp = round(m/s) within the code range and, in place, the residual minimums m − zp·s
 * (see the header). Returns the zero points packed per row like the codes.
 */
function recentre(scales: Float32Array, mins: Float32Array, rows: number, kb: number, bits: 4 | 8): Uint8Array {
  const base = bits === 8 ? MIN_CODE_OFFSET_8 : 0;
  const maxZp = (1 << bits) - 1;
  const rowBytes = Math.ceil((kb * bits) / 8);
  const zp = new Uint8Array(rows * rowBytes);
  for (let row = 0; row < rows; row++)
    for (let k = 0; k < kb; k++) {
      const i = row * kb + k;
      const s = scales[i]!;
      const z = s ? Math.min(maxZp - base, Math.max(-base, Math.round(mins[i]! / s))) : 0;
      mins[i] = f(mins[i]! - f(z * s));
      const code = z + base;
      if (bits === 8) zp[row * rowBytes + k] = code;
      else zp[row * rowBytes + (k >> 1)] |= code << ((k & 1) * 4);
    }
  return zp;
}

/** The zero point of sub-block k of a row (packed like the codes). */
function zeroPointAt(m: QuantMatrix, row: number, k: number): number {
  if (!m.zeroPoints) return 1 << (m.bits - 1);
  const rowBytes = Math.ceil(((m.cols / m.blockSize) * m.bits) / 8);
  if (m.bits === 8) return m.zeroPoints[row * rowBytes + k]!;
  return (m.zeroPoints[row * rowBytes + (k >> 1)]! >> ((k & 1) * 4)) & 0xf;
}

/** The float32 weights a repacked matrix stands for (tests, and the fp32 fallback). */
export function unpackMatrix(m: QuantMatrix): Float32Array {
  const out = new Float32Array(m.rows * m.cols);
  const kb = m.cols / m.blockSize;
  const codeBytes = (m.blockSize * m.bits) / 8;
  for (let s = 0; s < m.scales.length; s++) {
    const sc = m.scales[s]!;
    const zp = zeroPointAt(m, Math.floor(s / kb), s % kb);
    const mn = m.mins ? m.mins[s]! : 0;
    for (let j = 0; j < m.blockSize; j++) {
      const c = m.bits === 8 ? m.codes[s * codeBytes + j]! : (m.codes[s * codeBytes + (j >> 1)]! >> ((j & 1) * 4)) & 0xf;
      out[s * m.blockSize + j] = m.mins ? f((c - zp) * sc) - mn : (c - zp) * sc;
    }
  }
  return out;
}

/** A new matrix whose row i is row order[i] of `m` (Q/K head-order permutations). */
export function permuteQuantRows(m: QuantMatrix, order: Int32Array): QuantMatrix {
  const kb = m.cols / m.blockSize;
  const rowCodes = (kb * m.blockSize * m.bits) / 8;
  const codes = new Uint8Array(m.codes.length);
  const scales = new Float32Array(m.scales.length);
  const mins = m.mins ? new Float32Array(m.mins.length) : null;
  const zpRow = Math.ceil((kb * m.bits) / 8);
  const zeroPoints = m.zeroPoints ? new Uint8Array(m.zeroPoints.length) : null;
  order.forEach((src, dst) => {
    codes.set(m.codes.subarray(src * rowCodes, (src + 1) * rowCodes), dst * rowCodes);
    scales.set(m.scales.subarray(src * kb, (src + 1) * kb), dst * kb);
    mins?.set(m.mins!.subarray(src * kb, (src + 1) * kb), dst * kb);
    zeroPoints?.set(m.zeroPoints!.subarray(src * zpRow, (src + 1) * zpRow), dst * zpRow);
  });
  return { ...m, codes, scales, zeroPoints, mins };
}

/**
 * Matrices with the same columns, bits and block size stacked by rows (one MatMulNBits for q, k
 * and v, or gate and up). When some have zero points and others not, the symmetric ones get their
 * implicit zero point 2^(bits−1) and a minimum of 0 written out.
 */
export function concatQuantRows(ms: QuantMatrix[]): QuantMatrix {
  const [first] = ms;
  if (!first) throw new Error('concatQuantRows: no matrices');
  for (const m of ms)
    if (m.cols !== first.cols || m.bits !== first.bits || m.blockSize !== first.blockSize)
      throw new Error(
        `concatQuantRows: ${m.rows}x${m.cols} ${m.bits}-bit/${m.blockSize} does not stack on ${first.rows}x${first.cols} ${first.bits}-bit/${first.blockSize}`,
      );
  const rows = ms.reduce((a, m) => a + m.rows, 0);
  const cat = <T extends Uint8Array | Float32Array>(parts: T[], make: (n: number) => T): T => {
    const out = make(parts.reduce((a, p) => a + p.length, 0));
    let o = 0;
    for (const p of parts) {
      out.set(p as never, o);
      o += p.length;
    }
    return out;
  };
  const withZp = ms.some((m) => m.zeroPoints);
  const kb = first.cols / first.blockSize;
  const zpRow = Math.ceil((kb * first.bits) / 8);
  const implicit = first.bits === 8 ? 0x80 : 0x88;
  return {
    rows,
    cols: first.cols,
    bits: first.bits,
    blockSize: first.blockSize,
    codes: cat(
      ms.map((m) => m.codes),
      (n) => new Uint8Array(n),
    ),
    scales: cat(
      ms.map((m) => m.scales),
      (n) => new Float32Array(n),
    ),
    zeroPoints: withZp
      ? cat(
          ms.map((m) => m.zeroPoints ?? new Uint8Array(m.rows * zpRow).fill(implicit)),
          (n) => new Uint8Array(n),
        )
      : null,
    mins: withZp
      ? cat(
          ms.map((m) => m.mins ?? new Float32Array(m.rows * kb)),
          (n) => new Float32Array(n),
        )
      : null,
    from: [...new Set(ms.map((m) => m.from))].join('+'),
  };
}
