/**
 * GGUF reader (v2/v3; v1 read best-effort): metadata, tensor infos and positioned tensor reads with
 * dequantisation (F32, F16, BF16 and the block formats of quants.ts: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,
 * Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS). The file is never read whole: the header is parsed
 * through a chunked buffered reader and each tensor is read on demand. Every count, length and
 * offset the header claims is checked against the bytes left in the file and against GGUF_LIMITS
 * before anything is allocated by it.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { bf16BitsToFloat32, halfBitsToFloat32, u16View } from '../half';
import { fileSize, ModelFileError } from '../files';
import { QUANT_BLOCK, dequantizeBlocks, isBlockQuant } from './quants';

export const GGML_TYPE = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q5_0: 6,
  Q5_1: 7,
  Q8_0: 8,
  Q8_1: 9,
  Q2_K: 10,
  Q3_K: 11,
  Q4_K: 12,
  Q5_K: 13,
  Q6_K: 14,
  Q8_K: 15,
  IQ2_XXS: 16,
  IQ2_XS: 17,
  IQ3_XXS: 18,
  IQ1_S: 19,
  IQ4_NL: 20,
  IQ3_S: 21,
  IQ2_S: 22,
  IQ4_XS: 23,
  I8: 24,
  I16: 25,
  I32: 26,
  I64: 27,
  F64: 28,
  IQ1_M: 29,
  BF16: 30,
} as const;

export const GGML_TYPE_NAME: Record<number, string> = Object.fromEntries(Object.entries(GGML_TYPE).map(([k, v]) => [v, k]));

/** [block size in elements, bytes per block] for the types we can read. */
const BLOCK: Record<number, [number, number]> = {
  [GGML_TYPE.F32]: [1, 4],
  [GGML_TYPE.F16]: [1, 2],
  [GGML_TYPE.BF16]: [1, 2],
  ...QUANT_BLOCK,
};

/** Block geometry for types we only size (so tensor offsets can still be validated). */
const BLOCK_SIZE_ONLY: Record<number, [number, number]> = {
  [GGML_TYPE.Q8_1]: [32, 36],
  [GGML_TYPE.Q8_K]: [256, 292],
  [GGML_TYPE.I8]: [1, 1],
  [GGML_TYPE.I16]: [1, 2],
  [GGML_TYPE.I32]: [1, 4],
  [GGML_TYPE.I64]: [1, 8],
  [GGML_TYPE.F64]: [1, 8],
};

export class GgufError extends ModelFileError {
  constructor(message: string) {
    super(message);
    this.name = 'GgufError';
  }
}

/**
 * What a GGUF header may claim. Real files hold a few dozen metadata entries, vocabularies of up
 * to ~260 000 tokens (and as many merges), a few thousand tensors of at most 4 dims (ggml's limit),
 * and strings of at most a few megabytes (an embedded tokenizer.json).
 */
export const GGUF_LIMITS = {
  metadataEntries: 65_536,
  arrayLength: 4_194_304,
  /** elements of all metadata arrays together */
  arrayElements: 8_388_608,
  arrayDepth: 4,
  stringBytes: 64 * 2 ** 20,
  tensors: 65_536,
  tensorDims: 4,
} as const;

/** Smallest encoding of each metadata value type in bytes (v2+; v1 has 4-byte lengths). */
function minValueBytes(type: number, v1: boolean): number {
  switch (type) {
    case 0:
    case 1:
    case 7:
      return 1;
    case 2:
    case 3:
      return 2;
    case 4:
    case 5:
    case 6:
      return 4;
    case 8:
      return v1 ? 4 : 8;
    case 9:
      return v1 ? 8 : 12;
    case 10:
    case 11:
    case 12:
      return 8;
    default:
      return -1;
  }
}

export type GgufValue = number | bigint | boolean | string | GgufValue[];

export interface GgufTensorInfo {
  name: string;
  /** ggml order: dims[0] is the fastest-varying (row length) */
  dims: number[];
  type: number;
  typeName: string;
  /** offset relative to the data section */
  offset: number;
  /** absolute file offset */
  fileOffset: number;
  byteLength: number;
  numElements: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  tensorMap: Map<string, GgufTensorInfo>;
  alignment: number;
  dataOffset: number;
  fileSize: number;
}

