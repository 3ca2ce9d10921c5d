/**
 * One tensor's merge, the unit of work of the merge driver and of its worker threads: the inputs
 * read in chunks sized to a memory budget (a tensor that fits one chunk is read once for all of a
 * method's passes; a larger one can be sampled in short spans instead of a whole pass), the method
 * run over them, each merged chunk written at the tensor's target.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { MergeInput } from './inputs';
import { writeAt, writeBytesAt, type WriteFn, type WriteTarget } from './outputs';
import type { TensorParams } from './params';
import { hashName } from './sparsify';
import type { MergeMethodImpl, TensorInputs } from './types';
import { releaseKernels, reserveSlots, slotView } from './wasmKernels';

/** One tensor to produce: merged from the inputs, or (GGUF) copied raw from the reference file. */
export interface TensorTask {
  /** Hugging Face name; null for a raw copy */
  hfName: string | null;
  numel: number;
  params: TensorParams | null;
  /** chunk starts must be multiples of this (whole rows, heads, quantisation blocks) */
  align: number;
  /** input bytes it reads (for progress) */
  bytes: number;
  /** raw copy: absolute offset and length in the reference GGUF */
  raw?: { offset: number; length: number };
  target: WriteTarget;
}

/** Elements per chunk so that every input's float32 buffer, the read and write buffers (up to 4 bytes a value each) and a mask fit the budget. */
export function chunkElements(budgetBytes: number, slots: number): number {
  return Math.max(1024, Math.floor(budgetBytes / (4 * slots + 9)));
}

/**
 * Chunk buffers shared by every tensor a thread merges: one per input slot, in the memory of the
 * merge's WebAssembly kernels (reserved per tensor, before any view is taken), and a mask. Released
 * at the end of the merge: the kernels' memory goes with them.
 */
export class BufferPool {
  private maskBuf = new Uint8Array(0);
  constructor(readonly chunkElems: number) {}
  /** Make room for `slots` buffers of `elems` values (views taken before are invalid after). */
  reserve(slots: number, elems: number): void {
    reserveSlots(slots, elems);
  }
  slot(i: number, n: number): Float32Array {
    return slotView(i, n);
  }
  mask(n: number): Uint8Array {
    if (this.maskBuf.length < n) this.maskBuf = new Uint8Array(n);
    return this.maskBuf;
  }
  /** Give the buffers back (the thread's kernel memory included); a later reserve starts afresh. */
  release(): void {
    releaseKernels();
    this.maskBuf = new Uint8Array(0);
  }
}

/** Values per span when a tensor larger than a chunk is sampled (forEachSpan). */
const SPAN = 32;

/** One tensor's inputs, read chunk by chunk; a tensor that fits one chunk is read once for all passes. */
class ChunkedTensor implements TensorInputs {
  readonly count: number;
  private readonly chunk: number;
  private loaded = false;

  constructor(
    readonly name: string,
    readonly numel: number,
    private readonly align: number,
    private readonly base: MergeInput | null,
    private readonly models: MergeInput[],
    private readonly pool: BufferPool,
    private readonly stop: () => void,
  ) {
    this.count = models.length;
    this.chunk = Math.min(numel, Math.max(align, Math.floor(pool.chunkElems / align) * align));
    pool.reserve((base ? 1 : 0) + models.length, this.chunk);
  }

  private buffers(len: number, read: number | null): [Float32Array | null, Float32Array[]] {
    let slot = 0;
    const get = (m: MergeInput) => {
      const buf = this.pool.slot(slot++, this.chunk).subarray(0, len);
      if (read !== null) m.read(this.name, read, buf);
      return buf;
    };
    return [this.base ? get(this.base) : null, this.models.map(get)];
  }

  forEachChunk(fn: (start: number, base: Float32Array | null, models: readonly Float32Array[]) => void, last = false): void {
    if (this.chunk >= this.numel) {
      this.stop();
      const [b, xs] = this.buffers(this.numel, this.loaded ? null : 0);
      this.loaded = !last;
      fn(0, b, xs);
      return;
    }
    for (let start = 0; start < this.numel; start += this.chunk) {
      this.stop();
      const [b, xs] = this.buffers(Math.min(this.chunk, this.numel - start), start);
      fn(start, b, xs);
    }
  }

  forEachSpan(total: number, fn: (start: number, base: Float32Array | null, models: readonly Float32Array[]) => void): boolean {
    if (this.chunk >= this.numel) return false; // read once for every pass anyway
    const span = Math.ceil(SPAN / this.align) * this.align;
    const count = Math.floor(total / span);
    if (count < 1 || count * span * 4 > this.numel) return false; // spans would cover much of it: a pass is as cheap
    const gap = this.numel / count;
    for (let j = 0; j < count; j++) {
      this.stop();
      const start = Math.floor((j * gap) / this.align) * this.align;
      const [b, xs] = this.buffers(Math.min(span, this.numel - start), start);
      fn(start, b, xs);
    }
    return true;
  }

  mask(): Uint8Array {
    return this.pool.mask(this.chunk);
  }
}

function readRaw(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, b, done, length - done, offset + done);
      if (n <= 0) throw new Error(`${path}: truncated while copying a tensor`);
      done += n;
    }
    return b;
  } finally {
    closeSync(fd);
  }
}

export interface TaskContext {
  impl: MergeMethodImpl;
  /** the base input (null when the method takes none) and the contributors, in config order */
  base: MergeInput | null;
  models: MergeInput[];
  /** the reference GGUF, for raw copies */
  referencePath: string;
  pool: BufferPool;
  /** throws to stop between chunks */
  stop: () => void;
  /** called after each written chunk with the input bytes it consumed */
  onBytes: (bytes: number) => void;
  writeFn?: WriteFn;
}

/** Merge (or copy) one tensor into its target. */
export function runTask(t: TensorTask, ctx: TaskContext): void {
  ctx.stop();
  if (t.raw) {
    writeBytesAt(t.target.fd, readRaw(ctx.referencePath, t.raw.offset, t.raw.length), t.target.position, t.target.outPath, ctx.writeFn);
    ctx.onBytes(t.bytes);
    return;
  }
  const inputs = new ChunkedTensor(t.hfName!, t.numel, t.align, ctx.base, ctx.models, ctx.pool, ctx.stop);
  let reported = 0;
  ctx.impl.merge(
    inputs,
    t.params!,
    (start, values) => {
      writeAt(t.target, start, values, ctx.writeFn);
      const now = (t.bytes * (start + values.length)) / t.numel;
      ctx.onBytes(now - reported);
      reported = now;
    },
    hashName(t.hfName!),
  );
  ctx.onBytes(t.bytes - reported);
}
