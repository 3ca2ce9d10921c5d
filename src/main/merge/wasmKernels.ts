/**
 * The merge's hot loops as WebAssembly SIMD kernels (tiesKernels.wat, assembled into
 * tiesKernelsWasm.ts) and the memory they work in: a WebAssembly.Memory holding the merge's chunk
 * buffers (BufferPool's slots, laid out by `reserveSlots`) and a staging area past them, where file
 * bytes are read into and encoded bytes are written from (no copy between a file and the kernels).
 * Arrays already in the memory are worked on where they are; others are copied into the staging
 * area (and results back) once per call.
 *
 * The memory belongs to one kernel instance per thread, made when first needed and dropped by
 * `releaseKernels` at the end of a merge, so a long-lived process does not keep a big merge's
 * buffers (a WebAssembly memory never shrinks). Growing the memory detaches every view into it:
 * only `reserveSlots` and a call on arrays from outside the memory grow it, and the merge reserves
 * enough staging for its chunks before it takes any view, so views it holds stay valid for a
 * tensor's passes.
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
/** staging bytes reserved per chunk value: a count's candidates, a chunk's fp16 bytes read and their staged float32 values, or a copied chunk and its fp16 bytes (GGUF Q/K rows permuted for writing) */
const STAGE_PER_VALUE = 8;

/** compiled once per thread; instantiated per merge */
let compiled: object | null = null;

/** One kernel instance, its memory and the layout of the slots in it. */
interface Kernels {
  memory: WasmMemory;
  k: KernelExports;
  slotCount: number;
  slotElems: number;
  slotStride: number;
  slotBytes: number;
  stageTop: number;
}

let current: Kernels | null = null;

/** This thread's kernel instance, made on first use after a release. */
function kernels(): Kernels {
  if (current) return current;
  compiled ??= new wasm.Module(Buffer.from(TIES_KERNELS_WASM, 'base64'));
  const memory = new wasm.Memory({ initial: 1, maximum: 65536 });
  const k = new wasm.Instance(compiled, { env: { memory } }).exports as unknown as KernelExports;
  current = { memory, k, slotCount: 0, slotElems: 0, slotStride: 0, slotBytes: 0, stageTop: 0 };
  return current;
}

/** Drop this thread's kernel instance and its memory (views taken before keep the old memory alive until they go). */
export function releaseKernels(): void {
  current = null;
}

/** Bytes of kernel memory this thread holds (0 after a release). */
export function kernelMemoryBytes(): number {
  return current ? current.memory.buffer.byteLength : 0;
}

const align = (n: number) => (n + 15) & ~15;

function ensure(s: Kernels, bytes: number): void {
  const need = bytes + SLACK - s.memory.buffer.byteLength;
  if (need > 0) s.memory.grow(Math.ceil(need / PAGE));
}

/**
 * Lay out at least `slots` float32 buffers of at least `elems` values at the memory's start, and
 * staging for chunks of that size. The layout only grows (a merge started in the same thread keeps
 * its slots); when it does, earlier views become invalid.
 */
export function reserveSlots(slots: number, elems: number): void {
  const s = kernels();
  if (slots <= s.slotCount && elems <= s.slotElems) return;
  s.slotCount = Math.max(slots, s.slotCount);
  s.slotElems = Math.max(elems, s.slotElems);
  s.slotStride = align(s.slotElems * 4 + SLACK);
  s.slotBytes = s.slotCount * s.slotStride;
  ensure(s, s.slotBytes + align(s.slotElems * STAGE_PER_VALUE + 4 * SLACK));
}

/** Slot i's first n values (i < the slots reserved, n ≤ their size). */
export function slotView(i: number, n: number): Float32Array {
  const s = kernels();
  if (i >= s.slotCount || n > s.slotElems) throw new Error(`merge buffers: slot ${i} of ${n} values was not reserved`);
  return new Float32Array(s.memory.buffer, i * s.slotStride, n);
}

/** A fresh staging region of `bytes` (valid until the next kernel call). */
function stage(s: Kernels, bytes: number): number {
  const at = s.slotBytes + s.stageTop;
  s.stageTop += align(bytes + SLACK);
  ensure(s, s.slotBytes + s.stageTop);
  return at;
}

const inMemory = (s: Kernels, a: ArrayBufferView) => a.buffer === s.memory.buffer;

/** The offset of `a` in the memory, copied into staging when it lives elsewhere. */
function place(s: Kernels, a: Float32Array | Uint8Array | Uint16Array, bytes: number): number {
  if (inMemory(s, a)) return a.byteOffset;
  const at = stage(s, bytes);
  new Uint8Array(s.memory.buffer, at, bytes).set(new Uint8Array(a.buffer, a.byteOffset, bytes));
  return at;
}

/** Run a kernel that writes whole vectors up to `end`, putting back the 16 bytes after `end` it may overwrite. */
function guarded(s: Kernels, end: number, run: () => void): void {
  const saved = new Uint8Array(s.memory.buffer, end, 16).slice();
  run();
  new Uint8Array(s.memory.buffer, end, 16).set(saved);
}

