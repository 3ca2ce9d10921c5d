/**
 * Streaming safetensors reader and writer. The header is parsed with one small read; tensors are
 * read with positioned reads one at a time (F32, F16, BF16 → float32; integer types raw). Sharded
 * checkpoints are followed through model.safetensors.index.json. The writer streams tensor by tensor.
 * Every claim of the header (its length, each dtype, shape and byte range) is checked against the
 * file before anything is allocated by it.
 */
import { closeSync, existsSync, openSync, readSync, writeSync } from 'node:fs';
import { basename, join } from 'node:path';
import { bf16BitsToFloat32, float32ToBf16Bits, float32ToHalfBits, halfBitsToFloat32, u16View } from '../half';
import type { WeightSource } from '../model/weights';
import { describeJson, fileSize, isPlainObject, ModelFileError, readJsonObject } from '../files';

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL' | 'F8_E4M3' | 'F8_E5M2';

const ST_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

export interface StTensorInfo {
  name: string;
  dtype: StDtype;
  shape: number[];
  /** absolute file offsets */
  begin: number;
  end: number;
}

export class SafetensorsError extends ModelFileError {}

/** The safetensors format's own bound on the JSON header (the reference implementation refuses more). */
export const MAX_HEADER_BYTES = 100_000_000;
/** model.safetensors.index.json lists one line per tensor: a few megabytes at most. */
const MAX_INDEX_BYTES = 64 * 2 ** 20;

/** One header entry, checked: dtype known, shape of whole numbers, byte range inside the data and matching dtype × shape. */
function tensorEntry(path: string, name: string, v: unknown, dataStart: number, size: number): StTensorInfo {
  const bad = (why: string) => new SafetensorsError(`${path}: tensor ${JSON.stringify(name)}: ${why}`);
  if (!isPlainObject(v)) throw bad(`header entry is ${describeJson(v)}, expected an object with dtype, shape and data_offsets`);
  const dtype = v['dtype'];
  if (typeof dtype !== 'string' || !Object.hasOwn(ST_BYTES, dtype)) throw bad(`unsupported dtype ${describeJson(dtype)}`);
  const shape = v['shape'];
  if (!Array.isArray(shape) || shape.length > 8) throw bad(`shape is ${describeJson(shape)}, expected a list of at most 8 sizes`);
  let count = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0)
      throw bad(`shape [${shape.map((x) => describeJson(x)).join(', ')}] holds ${describeJson(d)}, not a size`);
    count *= d;
    if (count > size) throw bad(`shape [${shape.join(', ')}] claims more elements than the file has bytes (${size})`);
  }
  const offsets = v['data_offsets'];
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0))
    throw bad(
      `data_offsets ${Array.isArray(offsets) ? `[${offsets.map((x) => describeJson(x)).join(', ')}]` : describeJson(offsets)} is not a pair of byte offsets`,
    );
  const [b0, b1] = offsets as [number, number];
  if (b1 < b0) throw bad(`data_offsets [${b0}, ${b1}] end before they begin`);
  const bytes = count * ST_BYTES[dtype]!;
  if (b1 - b0 !== bytes) throw bad(`${b1 - b0} bytes for shape [${shape.join(', ')}] ${dtype} (${bytes} expected)`);
  if (dataStart + b1 > size) throw new SafetensorsError(`${path}: truncated file: tensor ${name} ends at byte ${dataStart + b1}, file has ${size}`);
  return { name, dtype: dtype as StDtype, shape: shape as number[], begin: dataStart + b0, end: dataStart + b1 };
}

export class SafetensorsFile {
  readonly tensors = new Map<string, StTensorInfo>();
  /** the header's __metadata__ (a prototype-free object: any key is plain data) */
  readonly metadata: Record<string, string> = Object.create(null) as Record<string, string>;
  readonly dataStart: number;

  constructor(readonly path: string) {
    const size = fileSize(path, 'safetensors file');
    if (size < 8) throw new SafetensorsError(`${path}: not a safetensors file (${size} bytes)`);
    const fd = openSync(path, 'r');
    try {
      const hb = Buffer.alloc(8);
      readSync(fd, hb, 0, 8, 0);
      const declared = hb.readBigUInt64LE(0);
      if (declared === 0n || declared > BigInt(Math.min(MAX_HEADER_BYTES, size - 8)))
        throw new SafetensorsError(
          `${path}: corrupt or truncated header (declared header size ${declared}, file size ${size}${declared > BigInt(MAX_HEADER_BYTES) ? `, at most ${MAX_HEADER_BYTES}` : ''})`,
        );
      const n = Number(declared);
      // the header is a JSON object: refuse anything else before reading (up to 100 MB of) it
      const first = Buffer.alloc(1);
      readSync(fd, first, 0, 1, 8);
      if (first[0] !== 0x7b) throw new SafetensorsError(`${path}: header is not a JSON object (it does not start with "{")`);
      const jb = Buffer.alloc(n);
      readSync(fd, jb, 0, n, 8);
      let header: unknown;
      try {
        header = JSON.parse(jb.toString('utf8'));
      } catch (e) {
        throw new SafetensorsError(`${path}: header is not valid JSON (${(e as Error).message})`);
      }
      if (!isPlainObject(header)) throw new SafetensorsError(`${path}: header is ${describeJson(header)}, expected an object of tensors`);
      this.dataStart = 8 + n;
      for (const [name, v] of Object.entries(header)) {
        if (name === '__metadata__') {
          if (!isPlainObject(v)) throw new SafetensorsError(`${path}: __metadata__ is ${describeJson(v)}, expected an object of strings`);
          for (const [k, x] of Object.entries(v)) {
            if (typeof x !== 'string') throw new SafetensorsError(`${path}: __metadata__ ${JSON.stringify(k)} is ${describeJson(x)}, expected a string`);
            this.metadata[k] = x;
          }
          continue;
        }
        this.tensors.set(name, tensorEntry(path, name, v, this.dataStart, size));
      }
    } finally {
      closeSync(fd);
    }
  }

