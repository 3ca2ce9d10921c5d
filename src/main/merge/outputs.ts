/**
 * Merge outputs, written chunk by chunk at their final offsets: a Hugging Face folder (sharded
 * safetensors + index, the reference model's config and tokenizer files, mergekit_config.yml) or a
 * GGUF file (the reference's metadata, Q/K rows permuted back to GGUF order). Everything goes to a
 * temporary name beside the output and is renamed when complete; a failure (a full disk included)
 * or a cancel removes it, and an existing output is never overwritten.
 */
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { permuteQK } from '../engine/model/weights';
import { DTYPE_BYTES, encodeInto, type FloatDtype } from './codec';

/** The one write call the writers make (tests swap it for one that fails with ENOSPC). */
export type WriteFn = (fd: number, buf: Uint8Array, offset: number, length: number, position: number) => number;

export interface OutTensor {
  /** the name written: a Hugging Face name in a folder, a GGUF name in a .gguf */
  name: string;
  /** PyTorch order */
  shape: number[];
  dtype: FloatDtype;
  /** GGUF Q/K: rows per head (each head's rows are permuted into GGUF order) */
  headRows?: number;
}

export interface MergeWriter {
  /** the merged values [start, start + values.length) of tensor i (values may be changed) */
  write(i: number, start: number, values: Float32Array): void;
  /** finish the files and rename them into place */
  finish(): void;
  /** remove everything written */
  abort(): void;
}

