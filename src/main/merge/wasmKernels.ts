/**
 * The merge's hot loops as WebAssembly SIMD kernels (tiesKernels.wat, assembled into
 * tiesKernelsWasm.ts) and the memory they work in: one WebAssembly.Memory per thread holding the
 * merge's chunk buffers (BufferPool's slots, laid out by `reserveSlots`) and a staging area for the
 * bytes read from or written to files. Arrays already in the memory are worked on where they are;
 * others are copied into the staging area (and results back) once per call.
 *
 * Growing the memory detaches every view into it: only `reserveSlots` and a call on arrays from
 * outside the memory grow it, and the merge reserves enough staging for its chunks before it takes
 * any view, so views it holds stay valid for a tensor's passes.
 */
import { TIES_KERNELS_WASM } from './tiesKernelsWasm';

interface KernelExports {
  decodeF16(src: number, dst: number, n: number): void;
  encodeF16(src: number, dst: number, n: number): void;
  topkCount(x: number, base: number, n: number, lo: number, hi: number, cand: number): number;
  above(): number;
  l1Sums(x: number, base: number, n: number, hi: number): void;
  l1(): number;
  aboveL1(): number;
  trim(x: number, base: number, n: number, at: number, scale: number, left: number): number;
  ties2(a: number, c: number, base: number, n: number, f0: number, f1: number, f2: number, f3: number): void;
}

/** The part of the WebAssembly JS API used here (tsconfig.node's lib has no WebAssembly declarations). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, imports: Record<string, Record<string, unknown>>) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

const PAGE = 65536;
/** bytes after every array the kernels may read or write (whole vectors past the end) */
const SLACK = 64;
/** staging bytes reserved per chunk value: a count's candidates, a chunk's fp16 bytes, or a copied chunk and its fp16 bytes (GGUF Q/K rows permuted for writing) */
const STAGE_PER_VALUE = 8;

const memory = new wasm.Memory({ initial: 1, maximum: 65536 });
const k = new wasm.Instance(new wasm.Module(Buffer.from(TIES_KERNELS_WASM, 'base64')), { env: { memory } }).exports as unknown as KernelExports;

let slotStride = 0;
let slotBytes = 0;
let stageTop = 0;

const align = (n: number) => (n + 15) & ~15;

function ensure(bytes: number): void {
  const need = bytes + SLACK - memory.buffer.byteLength;
  if (need > 0) {
    memory.grow(Math.ceil(need / PAGE));
  }
}

let slotCount = 0;
let slotElems = 0;

/**
 * Lay out at least `slots` float32 buffers of at least `elems` values at the memory's start, and
 * staging for chunks of that size. The layout only grows (a merge started in the same thread keeps
 * its slots); when it does, earlier views become invalid.
 */
export function reserveSlots(slots: number, elems: number): void {
  if (slots <= slotCount && elems <= slotElems) return;
  slotCount = Math.max(slots, slotCount);
  slotElems = Math.max(elems, slotElems);
  slotStride = align(slotElems * 4 + SLACK);
  slotBytes = slotCount * slotStride;
  ensure(slotBytes + align(slotElems * STAGE_PER_VALUE + 4 * SLACK));
}

/** Slot i's first n values (i < the slots reserved, n ≤ their size). */
export function slotView(i: number, n: number): Float32Array {
  if (i >= slotCount || n > slotElems) throw new Error(`merge buffers: slot ${i} of ${n} values was not reserved`);
  return new Float32Array(memory.buffer, i * slotStride, n);
}

/** A fresh staging region of `bytes` (valid until the next kernel call). */
function stage(bytes: number): number {
  const at = slotBytes + stageTop;
  stageTop += align(bytes + SLACK);
  ensure(slotBytes + stageTop);
  return at;
}

const inMemory = (a: ArrayBufferView) => a.buffer === memory.buffer;