/** Copy `bytes` at `at` in the memory out to `dst` when it was staged. */
function copyOut(s: Kernels, dst: Float32Array | Uint16Array, at: number, bytes: number): void {
  if (!inMemory(s, dst)) new Uint8Array(dst.buffer, dst.byteOffset, bytes).set(new Uint8Array(s.memory.buffer, at, bytes));
}

/** fp16 bytes (little-endian, any alignment) → float32, `out.length` values. */
export function decodeF16(bytes: Uint8Array, out: Float32Array): void {
  const s = kernels();
  s.stageTop = 0;
  const n = out.length;
  const dst = inMemory(s, out) ? out.byteOffset : stage(s, n * 4);
  const src = place(s, bytes, n * 2);
  guarded(s, dst + n * 4, () => s.k.decodeF16(src, dst, n));
  copyOut(s, out, dst, n * 4);
}

/**
 * Fill `out` with `out.length` fp16 values that `fill` reads into the bytes it is given: bytes in
 * the kernels' memory (past the staging a decode may use), decoded from there with no copy.
 */
export function readF16(out: Float32Array, fill: (bytes: Uint8Array) => void): void {
  const s = kernels();
  const n = out.length;
  const at = s.slotBytes + align(n * 4 + SLACK);
  const end = at + n * 2 + SLACK;
  // a chunk's slot is followed by its reserved staging: growing here would detach `out`
  if (inMemory(s, out) && end + SLACK > s.memory.buffer.byteLength) throw new Error(`merge buffers: no staging reserved for a read of ${n} values`);
  ensure(s, end);
  const bytes = new Uint8Array(s.memory.buffer, at, n * 2);
  fill(bytes);
  decodeF16(bytes, out);
}

/** float32 → fp16 bits (round to nearest even), `src.length` values into `out`. */
export function encodeF16(src: Float32Array, out: Uint16Array): void {
  const s = kernels();
  s.stageTop = 0;
  const n = src.length;
  const from = place(s, src, n * 4);
  const dst = inMemory(s, out) ? out.byteOffset : stage(s, n * 2);
  guarded(s, dst + n * 2, () => s.k.encodeF16(from, dst, n));
  copyOut(s, out, dst, n * 2);
}

/** `src` encoded as fp16 bytes in the kernels' staging, ready to be written to a file (valid until the next kernel call). */
export function encodeF16Staged(src: Float32Array): Uint8Array {
  const s = kernels();
  s.stageTop = 0;
  const n = src.length;
  const from = place(s, src, n * 4);
  const dst = stage(s, n * 2);
  s.k.encodeF16(from, dst, n);
  return new Uint8Array(s.memory.buffer, dst, n * 2);
}

/**
 * Top-k's counting pass over τ = x − base: how many |τ| have bits > hiBits, and the |τ| with
 * loBits ≤ bits ≤ hiBits in index order (a view valid until the next kernel call).
 */
export function topkCount(x: Float32Array, base: Float32Array, loBits: number, hiBits: number): { above: number; candidates: Float32Array } {
  const s = kernels();
  s.stageTop = 0;
  const n = x.length;
  const px = place(s, x, n * 4);
  const pb = place(s, base, n * 4);
  const cand = stage(s, n * 4);
  const got = s.k.topkCount(px, pb, n, loBits, hiBits, cand);
  return { above: s.k.above(), candidates: new Float32Array(s.memory.buffer, cand, got) };
}

/** Σ|τ| and Σ|τ| over bits > hiBits, in float64 and index order. */
export function l1Sums(x: Float32Array, base: Float32Array, hiBits: number): { l1: number; aboveL1: number } {
  const s = kernels();
  s.stageTop = 0;
  const n = x.length;
  s.k.l1Sums(place(s, x, n * 4), place(s, base, n * 4), n, hiBits);
  return { l1: s.k.l1(), aboveL1: s.k.aboveL1() };
}

/** x ← (x − base)·scale where |x − base| bits > atBits or for the first `left` ties (atBits −1: every entry); returns the ties left. */
export function trim(x: Float32Array, base: Float32Array, atBits: number, scale: number, left: number): number {
  const s = kernels();
  s.stageTop = 0;
  const n = x.length;
  const px = place(s, x, n * 4);
  const pb = place(s, base, n * 4);
  let rest = left;
  guarded(s, px + n * 4, () => {
    rest = s.k.trim(px, pb, n, atBits, scale, left);
  });
  copyOut(s, x, px, n * 4);
  return rest;
}

/** TIES' two-model sign election and disjoint mean over base in place; f: the factors by which of a, c agree (none, a, c, both). */
export function ties2(a: Float32Array, c: Float32Array, base: Float32Array, f: ArrayLike<number>): void {
  const s = kernels();
  s.stageTop = 0;
  const n = base.length;
  const pa = place(s, a, n * 4);
  const pc = place(s, c, n * 4);
  const pb = place(s, base, n * 4);
  guarded(s, pb + n * 4, () => s.k.ties2(pa, pc, pb, n, f[0]!, f[1]!, f[2]!, f[3]!));
  copyOut(s, base, pb, n * 4);
}
