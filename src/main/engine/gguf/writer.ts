/**
 * GGUF v3 writer: metadata + tensors (F32, F16 and the block formats ggml's reference quantizers
 * write: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K), streamed to disk tensor by
 * tensor so a model larger than memory can be exported from a lazy tensor source. Tensors may also
 * be handed over already encoded (copied unchanged, e.g. by the quantizer for tensors it keeps).
 * `encodeGgufHeader` alone serves writers that produce the tensor data themselves (the model merger;
 * it also declares BF16).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { float32ToHalfBits } from '../half';
import { GGML_TYPE, GGML_TYPE_NAME } from './reader';
import { QUANT_BLOCK, QUANTIZABLE, quantizeRow, type QuantTypeName } from './quants';

export type GgufMetaType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'bool' | 'string' | 'u64' | 'i64' | 'f64';

export type GgufMetaValue =
  | { type: GgufMetaType; value: number | bigint | boolean | string }
  | { type: 'array'; itemType: GgufMetaType; value: (number | bigint | boolean | string)[] }
  /** a value copied from another GGUF file: its type code (u32) and value bytes as stored there */
  | { type: 'raw'; value: Uint8Array };

/** Shorthands: strings → string, booleans → bool, integers → u32 (or i32 when negative), other numbers → f32. */
export type GgufMetaInput = GgufMetaValue | string | number | boolean | string[];

const TYPE_CODE: Record<GgufMetaType | 'array', number> = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
};

/** Storage types the writer can encode from float32. */
export type GgufWriteType = 'F32' | 'F16' | Exclude<QuantTypeName, 'IQ4_NL' | 'IQ4_XS'>;

export type GgufTensorSource = {
  name: string;
  /** ggml order (dims[0] = row length) */
  dims: number[];
} & (
  | {
      /** target storage type */
      type: GgufWriteType;
      /** float32 values in row-major order (as read by readTensorF32); called once, when written */
      data: () => Float32Array;
    }
  | {
      /** ggml type code of bytes that are already encoded (any type, copied unchanged) */
      rawType: number;
      bytes: () => Uint8Array;
    }
);

