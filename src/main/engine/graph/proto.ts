/**
 * Minimal hand-written protobuf wire encoder for the subset of onnx.proto the engine emits
 * (ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto, ValueInfoProto), plus a tiny
 * decoder used by tests to check round trips. Field numbers follow onnx/onnx.proto (IR v10).
 */

/** Growable byte writer for protobuf wire format. */
export class ProtoWriter {
  private buf: Uint8Array;
  private pos = 0;
  constructor(initial = 1024) {
    this.buf = new Uint8Array(initial);
  }
  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.pos));
    this.buf = nb;
  }
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    if (x < 0x80n) {
      this.ensure(1);
      this.buf[this.pos++] = Number(x);
      return;
    }
    this.ensure(10);
    while (x >= 0x80n) {
      this.buf[this.pos++] = Number(x & 0x7fn) | 0x80;
      x >>= 7n;
    }
    this.buf[this.pos++] = Number(x);
  }
  /** Fast path for small non-negative integers (< 2^31). */
  private smallVarint(v: number): void {
    this.ensure(5);
    while (v >= 0x80) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }
  tag(field: number, wire: number): void {
    this.smallVarint((field << 3) | wire);
  }
  int(field: number, v: number | bigint): void {
    this.tag(field, 0);
    if (typeof v === 'number' && v >= 0 && v < 0x80000000 && Number.isInteger(v)) this.smallVarint(v);
    else this.varint(v);
  }
  float(field: number, v: number): void {
    this.tag(field, 5);
    this.ensure(4);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.pos, 4).setFloat32(0, v, true);
    this.pos += 4;
  }
  bytes(field: number, data: Uint8Array): void {
    this.tag(field, 2);
    this.smallVarint(data.length);
    this.ensure(data.length);
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
  string(field: number, s: string): void {
    this.bytes(field, new TextEncoder().encode(s));
  }
  message(field: number, write: (w: ProtoWriter) => void): void {
    const sub = new ProtoWriter(64);
    write(sub);
    this.bytes(field, sub.finish());
  }
  packedInts(field: number, vs: ArrayLike<number | bigint>): void {
    const sub = new ProtoWriter(vs.length * 2 + 8);
    for (let i = 0; i < vs.length; i++) sub.varint(vs[i]!);
    this.bytes(field, sub.finish());
  }
  packedFloats(field: number, vs: ArrayLike<number>): void {
    const f = new Float32Array(vs.length);
    for (let i = 0; i < vs.length; i++) f[i] = vs[i]!;
    this.bytes(field, new Uint8Array(f.buffer));
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }
}

/** A decoded protobuf field (tests and debugging only). */
export interface ProtoField {
  field: number;
  wire: number;
  /** varint value (wire 0) */
  int?: bigint;
  /** fixed32 bits (wire 5) or fixed64 (wire 1) raw bytes, or length-delimited payload (wire 2) */
  bytes?: Uint8Array;
}

/** Decode one protobuf message level into its fields (no schema). */
export function decodeFields(buf: Uint8Array): ProtoField[] {
  const out: ProtoField[] = [];
  let pos = 0;
  const readVarint = (): bigint => {
    let r = 0n;
    let shift = 0n;
    for (;;) {
      if (pos >= buf.length) throw new Error('protobuf: truncated varint');
      const b = buf[pos++]!;
      r |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return r;
      shift += 7n;
    }
  };
  while (pos < buf.length) {
    const key = Number(readVarint());
    const field = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ field, wire, int: readVarint() });
    else if (wire === 2) {
      const len = Number(readVarint());
      if (pos + len > buf.length) throw new Error('protobuf: truncated bytes');
      out.push({ field, wire, bytes: buf.subarray(pos, pos + len) });
      pos += len;
    } else if (wire === 5) {
      out.push({ field, wire, bytes: buf.subarray(pos, pos + 4) });
      pos += 4;
    } else if (wire === 1) {
      out.push({ field, wire, bytes: buf.subarray(pos, pos + 8) });
      pos += 8;
    } else throw new Error(`protobuf: unsupported wire type ${wire}`);
  }
  return out;
}