class ChunkReader {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly file: string,
  ) {}
  private ensure(n: number, what: string): void {
    if (this.pos + n > this.size) throw new GgufError(`${this.file}: truncated file while reading ${what} at byte ${this.pos} (file has ${this.size} bytes)`);
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.max(n, 1 << 20);
    const b = Buffer.alloc(Math.min(len, this.size - this.pos));
    readSync(this.fd, b, 0, b.length, this.pos);
    this.buf = b;
    this.bufStart = this.pos;
  }
  private at(): number {
    return this.pos - this.bufStart;
  }
  u8(what = 'u8'): number {
    this.ensure(1, what);
    const v = this.buf.readUInt8(this.at());
    this.pos += 1;
    return v;
  }
  i8(what = 'i8'): number {
    this.ensure(1, what);
    const v = this.buf.readInt8(this.at());
    this.pos += 1;
    return v;
  }
  u16(what = 'u16'): number {
    this.ensure(2, what);
    const v = this.buf.readUInt16LE(this.at());
    this.pos += 2;
    return v;
  }
  i16(what = 'i16'): number {
    this.ensure(2, what);
    const v = this.buf.readInt16LE(this.at());
    this.pos += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.ensure(4, what);
    const v = this.buf.readUInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  i32(what = 'i32'): number {
    this.ensure(4, what);
    const v = this.buf.readInt32LE(this.at());
    this.pos += 4;
    return v;
  }
  f32(what = 'f32'): number {
    this.ensure(4, what);
    const v = this.buf.readFloatLE(this.at());
    this.pos += 4;
    return v;
  }
  f64(what = 'f64'): number {
    this.ensure(8, what);
    const v = this.buf.readDoubleLE(this.at());
    this.pos += 8;
    return v;
  }
  u64(what = 'u64'): bigint {
    this.ensure(8, what);
    const v = this.buf.readBigUInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  i64(what = 'i64'): bigint {
    this.ensure(8, what);
    const v = this.buf.readBigInt64LE(this.at());
    this.pos += 8;
    return v;
  }
  /** u64 that must fit a JS number */
  num64(what: string, limit = Number.MAX_SAFE_INTEGER): number {
    const v = this.u64(what);
    if (v > BigInt(limit)) throw new GgufError(`${this.file}: corrupt header: ${what} = ${v} is implausible`);
    return Number(v);
  }
  bytes(n: number, what: string): Buffer {
    this.ensure(n, what);
    const v = this.buf.subarray(this.at(), this.at() + n);
    this.pos += n;
    return v;
  }
}

/** Header parsing state: the reader, the format version and the running array-element budget. */
interface HeaderState {
  r: ChunkReader;
  path: string;
  v1: boolean;
  arrayElements: number;
}

/** A count the header claims, checked against a limit and the bytes left (each item takes at least `minBytes`). */
function claimedCount(h: HeaderState, what: string, limit: number, minBytes: number): number {
  const { r } = h;
  const n = h.v1 ? r.u32(what) : r.num64(what);
  if (n > limit) throw new GgufError(`${h.path}: corrupt header: ${what} is ${n} (at most ${limit} supported)`);
  const left = r.size - r.pos;
  if (n * minBytes > left) throw new GgufError(`${h.path}: truncated or corrupt file: ${what} is ${n}, but only ${left} bytes are left`);
  return n;
}

function readString(h: HeaderState, what: string): string {
  const len = claimedCount(h, `${what} length`, GGUF_LIMITS.stringBytes, 1);
  return h.r.bytes(len, what).toString('utf8');
}

function readValue(h: HeaderState, type: number, key: string, depth = 0): GgufValue {
  const r = h.r;
  switch (type) {
    case 0:
      return r.u8(key);
    case 1:
      return r.i8(key);
    case 2:
      return r.u16(key);
    case 3:
      return r.i16(key);
    case 4:
      return r.u32(key);
    case 5:
      return r.i32(key);
    case 6:
      return r.f32(key);
    case 7:
      return r.u8(key) !== 0;
    case 8:
      return readString(h, key);
    case 9: {
      if (depth >= GGUF_LIMITS.arrayDepth)
        throw new GgufError(`${h.path}: corrupt header: metadata "${key}" nests arrays more than ${GGUF_LIMITS.arrayDepth} deep`);
      const et = r.u32(`${key} array type`);
      const min = minValueBytes(et, h.v1);
      if (min < 0) throw new GgufError(`${h.path}: corrupt header: metadata "${key}" is an array of unknown value type ${et}`);
      const n = claimedCount(h, `metadata "${key}" array length`, GGUF_LIMITS.arrayLength, min);
      h.arrayElements += n;
      if (h.arrayElements > GGUF_LIMITS.arrayElements)
        throw new GgufError(`${h.path}: corrupt header: metadata arrays hold more than ${GGUF_LIMITS.arrayElements} elements in all`);
      const out: GgufValue[] = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readValue(h, et, key, depth + 1);
      return out;
    }
    case 10: {
      const v = r.u64(key);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
    }
    case 11: {
      const v = r.i64(key);
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
    }
    case 12:
      return r.f64(key);
    default:
      throw new GgufError(`${h.path}: corrupt header: metadata "${key}" has unknown value type ${type}`);
  }
}

/** general.alignment: a power of two (ggml's rule), 32 when absent. */
function alignmentOf(path: string, metadata: Map<string, GgufValue>): number {
  const a = metadata.get('general.alignment') ?? 32;
  if (typeof a !== 'number' || !Number.isInteger(a) || a <= 0 || a > 2 ** 30 || (a & (a - 1)) !== 0)
    throw new GgufError(`${path}: bad general.alignment ${JSON.stringify(String(a))} (expected a power of two)`);
  return a;
}

/** One tensor info; its element count and byte length checked so they cannot overflow. */
function readTensorInfo(h: HeaderState, i: number, alignment: number | null): Omit<GgufTensorInfo, 'fileOffset'> {
  const { r, path, v1 } = h;
  const name = readString(h, `tensor #${i} name`);
  const nd = r.u32(`tensor ${name} n_dims`);
  if (nd > GGUF_LIMITS.tensorDims) throw new GgufError(`${path}: corrupt tensor info for ${name}: ${nd} dims (at most ${GGUF_LIMITS.tensorDims})`);
  const dims: number[] = [];
  let numElements = 1;
  for (let k = 0; k < nd; k++) {
    const d = v1 ? r.u32(`tensor ${name} dim`) : r.num64(`tensor ${name} dim`);
    dims.push(d);
    numElements *= d;
  }
  if (!Number.isSafeInteger(numElements) || numElements > r.size * 8)
    throw new GgufError(`${path}: corrupt tensor info for ${name}: dims [${dims.join(', ')}] claim more elements than the file can hold`);
  const type = r.u32(`tensor ${name} type`);
  const offset = r.num64(`tensor ${name} offset`, r.size);
  if (alignment !== null && offset % alignment !== 0)
    throw new GgufError(`${path}: corrupt tensor info for ${name}: offset ${offset} is not a multiple of the alignment ${alignment}`);
  const geo = BLOCK[type] ?? BLOCK_SIZE_ONLY[type];
  const typeName = GGML_TYPE_NAME[type] ?? `type${type}`;
  if (geo && geo[0] > 1 && nd > 0 && dims[0]! % geo[0] !== 0)
    throw new GgufError(`${path}: corrupt tensor info for ${name}: rows of ${dims[0]} elements do not divide into ${typeName} blocks of ${geo[0]}`);
  const byteLength = geo ? Math.ceil(numElements / geo[0]) * geo[1] : -1;
  return { name, dims, type, typeName, offset, byteLength, numElements };
}

/** Parse a GGUF file's header (metadata + tensor infos). Reads only the header bytes. */
export function readGguf(path: string): GgufFile {
  const size = fileSize(path, 'GGUF file');
  if (size < 8) throw new GgufError(`${path}: not a GGUF file (only ${size} bytes)`);
  const fd = openSync(path, 'r');
  try {
    const r = new ChunkReader(fd, fstatSync(fd).size, path);
    const magic = r.bytes(4, 'magic').toString('latin1');
    if (magic !== 'GGUF') throw new GgufError(`${path}: not a GGUF file (magic ${JSON.stringify(magic)})`);
    const version = r.u32('version');
    if (version < 1 || version > 3) throw new GgufError(`${path}: unsupported GGUF version ${version}`);
    const v1 = version === 1;
    const h: HeaderState = { r, path, v1, arrayElements: 0 };
    // smallest tensor info: name length, n_dims, type, offset; smallest entry: key length, type, one byte
    const tensorCount = claimedCount(h, 'tensor count', GGUF_LIMITS.tensors, v1 ? 16 : 24);
    const kvCount = claimedCount(h, 'metadata count', GGUF_LIMITS.metadataEntries, v1 ? 9 : 13);
    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = readString(h, `metadata key #${i}`);
      if (metadata.has(key)) throw new GgufError(`${path}: corrupt header: metadata key "${key}" appears twice`);
      const type = r.u32(`type of ${key}`);
      metadata.set(key, readValue(h, type, key));
    }
    const alignment = alignmentOf(path, metadata);
    const infos: Omit<GgufTensorInfo, 'fileOffset'>[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
      const t = readTensorInfo(h, i, v1 ? null : alignment);
      if (names.has(t.name)) throw new GgufError(`${path}: corrupt header: tensor ${t.name} appears twice`);
      names.add(t.name);
      infos.push(t);
    }
    const dataOffset = Math.ceil(r.pos / alignment) * alignment;
    const tensors: GgufTensorInfo[] = infos.map((t) => {
      const fileOffset = dataOffset + t.offset;
      if (t.byteLength >= 0 && fileOffset + t.byteLength > size)
        throw new GgufError(
          `${path}: truncated file: tensor ${t.name} (${t.typeName}, ${t.byteLength} bytes at ${fileOffset}) extends past the end (${size} bytes)`,
        );
      return { ...t, fileOffset };
    });
    return { path, version, metadata, tensors, tensorMap: new Map(tensors.map((t) => [t.name, t])), alignment, dataOffset, fileSize: size };
  } finally {
    closeSync(fd);
  }
}

