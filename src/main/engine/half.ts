/**
 * Half-precision floats: IEEE fp16 and bfloat16 bits to and from float32, one value at a time
 * (graph constants, block scales) and in bulk (weights: a table lookup for fp16 → float32, branch-
 * light loops for float32 → fp16 / bf16). Every conversion to half rounds to nearest even, keeps
 * NaN a NaN and overflows to ±inf; fp16 keeps subnormals. Little-endian hosts (as the engine).
 */
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half bits (round to nearest even). */
export function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** IEEE half bits → float32. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

let halfTable: Float32Array | null = null;
/** Convert raw fp16 bits to float32 (table lookup: fast for multi-GB checkpoints). */
export function halfBitsToFloat32(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) halfTable[i] = halfToFloat(i);
  }
  const t = halfTable;
  for (let i = 0; i < bits.length; i++) out[i] = t[bits[i]!]!;
  return out;
}

/** Convert raw bf16 bits to float32. */
export function bf16BitsToFloat32(bits: Uint16Array, out: Float32Array = new Float32Array(bits.length)): Float32Array {
  const u = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bits.length; i++) u[i] = bits[i]! << 16;
  return out;
}

/** A Uint16Array over little-endian bytes (copied when unaligned). */
export function u16View(b: Uint8Array, n: number): Uint16Array {
  if (b.byteOffset % 2 === 0) return new Uint16Array(b.buffer, b.byteOffset, n);
  return new Uint16Array(b.slice(0, n * 2).buffer);
}

/** float32 values → IEEE half bits, one by one (small arrays: graph constants). */
export function toHalfArray(vals: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(vals.length);
  for (let i = 0; i < vals.length; i++) out[i] = floatToHalf(vals[i]!);
  return out;
}

const box = new Float32Array(1);
const boxBits = new Uint32Array(box.buffer);
/** float bits of 0.5: adding it to a value below 2^-14 leaves the half subnormal in the low bits, rounded to nearest even */
const DENORM_MAGIC = (127 - 15 + 23 - 10 + 1) << 23;

/** float32 bits → IEEE half bits (round to nearest even); the bulk twin of floatToHalf. */
function halfBits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  let f = x & 0x7fffffff;
  if (f >= 0x47800000) return sign | (f > 0x7f800000 ? 0x7e00 : 0x7c00); // ≥ 65536, inf, NaN
  if (f < 0x38800000) {
    // below the smallest normal half: subnormal or zero
    boxBits[0] = f;
    box[0] = box[0]! + 0.5;
    return sign | (boxBits[0]! - DENORM_MAGIC);
  }
  const odd = (f >>> 13) & 1;
  f = f + ((15 - 127) << 23) + 0xfff + odd;
  return sign | (f >>> 13);
}

/** float32 → IEEE half bits in bulk (out.length ≥ src.length); equal to floatToHalf value by value. */
export function float32ToHalfBits(src: Float32Array, out: Uint16Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) out[i] = halfBits(u[i]!);
  return out;
}

/** float32 → bfloat16 bits in bulk (round to nearest even; NaN stays a quiet NaN). */
export function float32ToBf16Bits(src: Float32Array, out: Uint16Array): Uint16Array {
  const u = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < u.length; i++) {
    const x = u[i]!;
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}