  info(name: string): StTensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new SafetensorsError(`${this.path}: no tensor ${name}`);
    return t;
  }

  readBytes(name: string): Buffer {
    const t = this.info(name);
    const fd = openSync(this.path, 'r');
    try {
      const b = Buffer.allocUnsafe(t.end - t.begin);
      let done = 0;
      while (done < b.length) {
        const n = readSync(fd, b, done, Math.min(b.length - done, 1 << 30), t.begin + done);
        if (n <= 0) throw new SafetensorsError(`${this.path}: truncated while reading ${name}`);
        done += n;
      }
      return b;
    } finally {
      closeSync(fd);
    }
  }

  /** Tensor as float32 (F32 copied, F16/BF16/F64 converted). */
  readF32(name: string): Float32Array {
    const t = this.info(name);
    const b = this.readBytes(name);
    const n = b.length / ST_BYTES[t.dtype]!;
    const out = new Float32Array(n);
    switch (t.dtype) {
      case 'F32':
        new Uint8Array(out.buffer).set(b);
        return out;
      case 'F16':
        return halfBitsToFloat32(u16View(b, n), out);
      case 'BF16':
        return bf16BitsToFloat32(u16View(b, n), out);
      case 'F64':
        for (let i = 0; i < n; i++) out[i] = b.readDoubleLE(i * 8);
        return out;
      default:
        throw new SafetensorsError(`${this.path}: tensor ${name} has dtype ${t.dtype}, not a float type`);
    }
  }
}

/** All tensors of a model folder: model.safetensors or shards listed in model.safetensors.index.json. */
export class SafetensorsWeights implements WeightSource {
  readonly origin: string;
  private readonly files = new Map<string, SafetensorsFile>();
  private readonly where = new Map<string, SafetensorsFile>();

  constructor(dir: string, prefixMap?: (name: string) => string | null) {
    this.origin = dir;
    const index = join(dir, 'model.safetensors.index.json');
    const single = join(dir, 'model.safetensors');
    let shardNames: string[];
    if (existsSync(index)) {
      const map = readJsonObject(index, 'safetensors index', MAX_INDEX_BYTES)['weight_map'];
      if (!isPlainObject(map))
        throw new SafetensorsError(`${index}: weight_map is ${map === undefined ? 'missing' : describeJson(map)}, expected an object of tensor → shard file`);
      shardNames = [...new Set(Object.values(map))].map((s) => {
        // a shard is a file beside the index: no folders, no way out of the model folder
        if (typeof s !== 'string' || s !== basename(s) || s === '.' || s === '..' || s.includes('\\'))
          throw new SafetensorsError(`${index}: shard ${describeJson(s)} is not a file name in the model folder`);
        if (!existsSync(join(dir, s))) throw new SafetensorsError(`${index}: shard ${s} is missing from ${dir}`);
        return s;
      });
    } else if (existsSync(single)) shardNames = ['model.safetensors'];
    else throw new SafetensorsError(`${dir}: no model.safetensors or model.safetensors.index.json (only .safetensors weights are supported)`);
    for (const s of shardNames) {
      const f = new SafetensorsFile(join(dir, s));
      this.files.set(s, f);
      for (const name of f.tensors.keys()) {
        const mapped = prefixMap ? prefixMap(name) : name;
        if (mapped) this.where.set(mapped, f);
      }
    }
    this.rename = new Map();
    if (prefixMap)
      for (const f of this.files.values())
        for (const n of f.tensors.keys()) {
          const m = prefixMap(n);
          if (m) this.rename.set(m, n);
        }
  }
  private readonly rename: Map<string, string>;
  private raw(name: string): string {
    return this.rename.get(name) ?? name;
  }
  names(): string[] {
    return [...this.where.keys()];
  }
  has(name: string): boolean {
    return this.where.has(name);
  }
  private file(name: string): SafetensorsFile {
    const f = this.where.get(name);
    if (!f) throw new SafetensorsError(`${this.origin}: missing tensor ${name}`);
    return f;
  }
  shape(name: string): number[] {
    return this.file(name).info(this.raw(name)).shape.slice();
  }
  dtype(name: string): string {
    return this.file(name).info(this.raw(name)).dtype;
  }
  f32(name: string): Float32Array {
    return this.file(name).readF32(this.raw(name));
  }
  /** total bytes of tensor data */
  totalBytes(): number {
    let s = 0;
    for (const f of this.files.values()) for (const t of f.tensors.values()) s += t.end - t.begin;
    return s;
  }
}

export interface StTensorSource {
  name: string;
  shape: number[];
  dtype: 'F32' | 'F16' | 'BF16';
  /** float32 data, called once when the tensor is written */
  data: () => Float32Array;
}

/** Write a safetensors file, one tensor at a time. */
export function writeSafetensors(path: string, tensors: StTensorSource[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * ST_BYTES[t.dtype]!;
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, len);
    writeSync(fd, hb);
    for (const t of tensors) {
      const f = t.data();
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (f.length !== count) throw new SafetensorsError(`writeSafetensors: ${t.name} has ${f.length} values for shape [${t.shape.join(', ')}]`);
      if (t.dtype === 'F32') writeSync(fd, new Uint8Array(f.buffer, f.byteOffset, f.byteLength));
      else {
        const bits = new Uint16Array(count);
        if (t.dtype === 'F16') float32ToHalfBits(f, bits);
        else float32ToBf16Bits(f, bits);
        writeSync(fd, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
      }
    }
  } finally {
    closeSync(fd);
  }
}