/** Read raw tensor bytes with a positioned read. */
export function readTensorBytes(g: GgufFile, t: GgufTensorInfo): Buffer {
  if (t.byteLength < 0) throw new GgufError(`${g.path}: tensor ${t.name} has unsupported type ${t.typeName}`);
  const fd = openSync(g.path, 'r');
  try {
    const b = Buffer.allocUnsafe(t.byteLength);
    let done = 0;
    while (done < t.byteLength) {
      const n = readSync(fd, b, done, Math.min(t.byteLength - done, 1 << 30), t.fileOffset + done);
      if (n <= 0) throw new GgufError(`${g.path}: truncated file while reading tensor ${t.name}`);
      done += n;
    }
    return b;
  } finally {
    closeSync(fd);
  }
}

/** Read a tensor dequantised to float32 (row-major, ggml dims reversed = [rows..., rowLength]). */
export function readTensorF32(g: GgufFile, nameOrInfo: string | GgufTensorInfo): Float32Array {
  const t = typeof nameOrInfo === 'string' ? g.tensorMap.get(nameOrInfo) : nameOrInfo;
  if (!t) throw new GgufError(`${g.path}: tensor ${String(nameOrInfo)} not found`);
  if (!BLOCK[t.type])
    throw new GgufError(
      `${g.path}: tensor ${t.name} uses quantisation type ${t.typeName}, which this engine cannot read (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS)`,
    );
  try {
    return dequantize(readTensorBytes(g, t), t.type, t.numElements);
  } catch (e) {
    if (e instanceof GgufError) throw e;
    throw new GgufError(`${g.path}: tensor ${t.name}: ${(e as Error).message}`);
  }
}

