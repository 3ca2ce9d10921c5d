/**
 * Streaming safetensors reader and writer. The header is parsed with one small read; tensors are
 * read with positioned reads one at a time (F32, F16, BF16 → float32; integer types raw). Sharded
 * checkpoints are followed through model.safetensors.index.json. The writer streams tensor by tensor.
 */
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { bf16BitsToFloat32, floatToHalf, halfBitsToFloat32, u16View } from '../graph/builder';
import type { WeightSource } from '../model/weights';

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

export class SafetensorsError extends Error {}

export class SafetensorsFile {
  readonly tensors = new Map<string, StTensorInfo>();
  readonly metadata: Record<string, string> = {};
  readonly dataStart: number;

  constructor(readonly path: string) {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(`${path}: not a safetensors file (${size} bytes)`);
      const hb = Buffer.alloc(8);
      readSync(fd, hb, 0, 8, 0);
      const n = Number(hb.readBigUInt64LE(0));
      if (n <= 0 || n > 100_000_000 || 8 + n > size) throw new SafetensorsError(`${path}: corrupt or truncated header (declared header size ${n}, file size ${size})`);
      const jb = Buffer.alloc(n);
      readSync(fd, jb, 0, n, 8);
      let header: Record<string, unknown>;
      try {
        header = JSON.parse(jb.toString('utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new SafetensorsError(`${path}: header is not valid JSON (${(e as Error).message})`);
      }
      this.dataStart = 8 + n;
      for (const [name, v] of Object.entries(header)) {
        if (name === '__metadata__') {
          Object.assign(this.metadata, v as Record<string, string>);
          continue;
        }
        const t = v as { dtype: StDtype; shape: number[]; data_offsets: [number, number] };
        if (!t || !Array.isArray(t.shape) || !Array.isArray(t.data_offsets)) throw new SafetensorsError(`${path}: tensor ${name} has a malformed header entry`);
        const bytes = ST_BYTES[t.dtype];
        if (!bytes) throw new SafetensorsError(`${path}: tensor ${name} has unsupported dtype ${t.dtype}`);
        const count = t.shape.reduce((a, b) => a * b, 1);
        const [b0, b1] = t.data_offsets;
        if (b1 - b0 !== count * bytes)
          throw new SafetensorsError(`${path}: tensor ${name}: ${b1 - b0} bytes for shape [${t.shape.join(', ')}] ${t.dtype}`);
        if (this.dataStart + b1 > size)
          throw new SafetensorsError(`${path}: truncated file: tensor ${name} ends at byte ${this.dataStart + b1}, file has ${size}`);
        this.tensors.set(name, { name, dtype: t.dtype, shape: t.shape, begin: this.dataStart + b0, end: this.dataStart + b1 });
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
      const j = JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, string> };
      if (!j.weight_map) throw new SafetensorsError(`${index}: missing weight_map`);
      shardNames = [...new Set(Object.values(j.weight_map))];
      for (const s of shardNames) if (!existsSync(join(dir, s))) throw new SafetensorsError(`${index}: shard ${s} is missing from ${dir}`);
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
    if (prefixMap) for (const f of this.files.values()) for (const n of f.tensors.keys()) {
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
        const b = Buffer.alloc(count * 2);
        if (t.dtype === 'F16') for (let i = 0; i < count; i++) b.writeUInt16LE(floatToHalf(f[i]!), i * 2);
        else {
          const u = new Uint32Array(f.buffer, f.byteOffset, count);
          for (let i = 0; i < count; i++) {
            const x = u[i]!;
            // round to nearest even
            b.writeUInt16LE(((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff, i * 2);
          }
        }
        writeSync(fd, b);
      }
    }
  } finally {
    closeSync(fd);
  }
}
