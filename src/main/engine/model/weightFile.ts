/**
 * Tensors are page-aligned (4096): onnxruntime memory-maps only page-aligned external data and
 * reads unaligned tensors into heap memory (measured on the 100M model with 64-byte alignment:
 * 297 vs 105 MB peak RSS while creating the session, 538 vs 496 MB after generating).
 *
 * Streams frozen weights into one external-data file next to a saved model, so a model larger than
 * memory can be compiled and onnxruntime can memory-map the weights when loading by path.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Graph, Value } from '../graph';

type StoredDtype = 'float32' | 'float16' | 'uint8';

interface IndexEntry {
  offset: number;
  length: number;
  dtype: StoredDtype;
}

/**
 * Several graphs of one model (KV-cache step, full sequence) share one weights file: tensors already
 * in weights.json (the index, saved by close()) are referenced again instead of being rewritten.
 * The same array stored under two names (e.g. quantised embedding codes seen as MatMulNBits blocks
 * and as GatherBlockQuantized rows) is written once and both names point at it.
 */
export class WeightFileWriter {
  private fd: number;
  private offset = 0;
  readonly fileName: string;
  private readonly index: Record<string, IndexEntry> = {};
  private readonly indexPath: string;
  private readonly written = new WeakMap<ArrayBufferView, IndexEntry>();

  constructor(
    readonly dir: string,
    fileName = 'weights.bin',
    private readonly align = 4096,
  ) {
    this.fileName = fileName;
    this.indexPath = join(dir, `${fileName}.json`);
    const path = join(dir, fileName);
    if (existsSync(path) && existsSync(this.indexPath)) {
      Object.assign(this.index, JSON.parse(readFileSync(this.indexPath, 'utf8')) as Record<string, IndexEntry>);
      this.fd = openSync(path, 'r+');
      this.offset = fstatSync(this.fd).size;
    } else this.fd = openSync(path, 'w');
  }

  /** Append a tensor (or reuse an identical earlier one) and declare it as a file-backed initializer. */
  store = (g: Graph, name: string, data: Float32Array | Uint16Array | Uint8Array, shape: number[], dtype: StoredDtype = 'float32'): Value => {
    const known = this.index[`${name}:${dtype}`];
    if (known && known.length === data.byteLength) return g.fileWeight(name, dtype, shape, this.fileName, known.offset, known.length);
    const same = this.written.get(data);
    if (same && same.dtype === dtype) {
      this.index[`${name}:${dtype}`] = same;
      return g.fileWeight(name, dtype, shape, this.fileName, same.offset, same.length);
    }
    const pad = (this.align - (this.offset % this.align)) % this.align;
    if (pad) {
      writeSync(this.fd, new Uint8Array(pad), 0, pad, this.offset);
      this.offset += pad;
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, Math.min(bytes.length - done, 1 << 30), this.offset + done);
    const entry = { offset: this.offset, length: bytes.length, dtype };
    this.index[`${name}:${dtype}`] = entry;
    this.written.set(data, entry);
    const v = g.fileWeight(name, dtype, shape, this.fileName, this.offset, bytes.length);
    this.offset += bytes.length;
    return v;
  };

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      writeFileSync(this.indexPath, JSON.stringify(this.index));
    }
    this.fd = -1;
  }
}
