/**
 * Seeded fuzz cases for the model-file loaders (model-loaders.ts): byte flips, truncations and
 * splices of real files (stories260K.gguf when ../shared is present, a tiny GGUF written here with
 * the engine's own writer, the tiny Hugging Face fixtures, the all-MiniLM-L6-v2 tokenizer), JSON
 * values replaced by hostile ones, and hand-built hostile files: counts of 1e9 in sparse 1 GiB
 * files, overflowing dims and offsets, NaN and strings where numbers belong, deep nesting, ids of
 * 1e9, empty files and directories where files belong.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { writeGguf } from '../../../src/main/engine/gguf/writer';
import type { FuzzCase } from './harness';

const GiB = 2 ** 30;

/** mulberry32: a small seeded generator, so every run builds the same cases. */
export function rng(seed: number): { next(): number; int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

// ---------- byte-level mutations ----------

/** XOR 1–4 bytes at random positions (mostly inside the first `hot` bytes: the header). */
function flip(b: Buffer, r: Rng, hot: number): Buffer {
  const out = Buffer.from(b);
  const n = 1 + r.int(4);
  for (let i = 0; i < n; i++) {
    const pos = r.next() < 0.85 ? r.int(Math.min(hot, out.length)) : r.int(out.length);
    out[pos]! ^= 1 << r.int(8);
  }
  return out;
}

function truncate(b: Buffer, r: Rng, hot: number): Buffer {
  return b.subarray(0, r.next() < 0.7 ? r.int(Math.min(hot, b.length)) : r.int(b.length));
}

/** Copies a random chunk of the file over another place (or inserts it). */
function splice(b: Buffer, r: Rng, hot: number): Buffer {
  const from = r.int(b.length);
  const len = 1 + r.int(Math.min(256, b.length - from));
  const to = r.int(Math.min(hot, b.length));
  const chunk = b.subarray(from, from + len);
  if (r.next() < 0.5) return Buffer.concat([b.subarray(0, to), chunk, b.subarray(to)]);
  const out = Buffer.from(b);
  chunk.copy(out, to);
  return out;
}

const BYTE_MUTATIONS = { flip, truncate, splice } as const;

function mutateBytes(b: Buffer, r: Rng, hot: number): { kind: string; bytes: Buffer } {
  const kind = r.pick(Object.keys(BYTE_MUTATIONS) as (keyof typeof BYTE_MUTATIONS)[]);
  return { kind, bytes: BYTE_MUTATIONS[kind](b, r, hot) };
}

// ---------- JSON value mutations ----------

function deep(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

/** Values that do not belong where numbers, strings or objects are expected. Strings are JSON text. */
const HOSTILE_JSON = [
  '1000000000',
  '-1',
  '0',
  '1.5',
  '4294967296',
  '9007199254740993',
  '1e308',
  '1e400',
  '"12"',
  '"NaN"',
  '""',
  'null',
  'true',
  '[]',
  '{}',
  deep(2000),
];

/** All paths to values in a JSON document (a sample for large ones, weighted away from huge vocabularies). */
function jsonPaths(v: unknown, r: Rng, path: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  out.push(path);
  if (depth > 12 || v === null || typeof v !== 'object') return out;
  const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
  // big maps (vocabularies, merges): a few random members, not all 30 000
  const chosen = entries.length > 40 ? Array.from({ length: 8 }, () => r.pick(entries)) : entries;
  for (const [k, x] of chosen) jsonPaths(x, r, [...path, k], out, depth + 1);
  return out;
}

/** A placeholder value, replaced in the JSON text by the hostile value (which JSON.stringify could not write: 1e400, deep nesting). */
const PLACEHOLDER = '@@fuzz-value@@';
const MARK = JSON.stringify(PLACEHOLDER);

/** Replaces one value (at a random path) with a hostile JSON text. */
function mutateJson(text: string, r: Rng): { what: string; text: string } {
  const doc = JSON.parse(text) as unknown;
  const paths = jsonPaths(doc, r).filter((p) => p.length > 0);
  const path = r.pick(paths);
  const value = r.pick(HOSTILE_JSON);
  let node = doc as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  node[path[path.length - 1]!] = PLACEHOLDER;
  const shown = value.length > 20 ? `${value.slice(0, 12)}…(${value.length} chars)` : value;
  return { what: `${path.join('.')} = ${shown}`, text: JSON.stringify(doc).replace(MARK, value) };
}

// ---------- raw GGUF construction ----------

class Raw {
  private parts: Buffer[] = [];
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  u64(v: number | bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.parts.push(b);
    return this;
  }
  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.u64(b.length).bytes(b);
  }
  bytes(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  gguf(tensors: number | bigint, kvs: number | bigint): this {
    return this.bytes(Buffer.from('GGUF', 'latin1')).u32(3).u64(tensors).u64(kvs);
  }
  build(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** Writes `head` and extends the file to `size` bytes without writing them (a sparse file). */
function sparse(file: string, head: Buffer, size: number): string {
  writeFileSync(file, head);
  truncateSync(file, size);
  return file;
}

const T = { u8: 0, u32: 4, i32: 5, f32: 6, string: 8, array: 9, u64: 10 } as const;

/** Finds metadata `key` in a GGUF buffer and returns the offset of its value type (u32). */
function metaOffset(b: Buffer, key: string): number {
  const k = Buffer.from(key, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(k.length));
  const at = b.indexOf(Buffer.concat([len, k]));
  if (at < 0) throw new Error(`fuzz setup: no metadata ${key}`);
  return at + 8 + k.length;
}

/** A copy of a GGUF file with one scalar metadata value overwritten (same type, same size). */
function patchMeta(b: Buffer, key: string, write: (out: Buffer, at: number, type: number) => void): Buffer {
  const out = Buffer.from(b);
  const at = metaOffset(out, key);
  write(out, at + 4, out.readUInt32LE(at));
  return out;
}

const setU32 = (v: number) => (out: Buffer, at: number, type: number) => {
  if (type === T.f32) out.writeFloatLE(v, at);
  else out.writeUInt32LE(v >>> 0, at);
};
const setF32 = (v: number) => (out: Buffer, at: number) => out.writeFloatLE(v, at);

/** A tiny Llama GGUF with a SentencePiece vocabulary, written by the engine's own writer. */
function tinyGguf(file: string): string {
  const r = rng(7);
  const vocab = [
    '<unk>',
    '<s>',
    '</s>',
    ...Array.from({ length: 256 }, (_, i) => `<0x${i.toString(16).toUpperCase().padStart(2, '0')}>`),
    '\u2581',
    'a',
    'b',
    '\u2581a',
    'ab',
  ];
  const types = vocab.map((_, i) => (i < 3 ? 3 : i < 259 ? 6 : 1));
  const H = 32;
  const F = 48;
  const V = vocab.length;
  const w = (n: number) => () => Float32Array.from({ length: n }, () => r.next() - 0.5);
  const tensors = [
    { name: 'token_embd.weight', dims: [H, V], type: 'F32' as const, data: w(H * V) },
    { name: 'output_norm.weight', dims: [H], type: 'F32' as const, data: w(H) },
  ];
  for (let l = 0; l < 2; l++) {
    for (const [n, d] of [
      ['attn_q', [H, H]],
      ['attn_k', [H, 16]],
      ['attn_v', [H, 16]],
      ['attn_output', [H, H]],
      ['ffn_gate', [H, F]],
      ['ffn_up', [H, F]],
      ['ffn_down', [F, H]],
    ] as const)
      tensors.push({ name: `blk.${l}.${n}.weight`, dims: [...d], type: n === 'ffn_down' ? 'F32' : ('Q8_0' as 'F32'), data: w(d[0] * d[1]) });
    tensors.push({ name: `blk.${l}.attn_norm.weight`, dims: [H], type: 'F32', data: w(H) });
    tensors.push({ name: `blk.${l}.ffn_norm.weight`, dims: [H], type: 'F32', data: w(H) });
  }
  // Q8_0 needs rows (dims[0]) of whole 32-element blocks
  for (const t of tensors) if (t.type === ('Q8_0' as 'F32') && t.dims[0]! % 32 !== 0) t.type = 'F32';
  writeGguf(
    file,
    {
      'general.architecture': 'llama',
      'general.name': 'tiny',
      'llama.block_count': 2,
      'llama.embedding_length': H,
      'llama.feed_forward_length': F,
      'llama.attention.head_count': 4,
      'llama.attention.head_count_kv': 2,
      'llama.context_length': 64,
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': vocab,
      'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: vocab.map((_, i) => -i) },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
    },
    tensors,
  );
  return file;
}

// ---------- case builders ----------

export interface ModelCaseSources {
  /** ../shared/models/stories260K.gguf when present */
  stories: string | null;
  /** ../shared/models/all-MiniLM-L6-v2-tokenizer when present */
  miniLm: string | null;
  /** test/fixtures/engine/hf */
  hfFixtures: string;
}

class Cases {
  readonly list: FuzzCase[] = [];
  private n = 0;
  constructor(
    readonly dir: string,
    readonly fixtures: string,
  ) {}
  file(name: string): string {
    return join(this.dir, `${String(++this.n).padStart(4, '0')}-${name}`);
  }
  add(id: string, file: string, ...loaders: string[]): void {
    for (const loader of loaders) this.list.push({ id, loader, file });
  }
}

function ggufCases(c: Cases, src: ModelCaseSources, r: Rng, mutations: number): void {
  const seeds = [tinyGguf(c.file('tiny.gguf'))];
  if (src.stories) seeds.push(src.stories);
  for (const s of seeds) c.add(`seed ${s.split('/').pop()}`, s, 'gguf', 'gguf-model');
  for (let i = 0; i < mutations; i++) {
    const seed = seeds[i % seeds.length]!;
    const b = readFileSync(seed);
    const { kind, bytes } = mutateBytes(b, r, readGguf(seed).dataOffset);
    const f = c.file(`${kind}.gguf`);
    writeFileSync(f, bytes);
    c.add(`${kind} of ${seed.split('/').pop()}`, f, 'gguf', 'gguf-model');
  }

  const hostile = (id: string, bytes: Buffer, size?: number) => {
    const f = c.file('hostile.gguf');
    if (size) sparse(f, bytes, size);
    else writeFileSync(f, bytes);
    c.add(id, f, 'gguf', 'gguf-model');
  };
  const kv = new Raw().str('general.architecture').u32(T.string).str('llama').build();
  hostile('1e9 metadata entries (sparse 1 GiB)', new Raw().gguf(0, 1e9).bytes(kv).build(), GiB);
  hostile('1e9-element u8 array (sparse 1 GiB)', new Raw().gguf(0, 1).str('a').u32(T.array).u32(T.u8).u64(1e9).build(), GiB);
  hostile('1e8 empty strings (sparse 1 GiB)', new Raw().gguf(0, 1).str('a').u32(T.array).u32(T.string).u64(1e8).build(), GiB);
  hostile('1e9-byte string (sparse 1 GiB)', new Raw().gguf(0, 1).str('a').u32(T.string).u64(1e9).build(), GiB);
  hostile('1e9-byte key (sparse 1 GiB)', new Raw().gguf(0, 1).u64(1e9).build(), GiB);
  hostile('1e9 tensors (sparse 1 GiB)', new Raw().gguf(1e9, 1).bytes(kv).build(), GiB);
  hostile('1e9 tensors in a small file', new Raw().gguf(1e9, 1).bytes(kv).build());
  let nested = new Raw().gguf(0, 1).str('a').u32(T.array);
  for (let i = 0; i < 50_000; i++) nested = nested.u32(T.array).u64(1);
  hostile('arrays nested 50 000 deep', nested.u32(T.u8).u64(1).bytes(Buffer.alloc(1)).build());
  const tensorHead = (dims: (number | bigint)[], type: number, offset: number | bigint) => {
    let t = new Raw().gguf(1, 1).bytes(kv).str('t').u32(dims.length);
    for (const d of dims) t = t.u64(d);
    return t.u32(type).u64(offset).bytes(Buffer.alloc(64)).build();
  };
  hostile('tensor dims 2^40 x 2^40 (overflow)', tensorHead([2 ** 40, 2 ** 40], 0, 0));
  hostile('tensor with 1e9 dims', new Raw().gguf(1, 1).bytes(kv).str('t').u32(1e9).build());
  hostile('tensor offset 2^64-1', tensorHead([4], 0, 2n ** 64n - 1n));
  hostile('tensor offset 2^53', tensorHead([4], 0, 2 ** 53));
  hostile('tensor of unknown type 999', tensorHead([4], 999, 0));
  hostile('zero-length tensor name, dims [0]', new Raw().gguf(1, 0).str('').u32(1).u64(0).u32(0).u64(0).build());
  hostile('unknown metadata value type', new Raw().gguf(0, 1).str('a').u32(1000).build());
  hostile('duplicate metadata keys', new Raw().gguf(0, 2).bytes(kv).bytes(kv).build());
  hostile('alignment 0', new Raw().gguf(0, 1).str('general.alignment').u32(T.u32).u32(0).build());
  hostile('alignment 3', new Raw().gguf(1, 1).str('general.alignment').u32(T.u32).u32(3).str('t').u32(1).u64(4).u32(0).u64(0).bytes(Buffer.alloc(32)).build());
  hostile(
    'alignment 2^31',
    new Raw()
      .gguf(1, 1)
      .str('general.alignment')
      .u32(T.u32)
      .u32(2 ** 31)
      .str('t')
      .u32(1)
      .u64(4)
      .u32(0)
      .u64(0)
      .build(),
  );
  hostile('alignment as a string', new Raw().gguf(0, 1).str('general.alignment').u32(T.string).str('32').build());
  hostile('version 99', new Raw().bytes(Buffer.from('GGUF')).u32(99).u64(0).u64(0).build());
  hostile('wrong magic', Buffer.from('GGML\x03\x00\x00\x00' + '\x00'.repeat(16), 'latin1'));
  hostile('empty file', Buffer.alloc(0));
  hostile('7 bytes', Buffer.from('GGUF\x03\x00\x00', 'latin1'));
  const d = c.file('dir.gguf');
  mkdirSync(d);
  c.add('a directory named .gguf', d, 'gguf', 'gguf-model');

  // a real model's metadata with hostile values in place
  const base = src.stories ?? seeds[0]!;
  const bb = readFileSync(base);
  const patched: [string, string, (out: Buffer, at: number, type: number) => void][] = [
    ['block_count 1e9', 'llama.block_count', setU32(1e9)],
    ['block_count 0', 'llama.block_count', setU32(0)],
    ['embedding_length 1e9', 'llama.embedding_length', setU32(1e9)],
    ['embedding_length 0', 'llama.embedding_length', setU32(0)],
    [`embedding_length ${src.stories ? 56 : 28} (odd head dim 7)`, 'llama.embedding_length', setU32(src.stories ? 56 : 28)],
    ['head_count 0', 'llama.attention.head_count', setU32(0)],
    ['head_count 3 (does not divide)', 'llama.attention.head_count', setU32(3)],
    ['head_count 1e6', 'llama.attention.head_count', setU32(1e6)],
    ['head_count_kv 1e9', 'llama.attention.head_count_kv', setU32(1e9)],
    ['head_count_kv 3', 'llama.attention.head_count_kv', setU32(3)],
    ['feed_forward_length 1e9', 'llama.feed_forward_length', setU32(1e9)],
    ['context_length 4e9', 'llama.context_length', setU32(4e9)],
    ['rms epsilon NaN', 'llama.attention.layer_norm_rms_epsilon', setF32(NaN)],
    ['rms epsilon -1', 'llama.attention.layer_norm_rms_epsilon', setF32(-1)],
    ['bos id 1e9', 'tokenizer.ggml.bos_token_id', setU32(1e9)],
    ['eos id 1e9', 'tokenizer.ggml.eos_token_id', setU32(1e9)],
  ];
  if (src.stories) patched.push(['rope dims 1e9', 'llama.rope.dimension_count', setU32(1e9)]);
  for (const [id, key, w] of patched) hostile(`${base.split('/').pop()}: ${id}`, patchMeta(bb, key, w));
  const tokensAt = metaOffset(bb, 'tokenizer.ggml.tokens');
  const retype = Buffer.from(bb);
  retype.writeUInt32LE(T.u32, tokensAt + 4);
  hostile(`${base.split('/').pop()}: tokens array retyped as u32`, retype);
  const longer = Buffer.from(bb);
  longer.writeBigUInt64LE(10n ** 9n, tokensAt + 8);
  hostile(`${base.split('/').pop()}: tokens array claims 1e9 entries`, longer);
  const scoresAt = metaOffset(bb, 'tokenizer.ggml.scores');
  const strScores = Buffer.from(bb);
  strScores.writeUInt32LE(T.string, scoresAt + 4);
  hostile(`${base.split('/').pop()}: scores retyped as strings`, strScores);
}

function safetensorsCases(c: Cases, src: ModelCaseSources, r: Rng, mutations: number): void {
  const seeds = ['tiny-llama', 'tiny-mistral', 'tiny-gemma2'].map((m) => join(src.hfFixtures, m, 'model.safetensors'));
  for (const s of seeds) c.add(`seed ${s.split('/').slice(-2).join('/')}`, s, 'safetensors');
  for (let i = 0; i < mutations; i++) {
    const seed = seeds[i % seeds.length]!;
    const b = readFileSync(seed);
    const { kind, bytes } = mutateBytes(b, r, 8 + Number(b.readBigUInt64LE(0)));
    const f = c.file(`${kind}.safetensors`);
    writeFileSync(f, bytes);
    c.add(`${kind} of ${seed.split('/').slice(-2).join('/')}`, f, 'safetensors');
  }
  // header values replaced by hostile ones
  for (let i = 0; i < mutations / 2; i++) {
    const seed = seeds[i % seeds.length]!;
    const b = readFileSync(seed);
    const n = Number(b.readBigUInt64LE(0));
    const { what, text } = mutateJson(b.subarray(8, 8 + n).toString('utf8'), r);
    c.add(`header ${what}`, stFile(c, text, b.subarray(8 + n)), 'safetensors');
  }

  const st = (id: string, header: string, data: Buffer | number = Buffer.alloc(64)) => c.add(id, stFile(c, header, data), 'safetensors');
  const t = (o: Record<string, unknown>) => JSON.stringify({ t: { dtype: 'F32', shape: [4], data_offsets: [0, 16], ...o } });
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(2n ** 63n - 1n);
  const f1 = c.file('hostile.safetensors');
  writeFileSync(f1, len);
  c.add('header length 2^63-1', f1, 'safetensors');
  const big = Buffer.alloc(8);
  big.writeBigUInt64LE(99_999_999n);
  c.add('header length 1e8 of zeros (sparse 1 GiB)', sparse(c.file('hostile.safetensors'), big, GiB), 'safetensors');
  st('one F32 tensor of 1 GiB (sparse)', JSON.stringify({ t: { dtype: 'F32', shape: [2 ** 28], data_offsets: [0, GiB] } }), GiB);
  for (const h of ['[]', 'null', '123', '"str"', deep(100_000)]) st(`header ${h.slice(0, 12)}`, h);
  st('shape [1e10, 1e10]', t({ shape: [1e10, 1e10] }));
  st('shape [2^31, 2^31, 2^31]', t({ shape: [2 ** 31, 2 ** 31, 2 ** 31] }));
  st('shape [-1, -4] (16 bytes)', t({ shape: [-1, -4] }));
  st('shape ["2", "2"]', t({ shape: ['2', '2'] }));
  st('shape [1e400]', t({ shape: [1e400] }).replace('null', '1e400'));
  st('shape [1.5]', t({ shape: [2.5], data_offsets: [0, 10] }));
  st('shape not a list', t({ shape: 4 }));
  st('offsets [-16, 0]', t({ data_offsets: [-16, 0] }));
  st('offsets [-8, 8]', t({ data_offsets: [-8, 8] }));
  st('offsets [16, 0]', t({ data_offsets: [16, 0], shape: [0] }));
  st('offsets [0, 1e300]', t({ data_offsets: [0, 1e300] }));
  st('offsets ["0", "16"]', t({ data_offsets: ['0', '16'] }));
  st('offsets [0, 16, 32]', t({ data_offsets: [0, 16, 32] }));
  st('offsets past the end', t({ data_offsets: [1_000_000, 1_000_016] }));
  st('dtype F4', t({ dtype: 'F4' }));
  st('dtype 5', t({ dtype: 5 }));
  st('dtype "__proto__"', t({ dtype: '__proto__' }));
  st('missing dtype', JSON.stringify({ t: { shape: [4], data_offsets: [0, 16] } }));
  st('tensor entry null', JSON.stringify({ t: null }));
  st('__metadata__ 5', JSON.stringify({ __metadata__: 5 }));
  st('__metadata__ with a __proto__ key', '{"__metadata__":{"__proto__":{"polluted":1}}}');
  st('__metadata__ nested objects', JSON.stringify({ __metadata__: { a: { b: [1, 2] } } }));
  st(
    '50 000 tensors',
    JSON.stringify(Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`t${i}`, { dtype: 'U8', shape: [0], data_offsets: [0, 0] }]))),
  );
  for (const [id, bytes] of [
    ['empty file', Buffer.alloc(0)],
    ['7 bytes', Buffer.alloc(7)],
    ['header length 0', Buffer.alloc(16)],
  ] as const) {
    const f = c.file('hostile.safetensors');
    writeFileSync(f, bytes);
    c.add(id, f, 'safetensors');
  }
  const d = c.file('dir.safetensors');
  mkdirSync(d);
  c.add('a directory', d, 'safetensors');
}

function stFile(c: Cases, header: string, data: Buffer | number): string {
  const h = Buffer.from(header, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  const f = c.file('st.safetensors');
  if (typeof data === 'number') return sparse(f, Buffer.concat([len, h]), 8 + h.length + data);
  writeFileSync(f, Buffer.concat([len, h, data]));
  return f;
}

/** A copy of a fixture model folder in which `file` is replaced (by `content`, or a directory when null). */
function modelFolder(c: Cases, fixture: string, file: string, content: Buffer | string | null, extra?: (dir: string) => void): string {
  const dir = c.file(fixture);
  mkdirSync(dir);
  for (const f of readdirSync(join(c.fixtures, fixture)))
    if (f !== file && !f.startsWith('reference')) copyFileSync(join(c.fixtures, fixture, f), join(dir, f));
  if (content === null) mkdirSync(join(dir, file));
  else writeFileSync(join(dir, file), content);
  extra?.(dir);
  return dir;
}

const CONFIG_FIELDS = [
  'num_hidden_layers',
  'hidden_size',
  'intermediate_size',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'vocab_size',
  'max_position_embeddings',
  'rope_theta',
  'rms_norm_eps',
  'sliding_window',
  'eos_token_id',
  'bos_token_id',
  'query_pre_attn_scalar',
  'max_window_layers',
];

function configCases(c: Cases, r: Rng, mutations: number): void {
  const archs = ['tiny-llama', 'tiny-mistral', 'tiny-qwen2', 'tiny-gemma', 'tiny-gemma2'];
  const cfg = (a: string) => readFileSync(join(c.fixtures, a, 'config.json'), 'utf8');
  const add = (id: string, arch: string, content: Buffer | string | null) => c.add(id, modelFolder(c, arch, 'config.json', content), 'hf-estimate', 'hf-model');
  for (const a of archs) add(`seed ${a}`, a, cfg(a));
  // every size field at 1e9 (the issue's case), then random hostile values in random fields
  for (const field of CONFIG_FIELDS) {
    const a =
      field === 'query_pre_attn_scalar'
        ? 'tiny-gemma2'
        : field === 'max_window_layers'
          ? 'tiny-qwen2'
          : field === 'sliding_window'
            ? 'tiny-mistral'
            : 'tiny-llama';
    const j = JSON.parse(cfg(a)) as Record<string, unknown>;
    j[field] = 1e9;
    add(`${a}: ${field} = 1e9`, a, JSON.stringify(j));
  }
  for (let i = 0; i < mutations; i++) {
    const a = archs[i % archs.length]!;
    const j = JSON.parse(cfg(a)) as Record<string, unknown>;
    const field = r.pick(CONFIG_FIELDS);
    const value = r.pick(HOSTILE_JSON);
    j[field] = PLACEHOLDER;
    add(`${a}: ${field} = ${value.length > 20 ? `${value.slice(0, 8)}…` : value}`, a, JSON.stringify(j).replace(MARK, value));
  }
  for (let i = 0; i < mutations / 2; i++) {
    const a = archs[i % archs.length]!;
    const { what, text } = mutateJson(cfg(a), r);
    add(`${a}: ${what}`, a, text);
  }
  for (let i = 0; i < mutations / 2; i++) {
    const a = archs[i % archs.length]!;
    const { kind, bytes } = mutateBytes(Buffer.from(cfg(a)), r, 10_000);
    add(`${a}: ${kind} of config.json`, a, bytes);
  }
  const llama = JSON.parse(cfg('tiny-llama')) as Record<string, unknown>;
  const withL = (o: Record<string, unknown>) => JSON.stringify({ ...llama, ...o });
  add('config.json is []', 'tiny-llama', '[]');
  add('config.json is null', 'tiny-llama', 'null');
  add('config.json is "llama"', 'tiny-llama', '"llama"');
  add('config.json is empty', 'tiny-llama', '');
  add('config.json nested 100 000 deep', 'tiny-llama', `{"model_type":"llama","x":${deep(100_000)}}`);
  add('config.json is a directory', 'tiny-llama', null);
  add('model_type 5', 'tiny-llama', withL({ model_type: 5 }));
  add('architectures [null, {}]', 'tiny-llama', withL({ model_type: 'nope', architectures: [null, {}] }));
  add('rope_scaling factor "8"', 'tiny-llama', withL({ rope_scaling: { rope_type: 'llama3', factor: '8' } }));
  add('rope_scaling factor 0', 'tiny-llama', withL({ rope_scaling: { rope_type: 'linear', factor: 0 } }));
  add('rope_scaling a list', 'tiny-llama', withL({ rope_scaling: [1, 2] }));
  add('eos ids [1e9, -1]', 'tiny-llama', withL({ eos_token_id: [1e9, -1] }));
  add('eos ids 100 000 long', 'tiny-llama', withL({ eos_token_id: Array.from({ length: 100_000 }, (_, i) => i % 64) }));
  add('hidden 32, heads 5 (no integer head dim)', 'tiny-llama', withL({ num_attention_heads: 5 }));
  add('kv heads 3 of 4 heads', 'tiny-llama', withL({ num_key_value_heads: 3 }));
  add('layers 1e9, hidden 1e9, vocab 1e9', 'tiny-llama', withL({ num_hidden_layers: 1e9, hidden_size: 1e9, vocab_size: 1e9 }));
  add('tie_word_embeddings "yes"', 'tiny-llama', withL({ tie_word_embeddings: 'yes' }));
  add('a 40 MB config.json', 'tiny-llama', withL({ padding: 'x'.repeat(40 * 2 ** 20) }));
  add('config.json sparse 1 GiB', 'tiny-llama', Buffer.alloc(0));
  truncateSync(join(c.list[c.list.length - 1]!.file, 'config.json'), GiB);
  const noConfig = c.file('no-config');
  mkdirSync(noConfig);
  c.add('an empty folder', noConfig, 'hf-estimate', 'hf-model');
  // a model folder with a damaged weight file or index
  const st = readFileSync(join(c.fixtures, 'tiny-llama', 'model.safetensors'));
  for (let i = 0; i < mutations / 4; i++) {
    const { kind, bytes } = mutateBytes(st, r, 8 + Number(st.readBigUInt64LE(0)));
    c.add(`tiny-llama: ${kind} of model.safetensors`, modelFolder(c, 'tiny-llama', 'model.safetensors', bytes), 'hf-model');
  }
  const index = (id: string, text: string) =>
    c.add(
      id,
      modelFolder(c, 'tiny-llama', 'model.safetensors.index.json', text, (d) => copyFileSync(join(d, 'model.safetensors'), join(d, 'shard.safetensors'))),
      'hf-model',
    );
  index('index.json not JSON', '{"weight_map": ');
  index('index.json weight_map a list', '{"weight_map": [1, 2]}');
  index('index.json shard "../../etc/passwd"', JSON.stringify({ weight_map: { 'model.norm.weight': '../../../../../../etc/passwd' } }));
  index('index.json shard 5', JSON.stringify({ weight_map: { 'model.norm.weight': 5 } }));
  index('index.json shard is a directory', JSON.stringify({ weight_map: { 'model.norm.weight': '.' } }));
}

function tokenizerCases(c: Cases, src: ModelCaseSources, r: Rng, mutations: number): void {
  const seeds: { name: string; dir: string }[] = [{ name: 'tiny-llama', dir: join(c.fixtures, 'tiny-llama') }];
  if (src.miniLm) seeds.push({ name: 'MiniLM', dir: src.miniLm });
  const folder = (s: { dir: string }, tokenizer: Buffer | string | null, config?: string): string => {
    const dir = c.file('tok');
    mkdirSync(dir);
    if (tokenizer === null) mkdirSync(join(dir, 'tokenizer.json'));
    else writeFileSync(join(dir, 'tokenizer.json'), tokenizer);
    const cfg = join(s.dir, 'tokenizer_config.json');
    if (config !== undefined) writeFileSync(join(dir, 'tokenizer_config.json'), config);
    else if (existsSync(cfg)) copyFileSync(cfg, join(dir, 'tokenizer_config.json'));
    return dir;
  };
  const add = (id: string, s: { name: string; dir: string }, tokenizer: Buffer | string | null, config?: string) =>
    c.add(`${s.name}: ${id}`, folder(s, tokenizer, config), 'hf-tokenizer');
  const text = (s: { dir: string }) => readFileSync(join(s.dir, 'tokenizer.json'), 'utf8');
  for (const s of seeds) add('seed', s, text(s));
  for (let i = 0; i < mutations; i++) {
    const s = seeds[i % seeds.length]!;
    const { what, text: t } = mutateJson(text(s), r);
    add(what, s, t);
  }
  for (let i = 0; i < mutations / 2; i++) {
    const s = seeds[i % seeds.length]!;
    const { kind, bytes } = mutateBytes(Buffer.from(text(s)), r, 4000);
    add(`${kind} of tokenizer.json`, s, bytes);
  }
  for (const s of seeds) {
    const j = () => JSON.parse(text(s)) as { model: Record<string, unknown>; added_tokens: Record<string, unknown>[]; [k: string]: unknown };
    const w = (f: (x: ReturnType<typeof j>) => void) => {
      const x = j();
      f(x);
      return JSON.stringify(x);
    };
    for (const id of [1e9, -1, 1.5, '5', 2 ** 32, 2 ** 53])
      add(
        `added_tokens[0].id = ${JSON.stringify(id)}`,
        s,
        w((x) => (x.added_tokens[0]!.id = id)),
      );
    add(
      'added_tokens[0].content = 7',
      s,
      w((x) => (x.added_tokens[0]!.content = 7)),
    );
    add(
      'added_tokens missing',
      s,
      w((x) => delete (x as Record<string, unknown>).added_tokens),
    );
    add(
      'added_tokens = {}',
      s,
      w((x) => (x.added_tokens = {} as never)),
    );
    add(
      'a vocab id of 1e9',
      s,
      w((x) => ((x.model.vocab as Record<string, number>)[Object.keys(x.model.vocab as object)[5]!] = 1e9)),
    );
    add(
      'a vocab id of "7"',
      s,
      w((x) => ((x.model.vocab as Record<string, unknown>)[Object.keys(x.model.vocab as object)[5]!] = '7')),
    );
    add(
      'vocab = 5',
      s,
      w((x) => (x.model.vocab = 5)),
    );
    add(
      'vocab a list of numbers',
      s,
      w((x) => (x.model.vocab = [1, 2, 3])),
    );
    add(
      'model missing',
      s,
      w((x) => delete (x as Record<string, unknown>).model),
    );
    add(
      'model.type "Nope"',
      s,
      w((x) => (x.model.type = 'Nope')),
    );
    add(
      'model.type "Unigram"',
      s,
      w((x) => (x.model.type = 'Unigram')),
    );
    add(
      'model.type "BPE" without merges',
      s,
      w((x) => (x.model.type = 'BPE')),
    );
    const nestedNormalizer = '{"type":"Sequence","normalizers":['.repeat(20_000) + '{"type":"Lowercase"}' + ']}'.repeat(20_000);
    add('normalizer nested 20 000 deep', s, w((x) => (x.normalizer = PLACEHOLDER)).replace(MARK, nestedNormalizer));
    add('tokenizer.json is []', s, '[]');
    add('tokenizer.json is null', s, 'null');
    add('tokenizer.json is empty', s, '');
    add('tokenizer.json nested 100 000 deep', s, deep(100_000));
    add('tokenizer.json is a directory', s, null);
    add('tokenizer_config.json is []', s, text(s), '[]');
    add('tokenizer_config.json not JSON', s, text(s), '{"bos_token": ');
    add('tokenizer_config additional_special_tokens 5', s, text(s), '{"additional_special_tokens": 5}');
    add('tokenizer_config chat_template 5', s, text(s), '{"chat_template": 5, "bos_token": {"content": 5}}');
  }
  // a small BPE tokenizer, one with as many merges as the largest published vocabularies, and broken merges
  const bpe = (merges: string[]) =>
    JSON.stringify({
      version: '1.0',
      added_tokens: [{ id: 0, content: '<s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false }],
      normalizer: null,
      pre_tokenizer: { type: 'Whitespace' },
      post_processor: null,
      decoder: null,
      model: {
        type: 'BPE',
        vocab: { '<s>': 0, a: 1, b: 2, ab: 3 },
        merges,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
      },
    });
  const bpeSeed = { name: 'BPE', dir: c.file('bpe-src') };
  mkdirSync(bpeSeed.dir);
  add('seed', bpeSeed, bpe(['a b']));
  add('300 000 merges', bpeSeed, bpe(Array.from({ length: 300_000 }, () => 'a b')));
  add('merges = 5', bpeSeed, bpe([]).replace('"merges":[]', '"merges":5'));
  add('merges [[1, 2]]', bpeSeed, bpe([]).replace('"merges":[]', '"merges":[[1,2]]'));
  add('tokenizer.json sparse 1 GiB', bpeSeed, Buffer.alloc(0));
  truncateSync(join(c.list[c.list.length - 1]!.file, 'tokenizer.json'), GiB);
  add('a 200 MB tokenizer.json', bpeSeed, bpe(['a b']).replace('"version":"1.0"', `"version":"${'1'.repeat(200 * 2 ** 20)}"`));
}

/** Builds every case under `dir`. `mutations` scales the random part (per format). */
export function buildModelCases(dir: string, src: ModelCaseSources, seed: number, mutations: number): FuzzCase[] {
  const c = new Cases(dir, src.hfFixtures);
  const r = rng(seed);
  ggufCases(c, src, r, mutations);
  safetensorsCases(c, src, r, mutations);
  configCases(c, r, mutations);
  tokenizerCases(c, src, r, mutations);
  return c.list;
}
