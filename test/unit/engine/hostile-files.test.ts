/**
 * Model files that claim more than they hold: each reader refuses them by name before allocating
 * by the claim (the fuzz test in test/unit/fuzz covers many more; these pin the messages).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { configFromHf, loadHfModel } from '../../../src/main/engine/hf/model';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { HfTokenizer } from '../../../src/main/engine/hf/tokenizer';
import { ModelFileError } from '../../../src/main/engine/files';
import { repoRoot } from '../../helpers/shared';

const tmp = mkdtempSync(join(tmpdir(), 'hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIX = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');

function u64(v: number | bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(v));
  return b;
}
function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}
const str = (s: string) => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
const ggufHead = (tensors: number, kvs: number) => Buffer.concat([Buffer.from('GGUF'), u32(3), u64(tensors), u64(kvs)]);

/** A file of `size` bytes that holds only `head` (the rest is a hole: no disk used). */
function sparse(name: string, head: Buffer, size: number): string {
  const p = join(tmp, name);
  writeFileSync(p, head);
  truncateSync(p, size);
  return p;
}

describe('hostile GGUF headers', () => {
  it('refuses a 1e9-element array in a sparse 1 GiB file at once, by file and key', () => {
    const p = sparse('array.gguf', Buffer.concat([ggufHead(0, 1), str('tokenizer.ggml.scores'), u32(9), u32(0), u64(1e9)]), 2 ** 30);
    const t0 = Date.now();
    expect(() => readGguf(p)).toThrowError(`${p}: corrupt header: metadata "tokenizer.ggml.scores" array length is 1000000000 (at most 4194304 supported)`);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('refuses counts and lengths the bytes left cannot hold, and arrays nested without end', () => {
    const kvs = sparse('kvs.gguf', ggufHead(0, 60_000), 100_000);
    expect(() => readGguf(kvs)).toThrowError(`${kvs}: truncated or corrupt file: metadata count is 60000, but only 99976 bytes are left`);
    const long = sparse('string.gguf', Buffer.concat([ggufHead(0, 1), str('a'), u32(8), u64(1e9)]), 2 ** 30);
    expect(() => readGguf(long)).toThrowError(`${long}: corrupt header: a length is 1000000000 (at most 67108864 supported)`);
    const parts = [ggufHead(0, 1), str('a'), u32(9)];
    for (let i = 0; i < 10_000; i++) parts.push(u32(9), u64(1));
    const nested = join(tmp, 'nested.gguf');
    writeFileSync(nested, Buffer.concat(parts));
    expect(() => readGguf(nested)).toThrowError(`${nested}: corrupt header: metadata "a" nests arrays more than 4 deep`);
  });

  it('refuses tensor dims whose product overflows, and a directory', () => {
    const kv = Buffer.concat([str('general.architecture'), u32(8), str('llama')]);
    const p = join(tmp, 'dims.gguf');
    writeFileSync(p, Buffer.concat([ggufHead(1, 1), kv, str('w'), u32(2), u64(2 ** 40), u64(2 ** 40), u32(0), u64(0), Buffer.alloc(64)]));
    expect(() => readGguf(p)).toThrowError(`${p}: corrupt tensor info for w: dims [1099511627776, 1099511627776] claim more elements than the file can hold`);
    const d = join(tmp, 'folder.gguf');
    mkdirSync(d);
    expect(() => readGguf(d)).toThrowError(`${d}: is a folder, not a GGUF file`);
  });
});

describe('hostile safetensors headers', () => {
  function st(name: string, header: unknown): string {
    const h = Buffer.from(JSON.stringify(header));
    const p = join(tmp, name);
    writeFileSync(p, Buffer.concat([u64(h.length), h, Buffer.alloc(64)]));
    return p;
  }
  it('refuses negative offsets and sizes, strings for numbers and overflowing shapes, naming the tensor', () => {
    const neg = st('neg.safetensors', { w: { dtype: 'F32', shape: [4], data_offsets: [-8, 8] } });
    expect(() => new SafetensorsFile(neg)).toThrowError(`${neg}: tensor "w": data_offsets [-8, 8] is not a pair of byte offsets`);
    const minus = st('minus.safetensors', { w: { dtype: 'F32', shape: [-1, -4], data_offsets: [0, 16] } });
    expect(() => new SafetensorsFile(minus)).toThrowError(`${minus}: tensor "w": shape [-1, -4] holds -1, not a size`);
    const strings = st('strings.safetensors', { w: { dtype: 'F32', shape: ['2', '2'], data_offsets: [0, 16] } });
    expect(() => new SafetensorsFile(strings)).toThrowError(/strings\.safetensors: tensor "w": shape \[the string "2", the string "2"\]/);
    const huge = st('huge.safetensors', { w: { dtype: 'F32', shape: [1e10, 1e10], data_offsets: [0, 16] } });
    expect(() => new SafetensorsFile(huge)).toThrowError(
      /huge\.safetensors: tensor "w": shape \[10000000000, 10000000000\] claims more elements than the file has bytes/,
    );
    const meta = st('meta.safetensors', { __metadata__: 5 });
    expect(() => new SafetensorsFile(meta)).toThrowError(`${meta}: __metadata__ is 5, expected an object of strings`);
  });
});

describe('hostile config.json', () => {
  const llama = JSON.parse(readFileSync(join(FIX, 'tiny-llama', 'config.json'), 'utf8')) as Record<string, unknown>;
  it('refuses sizes out of bounds or not whole numbers, naming the field', () => {
    expect(() => configFromHf({ ...llama, num_hidden_layers: 1e9 }, '/m/config.json')).toThrowError(
      '/m/config.json: "num_hidden_layers" is 1000000000; expected a whole number from 1 to 1024',
    );
    expect(() => configFromHf({ ...llama, hidden_size: '32' }, '/m/config.json')).toThrowError(
      '/m/config.json: "hidden_size" is the string "32"; expected a whole number from 1 to 65536',
    );
    expect(() => configFromHf({ ...llama, vocab_size: 1.5 }, '/m/config.json')).toThrowError(/"vocab_size" is 1\.5; expected a whole number/);
    expect(() => configFromHf({ ...llama, num_key_value_heads: 3 }, '/m/config.json')).toThrowError(
      '/m/config.json: "num_attention_heads" (4) is not a multiple of "num_key_value_heads" (3)',
    );
    expect(() => configFromHf({ ...llama, rms_norm_eps: -1 }, '/m/config.json')).toThrowError(
      '/m/config.json: "rms_norm_eps" is -1; expected a number greater than 0',
    );
    expect(() => configFromHf(null as never, '/m/config.json')).toThrowError('/m/config.json: expected a JSON object, found null');
    expect(() => configFromHf({ ...llama, num_hidden_layers: 1e9 }, '/m/config.json')).toThrowError(ModelFileError);
    // still accepted: what real configs write for "no sliding window"
    const mistral = JSON.parse(readFileSync(join(FIX, 'tiny-mistral', 'config.json'), 'utf8')) as Record<string, unknown>;
    for (const none of [null, false, 0]) expect(configFromHf({ ...mistral, sliding_window: none }).slidingWindow).toEqual([null, null]);
    expect(configFromHf(mistral).slidingWindow).toEqual([4, 4]);
  });

  it('refuses a config.json too large to be one, and one that is a folder, without reading it', () => {
    const big = join(tmp, 'big-config');
    cpSync(join(FIX, 'tiny-llama'), big, { recursive: true });
    truncateSync(join(big, 'config.json'), 2 ** 30);
    expect(() => loadHfModel(big)).toThrowError(`${join(big, 'config.json')}: 1024 MB is too large for a config.json (at most 16.0 MB)`);
    const dir = join(tmp, 'dir-config');
    cpSync(join(FIX, 'tiny-llama'), dir, { recursive: true });
    rmSync(join(dir, 'config.json'));
    mkdirSync(join(dir, 'config.json'));
    expect(() => loadHfModel(dir)).toThrowError(`${join(dir, 'config.json')}: is a folder, not a config.json`);
  });
});

describe('hostile tokenizer.json', () => {
  function folder(name: string, edit: (j: Record<string, any>) => void): string {
    const d = join(tmp, name);
    mkdirSync(d);
    const j = JSON.parse(readFileSync(join(FIX, 'tiny-llama', 'tokenizer.json'), 'utf8')) as Record<string, any>;
    edit(j);
    writeFileSync(join(d, 'tokenizer.json'), JSON.stringify(j));
    return join(d, 'tokenizer.json');
  }
  it('refuses an added token id of 1e9 at once (the library would loop over 1e9 ids)', () => {
    const p = folder('added-1e9', (j) => (j.added_tokens[0].id = 1e9));
    const t0 = Date.now();
    expect(() => HfTokenizer.fromFolder(join(p, '..'))).toThrowError(
      `${p}: added_tokens[0] ("<unk>") has id 1000000000; expected a whole number from 0 to 4194303`,
    );
    expect(Date.now() - t0).toBeLessThan(1000);
  });
  it('refuses vocabulary ids that are not ids, and reports what the library rejects with the file name', () => {
    const vocab = folder('vocab-id', (j) => (j.model.vocab[Object.keys(j.model.vocab)[3]!] = -1));
    expect(() => HfTokenizer.fromFolder(join(vocab, '..'))).toThrowError(/vocab-id\/tokenizer\.json: model\.vocab "\S+" has id -1; expected a whole number/);
    const pre = folder('pre-tokenizer', (j) => (j.pre_tokenizer = { type: 'NoSuchThing' }));
    expect(() => HfTokenizer.fromFolder(join(pre, '..'))).toThrowError(`${pre}: cannot be used as a tokenizer (Unknown PreTokenizer type: NoSuchThing)`);
  });
});