function normMeta(v: GgufMetaInput): GgufMetaValue {
  if (typeof v === 'string') return { type: 'string', value: v };
  if (typeof v === 'boolean') return { type: 'bool', value: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { type: v < 0 ? 'i32' : 'u32', value: v } : { type: 'f32', value: v };
  if (Array.isArray(v)) return { type: 'array', itemType: 'string', value: v };
  return v;
}

class Out {
  private chunks: Buffer[] = [];
  size = 0;
  push(b: Buffer): void {
    this.chunks.push(b);
    this.size += b.length;
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  scalar(t: GgufMetaType, v: number | bigint | boolean | string): void {
    const b = Buffer.alloc(8);
    switch (t) {
      case 'u8':
        return this.push(Buffer.from([Number(v) & 0xff]));
      case 'i8':
        b.writeInt8(Number(v));
        return this.push(b.subarray(0, 1));
      case 'u16':
        b.writeUInt16LE(Number(v));
        return this.push(b.subarray(0, 2));
      case 'i16':
        b.writeInt16LE(Number(v));
        return this.push(b.subarray(0, 2));
      case 'u32':
        b.writeUInt32LE(Number(v));
        return this.push(b.subarray(0, 4));
      case 'i32':
        b.writeInt32LE(Number(v));
        return this.push(b.subarray(0, 4));
      case 'f32':
        b.writeFloatLE(Number(v));
        return this.push(b.subarray(0, 4));
      case 'bool':
        return this.push(Buffer.from([v ? 1 : 0]));
      case 'string':
        return this.str(String(v));
      case 'u64':
        b.writeBigUInt64LE(BigInt(v as number));
        return this.push(b);
      case 'i64':
        b.writeBigInt64LE(BigInt(v as number));
        return this.push(b);
      case 'f64':
        b.writeDoubleLE(Number(v));
        return this.push(b);
    }
  }
  concat(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** ggml type code of each writable type. */
export const WRITE_TYPE_CODE: Record<GgufWriteType, number> = {
  F32: GGML_TYPE.F32,
  F16: GGML_TYPE.F16,
  ...(Object.fromEntries(QUANTIZABLE.map((c) => [GGML_TYPE_NAME[c]!, c])) as Record<Exclude<GgufWriteType, 'F32' | 'F16'>, number>),
};

/** [elements per block, bytes per block] of a type code. */
function geometry(code: number): [number, number] {
  if (code === GGML_TYPE.F32) return [1, 4];
  if (code === GGML_TYPE.F16 || code === GGML_TYPE.BF16) return [1, 2];
  const g = QUANT_BLOCK[code];
  if (!g) throw new Error(`GGUF writer: no block geometry for ggml type ${GGML_TYPE_NAME[code] ?? code}`);
  return g;
}

/** A tensor as the header describes it: its storage type (BF16 only declared, never encoded here) or raw type code. */
export type GgufTensorInfo = { name: string; dims: number[] } & ({ type: GgufWriteType | 'BF16' } | { rawType: number });

function typeCode(t: GgufTensorInfo): number {
  if ('rawType' in t) return t.rawType;
  return t.type === 'BF16' ? GGML_TYPE.BF16 : WRITE_TYPE_CODE[t.type];
}

function encodeTensor(t: GgufTensorSource): Buffer {
  const n = t.dims.reduce((a, b) => a * b, 1);
  const [bs, bb] = geometry(typeCode(t));
  if ('rawType' in t) {
    const b = t.bytes();
    const want = Math.ceil(n / bs) * bb;
    if (b.length !== want)
      throw new Error(`GGUF writer: tensor ${t.name} has ${b.length} bytes of ${GGML_TYPE_NAME[t.rawType]} for dims [${t.dims.join(', ')}] (expected ${want})`);
    return Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  }
  const f = t.data();
  if (f.length !== n) throw new Error(`GGUF writer: tensor ${t.name} has ${f.length} values for dims [${t.dims.join(', ')}]`);
  if (t.type === 'F32') return Buffer.from(f.buffer, f.byteOffset, f.byteLength);
  if (t.type === 'F16') {
    const bits = float32ToHalfBits(f, new Uint16Array(n));
    return Buffer.from(bits.buffer, bits.byteOffset, bits.byteLength);
  }
  // ggml quantises row by row: the row length must be a whole number of blocks
  if (t.dims[0]! % bs)
    throw new Error(`GGUF writer: tensor ${t.name}: ${t.type} needs a row length that is a multiple of ${bs} (rows have ${t.dims[0]} elements)`);
  const out = quantizeRow(WRITE_TYPE_CODE[t.type], f);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
}

export interface GgufHeader {
  /** magic … tensor infos, padded to the alignment: tensor data starts right after it */
  bytes: Buffer;
  /** each tensor's data offset from the end of the header */
  offsets: number[];
  /** bytes of each tensor's data */
  sizes: number[];
  /** the data section's length (padded) */
  dataBytes: number;
}

/**
 * Encode a GGUF v3 header. `rawMetadata` are whole key/value entries already encoded as GGUF stores
 * them (copied verbatim from another file, keeping their exact value types); they come first.
 */
export function encodeGgufHeader(metadata: Record<string, GgufMetaInput>, tensors: GgufTensorInfo[], alignment = 32, rawMetadata: Buffer[] = []): GgufHeader {
  const h = new Out();
  h.push(Buffer.from('GGUF', 'latin1'));
  h.u32(3);
  h.u64(tensors.length);
  const meta = { ...metadata };
  if (alignment !== 32) meta['general.alignment'] = { type: 'u32', value: alignment };
  h.u64(Object.keys(meta).length + rawMetadata.length);
  for (const raw of rawMetadata) h.push(raw);
  for (const [k, v0] of Object.entries(meta)) {
    const v = normMeta(v0);
    h.str(k);
    if (v.type === 'raw') {
      h.push(Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength));
      continue;
    }
    h.u32(TYPE_CODE[v.type]);
    if (v.type === 'array') {
      h.u32(TYPE_CODE[v.itemType]);
      h.u64(v.value.length);
      for (const x of v.value) h.scalar(v.itemType, x);
    } else h.scalar(v.type, v.value);
  }
  let off = 0;
  const offsets: number[] = [];
  const sizes: number[] = [];
  for (const t of tensors) {
    const code = typeCode(t);
    const [bs, bb] = geometry(code);
    const n = t.dims.reduce((a, b) => a * b, 1);
    h.str(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(code);
    h.u64(off);
    offsets.push(off);
    sizes.push(Math.ceil(n / bs) * bb);
    off += Math.ceil(n / bs) * bb;
    off = Math.ceil(off / alignment) * alignment;
  }
  const header = h.concat();
  const pad = Math.ceil(header.length / alignment) * alignment - header.length;
  return { bytes: Buffer.concat([header, Buffer.alloc(pad)]), offsets, sizes, dataBytes: off };
}

/** Write a GGUF v3 file. Tensor data is produced and written one tensor at a time. */
export function writeGguf(path: string, metadata: Record<string, GgufMetaInput>, tensors: GgufTensorSource[], alignment = 32): void {
  const { bytes: header, offsets } = encodeGgufHeader(metadata, tensors, alignment);
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, header);
    let pos = 0;
    tensors.forEach((t, i) => {
      if (pos < offsets[i]!) {
        writeSync(fd, Buffer.alloc(offsets[i]! - pos));
        pos = offsets[i]!;
      }
      const b = encodeTensor(t);
      writeSync(fd, b);
      pos += b.length;
    });
    const end = Math.ceil(pos / alignment) * alignment;
    if (end > pos) writeSync(fd, Buffer.alloc(end - pos));
  } finally {
    closeSync(fd);
  }
}