/** The offset of `a` in the memory, copied into staging when it lives elsewhere. */
function place(a: Float32Array | Uint8Array | Uint16Array, bytes: number): number {
  if (inMemory(a)) return a.byteOffset;
  const at = stage(bytes);
  new Uint8Array(memory.buffer, at, bytes).set(new Uint8Array(a.buffer, a.byteOffset, bytes));
  return at;
}

/** Run a kernel that writes whole vectors up to `end`, putting back the 16 bytes after `end` it may overwrite. */
function guarded(end: number, run: () => void): void {
  const saved = new Uint8Array(memory.buffer, end, 16).slice();
  run();
  new Uint8Array(memory.buffer, end, 16).set(saved);
}

/** Copy `bytes` at `at` in the memory out to `dst` when it was staged. */
function copyOut(dst: Float32Array | Uint16Array, at: number, bytes: number): void {
  if (!inMemory(dst)) new Uint8Array(dst.buffer, dst.byteOffset, bytes).set(new Uint8Array(memory.buffer, at, bytes));
}

/** fp16 bytes (little-endian, any alignment) → float32, `out.length` values. */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  stageTop = 0;
  const n = out.length;
  const dst = inMemory(out) ? out.byteOffset : stage(n * 4);
  const src = place(bytes, n * 2);
  guarded(dst + n * 4, () => k.decodeF16(src, dst, n));
  copyOut(out, dst, n * 4);
}

/** float32 → fp16 bits (round to nearest even), `src.length` values into `out`. */
export function encodeF16(src: Float32Array, out: Uint16Array): void {
  stageTop = 0;
  const n = src.length;
  const from = place(src, n * 4);
  const dst = inMemory(out) ? out.byteOffset : stage(n * 2);
  guarded(dst + n * 2, () => k.encodeF16(from, dst, n));
  copyOut(out, dst, n * 2);
}

/**
 * Top-k's counting pass over τ = x − base: how many |τ| have bits > hiBits, and the |τ| with
 * loBits ≤ bits ≤ hiBits in index order (a view valid until the next kernel call).
 */
export function topkCount(x: Float32Array, base: Float32Array, loBits: number, hiBits: number): { above: number; candidates: Float32Array } {
  stageTop = 0;
  const n = x.length;
  const px = place(x, n * 4);
  const pb = place(base, n * 4);
  const cand = stage(n * 4);
  const got = k.topkCount(px, pb, n, loBits, hiBits, cand);
  return { above: k.above(), candidates: new Float32Array(memory.buffer, cand, got) };
}

/** Σ|τ| and Σ|τ| over bits > hiBits, in float64 and index order. */
export function l1Sums(x: Float32Array, base: Float32Array, hiBits: number): { l1: number; aboveL1: number } {
  stageTop = 0;
  const n = x.length;
  k.l1Sums(place(x, n * 4), place(base, n * 4), n, hiBits);
  return { l1: k.l1(), aboveL1: k.aboveL1() };
}

/** x ← (x − base)·scale where |x − base| bits > atBits or for the first `left` ties (atBits −1: every entry); returns the ties left. */
export function trim(x: Float32Array, base: Float32Array, atBits: number, scale: number, left: number): number {
  stageTop = 0;
  const n = x.length;
  const px = place(x, n * 4);
  const pb = place(base, n * 4);
  let rest = left;
  guarded(px + n * 4, () => {
    rest = k.trim(px, pb, n, atBits, scale, left);
  });
  copyOut(x, px, n * 4);
  return rest;
}

/** TIES' two-model sign election and disjoint mean over base in place; f: the factors by which of a, c agree (none, a, c, both). */
export function ties2(a: Float32Array, c: Float32Array, base: Float32Array, f: ArrayLike<number>): void {
  stageTop = 0;
  const n = base.length;
  const pa = place(a, n * 4);
  const pc = place(c, n * 4);
  const pb = place(base, n * 4);
  guarded(pb + n * 4, () => k.ties2(pa, pc, pb, n, f[0]!, f[1]!, f[2]!, f[3]!));
  copyOut(base, pb, n * 4);
}
