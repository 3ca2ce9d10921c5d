/**
 * Bulk conversions between float32 and the stored tensor types, written for throughput (a merge
 * converts every weight of every input): raw F32/F16/BF16 bytes → float32, and float32 → F32, F16
 * (round to nearest even, with subnormals, overflow to ±inf and NaN kept) or BF16 (round to
 * nearest even) bytes. fp16 goes through the WebAssembly SIMD kernels (wasmKernels.ts), reading
 * from and writing to files straight through the kernels' memory.
 */
import { bf16BitsToFloat32, float32ToBf16Bits, u16View } from '../engine/half';
import { decodeF16, encodeF16, encodeF16Staged, readF16 } from './wasmKernels';

export type FloatDtype = 'F32' | 'F16' | 'BF16';

export const DTYPE_BYTES: Record<FloatDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Decode `count` values of `dtype` from `bytes` (any alignment) into `out`. */
export function decodeInto(dtype: FloatDtype, bytes: Uint8Array, count: number, out: Float32Array): void {
  if (dtype === 'F32') {
    new Uint8Array(out.buffer, out.byteOffset, count * 4).set(bytes.subarray(0, count * 4));
    return;
  }
  const dst = out.subarray(0, count);
  if (dtype === 'F16') decodeF16(bytes.subarray(0, count * 2), dst);
  else bf16BitsToFloat32(u16View(bytes, count), dst);
}

/**
 * Fill `out` with `out.length` values of `dtype` that `fill` reads (from a file) into the bytes it
 * is given: float32 bytes land in `out` itself, fp16 bytes in the kernels' memory, decoded from
 * there; no copy between the file and the values.
 */
export function readDecoded(dtype: FloatDtype, out: Float32Array, fill: (bytes: Uint8Array) => void): void {
  const n = out.length;
  if (dtype === 'F32') fill(new Uint8Array(out.buffer, out.byteOffset, n * 4));
  else if (dtype === 'F16') readF16(out, fill);
  else {
    const bits = bf16Scratch(n);
    fill(new Uint8Array(bits.buffer, 0, n * 2));
    bf16BitsToFloat32(bits, out);
  }
}

/** This thread's BF16 bytes read or encoded (reused: a chunk is decoded or written before the next). */
let bf16Buffer = new Uint16Array(0);
function bf16Scratch(n: number): Uint16Array {
  if (bf16Buffer.length < n) bf16Buffer = new Uint16Array(n);
  return bf16Buffer.subarray(0, n);
}

/**
 * `src` encoded as `dtype`, ready to be written (valid until the next encode or kernel call): a
 * float32 array's own bytes, fp16 bytes in the kernels' memory, or BF16 bytes in a reused buffer.
 */
export function encodedBytes(dtype: FloatDtype, src: Float32Array): Uint8Array {
  const n = src.length;
  if (dtype === 'F32') return new Uint8Array(src.buffer, src.byteOffset, n * 4);
  if (dtype === 'F16') return encodeF16Staged(src);
  const out = bf16Scratch(n);
  float32ToBf16Bits(src, out);
  return new Uint8Array(out.buffer, 0, n * 2);
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
  if (dtype === 'BF16') float32ToBf16Bits(src, out);
  else encodeF16(src, out);
}