export function dequantize(b: Uint8Array, type: number, n: number): Float32Array {
  const out = new Float32Array(n);
  switch (type) {
    case GGML_TYPE.F32: {
      // copy (the source buffer may not be 4-byte aligned)
      new Uint8Array(out.buffer).set(b.subarray(0, n * 4));
      return out;
    }
    case GGML_TYPE.F16:
      return halfBitsToFloat32(u16View(b, n), out);
    case GGML_TYPE.BF16:
      return bf16BitsToFloat32(u16View(b, n), out);
    default:
      if (isBlockQuant(type)) return dequantizeBlocks(type, b, n, out);
      throw new GgufError(`unsupported ggml type ${GGML_TYPE_NAME[type] ?? type}`);
  }
}

/** Typed metadata accessors with clear errors. */
export function metaNumber(g: GgufFile, key: string, def?: number): number {
  const v = g.metadata.get(key);
  if (v === undefined) {
    if (def !== undefined) return def;
    throw new GgufError(`${g.path}: missing metadata ${key}`);
  }
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new GgufError(`${g.path}: metadata ${key} is not a number`);
  return v;
}

export function metaString(g: GgufFile, key: string, def?: string): string {
  const v = g.metadata.get(key);
  if (v === undefined) {
    if (def !== undefined) return def;
    throw new GgufError(`${g.path}: missing metadata ${key}`);
  }
  if (typeof v !== 'string') throw new GgufError(`${g.path}: metadata ${key} is not a string`);
  return v;
}
