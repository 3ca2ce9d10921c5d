/**
 * Merge outputs, written chunk by chunk at their final offsets: a Hugging Face folder (sharded
 * safetensors + index, the reference model's config and tokenizer files, mergekit_config.yml) or a
 * GGUF file (the reference's metadata, Q/K rows permuted back to GGUF order). Everything goes to a
 * temporary name beside the output and is renamed when complete; a failure (a full disk included)
 * or a cancel removes it, and an existing output is never overwritten. A writer hands out one
 * write target per tensor (file, offset, dtype): any thread can write its chunks there.
 */
import {
  closeSync,
  copyFileSync,
  existsSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { permuteQK } from '../engine/gguf/weights';
import { DTYPE_BYTES, encodedBytes, type FloatDtype } from './codec';

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
    if (err.code === 'ENOSPC')
      throw new Error(`disk full while writing ${outPath} (at byte ${position + done}): nothing was kept; free some space and run the merge again`);
    throw new Error(`writing ${outPath}: ${err.message}`);
  }
}

/** Encode merged values [start, start + values.length) of a tensor and write them at its target (values may be changed). */
export function writeAt(t: WriteTarget, start: number, values: Float32Array, writeFn: WriteFn = fsWrite): void {
  let v = values;
  if (t.headRows) v = permuteQK(values, values.length / (t.headRows * t.rowLen), t.rowLen);
  writeBytesAt(t.fd, encodedBytes(t.dtype, v), t.position + start * DTYPE_BYTES[t.dtype], t.outPath, writeFn);
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

/** A non-weight file of the output folder: copied from the source folder, or written from `text`. */
export interface ExtraFile {
  name: string;
  /** the file to copy (when `text` is absent) */
  from?: string;
  text?: string;
  bytes: number;
}

/** One safetensors file of a folder output: its header and the tensors it holds at their data offsets. */
export interface HfShard {
  file: string;
  /** the 8-byte length and the JSON header, as written */
  head: Buffer;
  /** indexes into the writer's tensors, with their data offsets */
  tensors: number[];
  offsets: number[];
  dataBytes: number;
}

/**
 * Where a folder output puts every byte, computed before anything is written (the merge plan's
 * sizes come from it): the shards with their headers, the index (several shards), and the other files.
 */
export interface HfLayout {
  shards: HfShard[];
  /** model.safetensors.index.json (null for a single model.safetensors) */
  index: string | null;
  extras: ExtraFile[];
}

/** Shards of at most `maxShardBytes` of data (Hugging Face's layout), the index, and the source folder's files. */
export function layoutHfFolder(tensors: OutTensor[], opts: { sourceDir: string; maxShardBytes: number; mergeYaml?: string | undefined }): HfLayout {
  const groups: number[][] = [[]];
  let size = 0;
  tensors.forEach((t, i) => {
    const bytes = numelOf(t.shape) * DTYPE_BYTES[t.dtype];
    if (size > 0 && size + bytes > opts.maxShardBytes) {
      groups.push([]);
      size = 0;
    }
    groups.at(-1)!.push(i);
    size += bytes;
  });
  const pad = (n: number) => String(n).padStart(5, '0');
  const names = groups.length === 1 ? ['model.safetensors'] : groups.map((_, k) => `model-${pad(k + 1)}-of-${pad(groups.length)}.safetensors`);
  const weightMap: Record<string, string> = {};
  let total = 0;
  const shards = groups.map((group, k): HfShard => {
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    const offsets: number[] = [];
    for (const i of group) {
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
    return { file: names[k]!, head, tensors: group, offsets, dataBytes: off };
  });
  const index = shards.length > 1 ? JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2) : null;
  const dtypes = new Set(tensors.map((t) => t.dtype));
  const extras = sourceFiles(opts.sourceDir, dtypes.size === 1 ? TORCH_DTYPE[[...dtypes][0]!] : null);
  if (opts.mergeYaml) extras.push({ name: 'mergekit_config.yml', text: opts.mergeYaml, bytes: Buffer.byteLength(opts.mergeYaml) });
  return { shards, index, extras };
}

/** Bytes of a folder output once written: the shards, the index and the other files. */
export function hfLayoutBytes(l: HfLayout): number {
  return (
    l.shards.reduce((s, sh) => s + sh.head.length + sh.dataBytes, 0) +
    (l.index === null ? 0 : Buffer.byteLength(l.index)) +
    l.extras.reduce((s, f) => s + f.bytes, 0)
  );
}

/** A folder output: each shard's header written first, its tensors at their offsets by the targets. */
export function createHfWriter(outPath: string, tensors: OutTensor[], layout: HfLayout, writeFn: WriteFn): MergeWriter {
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
    for (const shard of layout.shards) {
      const fd = openSync(join(tmp, shard.file), 'wx');
      fds.push(fd);
      writeBytesAt(fd, shard.head, 0, outPath, writeFn);
      shard.tensors.forEach(
        (i, j) => (targets[i] = { fd, position: shard.head.length + shard.offsets[j]!, dtype: tensors[i]!.dtype, rowLen: tensors[i]!.shape[1] ?? 1, outPath }),
      );
    }
    if (layout.index !== null) writeFileSync(join(tmp, 'model.safetensors.index.json'), layout.index);
  } catch (e) {
    closeAll();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return {
    targets,
    finish() {
      closeAll();
      for (const f of layout.extras) {
        if (f.text !== undefined) writeFileSync(join(tmp, f.name), f.text);
        else copyFileSync(f.from!, join(tmp, f.name));
      }
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
function sourceFiles(src: string, torchDtype: string | null): ExtraFile[] {
  const files: ExtraFile[] = [];
  for (const f of readdirSync(src)) {
    const from = join(src, f);
    if (WEIGHT_FILE.test(f) || ADAPTER_FILE.test(f) || f === 'mergekit_config.yml') continue;
    const st = statSync(from);
    if (!st.isFile()) continue;
    if (f === 'config.json' && torchDtype) {
      const cfg = JSON.parse(readFileSync(from, 'utf8')) as Record<string, unknown>;
      cfg['torch_dtype'] = torchDtype;
      const text = JSON.stringify(cfg, null, 2) + '\n';
      files.push({ name: f, text, bytes: Buffer.byteLength(text) });
    } else files.push({ name: f, from, bytes: st.size });
  }
  return files;
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
    targets: tensors.map((t, i) => ({
      fd,
      position: dataStart + opts.offsets[i]!,
      dtype: t.dtype,
      ...(t.headRows ? { headRows: t.headRows } : {}),
      rowLen: t.shape[1] ?? 1,
      outPath,
    })),
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
