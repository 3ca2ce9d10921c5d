/**
 * Merge outputs, written chunk by chunk at their final offsets: a Hugging Face folder (sharded
 * safetensors + index, the reference model's config and tokenizer files, mergekit_config.yml) or a
 * GGUF file (the reference's metadata, Q/K rows permuted back to GGUF order). Everything goes to a
 * temporary name beside the output and is renamed when complete; a failure (a full disk included)
 * or a cancel removes it, and an existing output is never overwritten. A writer hands out one
 * write target per tensor (file, offset, dtype): any thread can write its chunks there.
 */
import { closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { permuteQK } from '../engine/gguf/weights';
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

/** Where one tensor's data goes: a file descriptor and offset, its dtype and row order. */
export interface WriteTarget {
  fd: number;
  /** file offset of the tensor's first value */
  position: number;
  dtype: FloatDtype;
  /** GGUF Q/K: rows per head (each head's rows are permuted into GGUF order) */
  headRows?: number;
  /** values per row (for the Q/K permutation) */
  rowLen: number;
  /** the output, for messages */
  outPath: string;
}

export interface MergeWriter {
  /** one per tensor, in order */
  readonly targets: WriteTarget[];
  /** finish the files and rename them into place */
  finish(): void;
  /** remove everything written */
  abort(): void;
}

export const fsWrite: WriteFn = (fd, buf, off, len, pos) => writeSync(fd, buf, off, len, pos);

/** Write raw bytes at a position, retrying short writes; a full disk is reported as such. */
export function writeBytesAt(fd: number, bytes: Uint8Array, position: number, outPath: string, writeFn: WriteFn = fsWrite): void {
  let done = 0;
  try {
    while (done < bytes.length) done += writeFn(fd, bytes, done, bytes.length - done, position + done);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOSPC') throw new Error(`disk full while writing ${outPath} (at byte ${position + done}): nothing was kept; free some space and run the merge again`);
    throw new Error(`writing ${outPath}: ${err.message}`);
  }
}

/** This thread's encode buffer (reused: a chunk is written before the next is encoded). */
let encodeBuffer = new Uint8Array(0);

/** Encode merged values [start, start + values.length) of a tensor and write them at its target (values may be changed). */
export function writeAt(t: WriteTarget, start: number, values: Float32Array, writeFn: WriteFn = fsWrite): void {
  let v = values;
  if (t.headRows) v = permuteQK(values, values.length / (t.headRows * t.rowLen), t.rowLen);
  const n = v.length * DTYPE_BYTES[t.dtype];
  if (encodeBuffer.length < n) encodeBuffer = new Uint8Array(n);
  const b = encodeBuffer.subarray(0, n);
  encodeInto(t.dtype, v, b);
  writeBytesAt(t.fd, b, t.position + start * DTYPE_BYTES[t.dtype], t.outPath, writeFn);
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
  const fds: number[] = [];
  const closeAll = () => {
    for (const fd of fds.splice(0)) closeSync(fd);
  };
  const targets: WriteTarget[] = [];
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
      const fd = openSync(join(tmp, names[k]!), 'wx');
      fds.push(fd);
      writeBytesAt(fd, head, 0, outPath, opts.writeFn);
      shard.forEach((i, j) => (targets[i] = { fd, position: head.length + offsets[j]!, dtype: tensors[i]!.dtype, rowLen: tensors[i]!.shape[1] ?? 1, outPath }));
    });
    if (shards.length > 1) writeFileSync(join(tmp, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  } catch (e) {
    closeAll();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  const dtypes = new Set(tensors.map((t) => t.dtype));
  return {
    targets,
    finish() {
      closeAll();
      copySourceFiles(opts.sourceDir, tmp, dtypes.size === 1 ? TORCH_DTYPE[[...dtypes][0]!] : null);
      if (opts.mergeYaml) writeFileSync(join(tmp, 'mergekit_config.yml'), opts.mergeYaml);
      refuseExisting(outPath);
      renameSync(tmp, outPath);
    },
    abort() {
      closeAll();
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
export function createGgufWriter(outPath: string, tensors: OutTensor[], opts: GgufWriterOptions): MergeWriter {
  refuseExisting(outPath);
  mkdirSync(dirname(outPath), { recursive: true });
  const tmp = temporaryPath(outPath);
  rmSync(tmp, { force: true });
  const fd = openSync(tmp, 'wx');
  let open = true;
  const close = () => {
    if (open) closeSync(fd);
    open = false;
  };
  try {
    writeBytesAt(fd, opts.header, 0, outPath, opts.writeFn);
  } catch (e) {
    close();
    rmSync(tmp, { force: true });
    throw e;
  }
  const dataStart = opts.header.length;
  return {
    targets: tensors.map((t, i) => ({ fd, position: dataStart + opts.offsets[i]!, dtype: t.dtype, ...(t.headRows ? { headRows: t.headRows } : {}), rowLen: t.shape[1] ?? 1, outPath })),
    finish() {
      ftruncateSync(fd, dataStart + opts.dataBytes);
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