const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** `.name.partial-<pid>` beside the output; stale ones left by a process that died are removed first. */
export function temporaryPath(outPath: string): string {
  const dir = dirname(outPath);
  const prefix = `.${basename(outPath)}.partial-`;
  if (existsSync(dir))
    for (const f of readdirSync(dir)) {
      if (!f.startsWith(prefix)) continue;
      const pid = Number(f.slice(prefix.length));
      if (Number.isInteger(pid) && pid !== process.pid && !processAlive(pid)) rmSync(join(dir, f), { recursive: true, force: true });
    }
  return join(dir, `${prefix}${process.pid}`);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function refuseExisting(outPath: string): void {
  if (existsSync(outPath)) throw new Error(`${outPath} already exists: choose a new name (a merge never overwrites)`);
}

/** Positioned writes of encoded chunks into one file. */
class DataFile {
  readonly fd: number;
  private buf = new Uint8Array(0);
  written = 0;
  constructor(
    readonly path: string,
    private readonly outPath: string,
    private readonly writeFn: WriteFn,
  ) {
    this.fd = openSync(path, 'wx');
  }
  writeBytes(bytes: Uint8Array, position: number): void {
    let done = 0;
    try {
      while (done < bytes.length) done += this.writeFn(this.fd, bytes, done, bytes.length - done, position + done);
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOSPC') throw new Error(`disk full while writing ${this.outPath} (${this.written + done} bytes written to ${basename(this.path)}): nothing was kept; free some space and run the merge again`);
      throw new Error(`writing ${this.outPath}: ${err.message}`);
    }
    this.written += bytes.length;
  }
  writeValues(values: Float32Array, dtype: FloatDtype, position: number): void {
    const n = values.length * DTYPE_BYTES[dtype];
    if (this.buf.length < n) this.buf = new Uint8Array(n);
    const b = this.buf.subarray(0, n);
    encodeInto(dtype, values, b);
    this.writeBytes(b, position);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** Source-folder files that hold weights (a merged folder writes its own). */
const WEIGHT_FILE = /(\.safetensors|\.bin|\.pt|\.pth|\.gguf|\.safetensors\.index\.json|\.bin\.index\.json)$/i;
const ADAPTER_FILE = /^adapter_(config\.json|model\.)/;
const TORCH_DTYPE: Record<FloatDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export interface HfWriterOptions {
  /** the folder whose config, tokenizer and other non-weight files are copied */
  sourceDir: string;
  maxShardBytes: number;
  /** written as mergekit_config.yml */
  mergeYaml?: string;
  writeFn: WriteFn;
}

/** A Hugging Face folder: shards planned up front, each with its header written first. */
export function createHfWriter(outPath: string, tensors: OutTensor[], opts: HfWriterOptions): MergeWriter {
  refuseExisting(outPath);
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = temporaryPath(outPath);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  const files: DataFile[] = [];
  const where: { file: DataFile; offset: number }[] = [];
  try {
    const shards: number[][] = [[]];
    let size = 0;
    tensors.forEach((t, i) => {
      const bytes = numelOf(t.shape) * DTYPE_BYTES[t.dtype];
      if (size > 0 && size + bytes > opts.maxShardBytes) {
        shards.push([]);
        size = 0;
      }
      shards.at(-1)!.push(i);
      size += bytes;
    });
    const pad = (n: number) => String(n).padStart(5, '0');
    const names = shards.length === 1 ? ['model.safetensors'] : shards.map((_, k) => `model-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`);
    const weightMap: Record<string, string> = {};
    let total = 0;
    shards.forEach((shard, k) => {
      const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
      let off = 0;
      const offsets: number[] = [];
      for (const i of shard) {
        const t = tensors[i]!;
        const n = numelOf(t.shape) * DTYPE_BYTES[t.dtype];
        header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
        offsets.push(off);
        off += n;
        weightMap[t.name] = names[k]!;
      }
      total += off;
      let json = JSON.stringify(header);
      json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
      const hb = Buffer.from(json, 'utf8');
      const head = Buffer.alloc(8 + hb.length);
      head.writeBigUInt64LE(BigInt(hb.length), 0);
      hb.copy(head, 8);
      const file = new DataFile(join(tmp, names[k]!), outPath, opts.writeFn);
      files.push(file);
      file.writeBytes(head, 0);
      shard.forEach((i, j) => (where[i] = { file, offset: head.length + offsets[j]! }));
    });
    if (shards.length > 1) writeFileSync(join(tmp, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  } catch (e) {
    for (const f of files) f.close();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const dtypes = new Set(tensors.map((t) => t.dtype));
  return {
    write(i, start, values) {
      const t = tensors[i]!;
      const w = where[i]!;
      w.file.writeValues(values, t.dtype, w.offset + start * DTYPE_BYTES[t.dtype]);
    },
    finish() {
      for (const f of files) f.close();
      files.length = 0;
      copySourceFiles(opts.sourceDir, tmp, dtypes.size === 1 ? TORCH_DTYPE[[...dtypes][0]!] : null);
      if (opts.mergeYaml) writeFileSync(join(tmp, 'mergekit_config.yml'), opts.mergeYaml);
      refuseExisting(outPath);
      renameSync(tmp, outPath);
    },
    abort() {
      for (const f of files) f.close();
      files.length = 0;
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** The source folder's config, tokenizer and other files (config.json's torch_dtype set to the output's). */
function copySourceFiles(src: string, dst: string, torchDtype: string | null): void {
  for (const f of readdirSync(src)) {
    const from = join(src, f);
    if (WEIGHT_FILE.test(f) || ADAPTER_FILE.test(f) || f === 'mergekit_config.yml' || !statSync(from).isFile()) continue;
    if (f === 'config.json' && torchDtype) {
      const cfg = JSON.parse(readFileSync(from, 'utf8')) as Record<string, unknown>;
      cfg['torch_dtype'] = torchDtype;
      writeFileSync(join(dst, f), JSON.stringify(cfg, null, 2) + '\n');
    } else copyFileSync(from, join(dst, f));
  }
}

export interface GgufWriterOptions {
  /** the encoded header (metadata and tensor infos), as encodeGgufHeader returns it */
  header: Buffer;
  offsets: number[];
  dataBytes: number;
  writeFn: WriteFn;
}

/** A GGUF file: header first, then each tensor's chunks at their offsets. */
export function createGgufWriter(outPath: string, tensors: OutTensor[], opts: GgufWriterOptions): MergeWriter & { writeRaw(i: number, bytes: Uint8Array): void } {
  refuseExisting(outPath);
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = temporaryPath(outPath);
  rmSync(tmp, { force: true });
  const file = new DataFile(tmp, outPath, opts.writeFn);
  let open = true;
  const close = () => {
    if (open) file.close();
    open = false;
  };
  try {
    file.writeBytes(opts.header, 0);
  } catch (e) {
    close();
    rmSync(tmp, { force: true });
    throw e;
  }
  const dataStart = opts.header.length;
  return {
    write(i, start, values) {
      const t = tensors[i]!;
      let v = values;
      if (t.headRows) {
        const rowLen = t.shape.length > 1 ? t.shape[1]! : 1;
        v = permuteQK(values, values.length / (t.headRows * rowLen), rowLen);
      }
      file.writeValues(v, t.dtype, dataStart + opts.offsets[i]! + start * DTYPE_BYTES[t.dtype]);
    },
    writeRaw(i, bytes) {
      file.writeBytes(bytes, dataStart + opts.offsets[i]!);
    },
    finish() {
      ftruncateSync(file.fd, dataStart + opts.dataBytes);
      close();
      refuseExisting(outPath);
      renameSync(tmp, outPath);
    },
    abort() {
      close();
      rmSync(tmp, { force: true });
    },
  };
}
