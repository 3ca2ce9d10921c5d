/**
 * A GGUF file's metadata entries as raw bytes (key, type and value exactly as stored), so a merged
 * GGUF carries its base's metadata verbatim — tokenizer, chat template, rope settings, every value
 * with the integer width and array type llama.cpp expects. Only GGUF v2/v3 (64-bit lengths).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

export interface RawMetaEntry {
  key: string;
  /** the whole entry: key string, value type and value */
  bytes: Buffer;
}

/** Fixed sizes of the scalar value types (GGUF type code → bytes). */
const SCALAR: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

/** Sequential reads through a growing window of the file. */
class Cursor {
  private buf = Buffer.alloc(0);
  private bufStart = 0;
  pos = 0;
  constructor(
    private readonly fd: number,
    private readonly size: number,
    private readonly path: string,
  ) {}
  private ensure(n: number, what: string): void {
    if (this.pos + n > this.size) throw new Error(`${this.path}: truncated GGUF header while reading ${what} at byte ${this.pos}`);
    if (this.pos >= this.bufStart && this.pos + n <= this.bufStart + this.buf.length) return;
    const len = Math.min(Math.max(n, 4 << 20), this.size - this.pos);
    this.buf = Buffer.alloc(len);
    readSync(this.fd, this.buf, 0, len, this.pos);
    this.bufStart = this.pos;
  }
  u32(what: string): number {
    this.ensure(4, what);
    const v = this.buf.readUInt32LE(this.pos - this.bufStart);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.ensure(8, what);
    const v = this.buf.readBigUInt64LE(this.pos - this.bufStart);
    if (v > BigInt(this.size)) throw new Error(`${this.path}: corrupt GGUF header: ${what} = ${v}`);
    this.pos += 8;
    return Number(v);
  }
  skip(n: number, what: string): void {
    if (this.pos + n > this.size) throw new Error(`${this.path}: truncated GGUF header while reading ${what}`);
    this.pos += n;
  }
  bytes(from: number, to: number): Buffer {
    const out = Buffer.alloc(to - from);
    readSync(this.fd, out, 0, out.length, from);
    return out;
  }
  string(what: string): string {
    const n = this.u64(`${what} length`);
    this.ensure(n, what);
    const s = this.buf.toString('utf8', this.pos - this.bufStart, this.pos - this.bufStart + n);
    this.pos += n;
    return s;
  }
}

function skipValue(c: Cursor, type: number, key: string): void {
  if (type === STRING) return c.skip(c.u64(`${key} length`), key);
  if (type === ARRAY) {
    const item = c.u32(`${key} array type`);
    const n = c.u64(`${key} array length`);
    if (item === STRING) for (let i = 0; i < n; i++) c.skip(c.u64(`${key}[${i}] length`), key);
    else if (SCALAR[item]) c.skip(n * SCALAR[item]!, key);
    else throw new Error(`${key}: unsupported GGUF array item type ${item}`);
    return;
  }
  const size = SCALAR[type];
  if (!size) throw new Error(`${key}: unknown GGUF value type ${type}`);
  c.skip(size, key);
}

/** Every metadata entry of a GGUF v2/v3 file, raw. */
export function readRawGgufMetadata(path: string): RawMetaEntry[] {
  const fd = openSync(path, 'r');
  try {
    const c = new Cursor(fd, fstatSync(fd).size, path);
    c.u32('magic');
    const version = c.u32('version');
    if (version < 2) throw new Error(`${path}: GGUF v${version} metadata cannot be copied into a merged model (re-save the base as GGUF v3)`);
    c.u64('tensor count');
    const count = c.u64('metadata count');
    const out: RawMetaEntry[] = [];
    for (let i = 0; i < count; i++) {
      const from = c.pos;
      const key = c.string(`metadata key #${i}`);
      const type = c.u32(`type of ${key}`);
      skipValue(c, type, key);
      out.push({ key, bytes: c.bytes(from, c.pos) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}
