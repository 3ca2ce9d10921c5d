/**
 * Bulk conversions between float32 and the stored tensor types, written for throughput (a merge
 * converts every weight of every input): raw F32/F16/BF16 bytes → float32, and float32 → F32, F16
 * (round to nearest even, with subnormals, overflow to ±inf and NaN kept) or BF16 (round to
 * nearest even) bytes.
 */
import { bf16BitsToFloat32, halfBitsToFloat32 } from '../engine/graph/builder';

export type FloatDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Decode `count` values of `dtype` from `bytes` (any alignment) into `out`. */
export function decodeInto(dtype: FloatDtype, bytes: Uint8Array, count: number, out: Float32Array): void {
  if (dtype === 'F32') {
    new Uint8Array(out.buffer, out.byteOffset, count * 4).set(bytes.subarray(0, count * 4));
    return;
  }
  const bits = bytes.byteOffset % 2 === 0 ? new Uint16Array(bytes.buffer, bytes.byteOffset, count) : new Uint16Array(bytes.slice(0, count * 2).buffer);
  const dst = out.subarray(0, count);
  if (dtype === 'F16') halfBitsToFloat32(bits, dst);
  else bf16BitsToFloat32(bits, dst);
}

const box = new Float32Array(1);
const boxBits = new Uint32Array(box.buffer);
/** float bits of 0.5: adding it to a value below 2^-14 leaves the half subnormal in the low bits, rounded to nearest even */
const DENORM_MAGIC = (127 - 15 + 23 - 10 + 1) << 23;

/** float32 bits → IEEE half bits (round to nearest even). */
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

/** Encode `src` as `dtype` into `dst` (dst.length ≥ src.length × bytes per value). */
export function encodeInto(dtype: FloatDtype, src: Float32Array, dst: Uint8Array): void {
  const n = src.length;
  if (dtype === 'F32') {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, n * 4));
    return;
  }
  if (dst.byteOffset % 2) throw new Error('encodeInto: destination must be 2-byte aligned');
  const out = new Uint16Array(dst.buffer, dst.byteOffset, n);
  const u = new Uint32Array(src.buffer, src.byteOffset, n);
  if (dtype === 'BF16') {
    for (let i = 0; i < n; i++) {
      const x = u[i]!;
      out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
    return;
  }
  for (let i = 0; i < n; i++) out[i] = halfBits(u[i]!);
}
