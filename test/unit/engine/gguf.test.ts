import { describe, expect, it, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGML_TYPE, GgufError, dequantize, readGguf, readTensorF32 } from '../../../src/main/engine/gguf/reader';
import { writeGguf } from '../../../src/main/engine/gguf/writer';
import { SpmTokenizer, TOKEN_TYPE } from '../../../src/main/engine/gguf/tokenizer';
import { floatToHalf } from '../../../src/main/engine/graph';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;
const dir = mkdtempSync(join(tmpdir(), 'gguf-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('GGUF reader', () => {
  it.skipIf(!stories)(`reads stories260K metadata and tensors${NOTE}`, () => {
    const g = readGguf(stories!);
    expect(g.version).toBe(3);
    expect(g.metadata.get('general.architecture')).toBe('llama');
    expect(g.metadata.get('llama.block_count')).toBe(5);
    expect(g.metadata.get('llama.attention.head_count_kv')).toBe(4);
    const q = g.tensorMap.get('blk.0.attn_k.weight')!;
    expect(q.dims).toEqual([64, 32]);
    expect(q.typeName).toBe('F32');
    const w = readTensorF32(g, q);
    expect(w.length).toBe(64 * 32);
    expect(w.some((x) => x !== 0)).toBe(true);
    expect(w.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('round-trips F32/F16/Q8_0 tensors and metadata through the writer', () => {
    const p = join(dir, 'rt.gguf');
    const a = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
    writeGguf(
      p,
      {
        'general.architecture': 'llama',
        'llama.block_count': 2,
        'llama.rope.freq_base': 10000.5,
        flag: true,
        neg: -3,
        'tokenizer.ggml.tokens': ['a', 'b'],
        'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: [0.5, -1] },
      },
      [
        { name: 'f32', dims: [16, 4], type: 'F32', data: () => a },
        { name: 'f16', dims: [64], type: 'F16', data: () => a },
        { name: 'q8', dims: [32, 2], type: 'Q8_0', data: () => a },
      ],
    );
    const g = readGguf(p);
    expect(g.metadata.get('llama.block_count')).toBe(2);
    expect(g.metadata.get('llama.rope.freq_base')).toBeCloseTo(10000.5, 0);
    expect(g.metadata.get('flag')).toBe(true);
    expect(g.metadata.get('neg')).toBe(-3);
    expect(g.metadata.get('tokenizer.ggml.tokens')).toEqual(['a', 'b']);
    expect(g.metadata.get('tokenizer.ggml.scores')).toEqual([0.5, -1]);
    expect(Array.from(readTensorF32(g, 'f32'))).toEqual(Array.from(a));
    const h = readTensorF32(g, 'f16');
    a.forEach((v, i) => expect(Math.abs(h[i]! - v)).toBeLessThan(2e-3));
    const q = readTensorF32(g, 'q8');
    a.forEach((v, i) => expect(Math.abs(q[i]! - v)).toBeLessThan(3 / 127 + 1e-3));
    expect(g.tensorMap.get('q8')!.fileOffset % 32).toBe(0);
  });

  it('dequantises Q8_0 and Q4_0 blocks by the ggml formulas', () => {
    const q8 = Buffer.alloc(34);
    q8.writeUInt16LE(floatToHalf(0.5), 0);
    for (let j = 0; j < 32; j++) q8.writeInt8(j - 16, 2 + j);
    expect(Array.from(dequantize(q8, GGML_TYPE.Q8_0, 32))).toEqual(Array.from({ length: 32 }, (_, j) => (j - 16) * 0.5));
    const q4 = Buffer.alloc(18);
    q4.writeUInt16LE(floatToHalf(2), 0);
    for (let j = 0; j < 16; j++) q4[2 + j] = (j & 0xf) | ((15 - j) << 4);
    const d = dequantize(q4, GGML_TYPE.Q4_0, 32);
    for (let j = 0; j < 16; j++) {
      expect(d[j]).toBe((j - 8) * 2);
      expect(d[j + 16]).toBe((15 - j - 8) * 2);
    }
  });

  it('reports truncated, corrupt and unsupported files clearly', () => {
    const p = join(dir, 'ok.gguf');
    // rows of 256: a whole number of K-quant blocks, so the type patch below stays a valid header
    writeGguf(p, { 'general.architecture': 'llama' }, [{ name: 'w', dims: [256, 2], type: 'F32', data: () => new Float32Array(512) }]);
    const full = readFileSync(p);
    const trunc = join(dir, 'trunc.gguf');
    writeFileSync(trunc, full.subarray(0, full.length - 100));
    expect(() => readGguf(trunc)).toThrow(/trunc\.gguf: truncated file: tensor w/);
    const trunc2 = join(dir, 'trunc2.gguf');
    writeFileSync(trunc2, full.subarray(0, 30));
    expect(() => readGguf(trunc2)).toThrow(/trunc2\.gguf: truncated or corrupt file: tensor count is 1, but only 14 bytes are left/);
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, Buffer.concat([Buffer.from('GGML'), full.subarray(4)]));
    expect(() => readGguf(bad)).toThrow(/bad\.gguf: not a GGUF file/);
    // an IQ2_XXS tensor (a type without a dequantiser here): patch the type code of tensor "w" (F32=0 → IQ2_XXS=16)
    const nameAt = full.indexOf(Buffer.from('w'), full.indexOf(Buffer.from('general.architecture')) + 30);
    const patched = Buffer.from(full);
    // layout after name: n_dims u32, 2 x u64 dims, type u32
    patched.writeUInt32LE(16, nameAt + 1 + 4 + 16);
    const qk = join(dir, 'iq2.gguf');
    writeFileSync(qk, patched);
    const g2 = readGguf(qk);
    expect(g2.tensorMap.get('w')!.typeName).toBe('IQ2_XXS');
    expect(() => readTensorF32(g2, 'w')).toThrow(/iq2\.gguf: tensor w uses quantisation type IQ2_XXS/);
    expect(() => readTensorF32(g2, 'nope')).toThrow(GgufError);
    // rows that do not divide into blocks are refused with the header (as llama.cpp does): a Q4_K
    // tensor (type 12) whose rows claim 100 elements
    patched.writeUInt32LE(12, nameAt + 1 + 4 + 16);
    patched.writeBigUInt64LE(100n, nameAt + 1 + 4);
    const q4k = join(dir, 'q4k.gguf');
    writeFileSync(q4k, patched);
    expect(() => readGguf(q4k)).toThrow(/q4k\.gguf: corrupt tensor info for w: rows of 100 elements do not divide into Q4_K blocks of 256/);
  });
});

describe('SentencePiece tokenizer from GGUF', () => {
  it.skipIf(!stories)(`encodes and decodes stories260K text exactly${NOTE}`, () => {
    const t = SpmTokenizer.fromGguf(readGguf(stories!));
    expect(t.vocabSize).toBe(512);
    expect(t.bosId).toBe(1);
    expect(t.eosIds).toEqual([2]);
    const ids = t.encode('Once upon a time');
    expect(ids.map((i) => t.idToToken(i))).toEqual(['<s>', '▁Once', '▁upon', '▁a', '▁time']);
    for (const s of ['Once upon a time', 'héllo 日本 wörld  two  spaces\n', ' leading space', 'Lily said: "Yes!"']) {
      expect(t.decode(t.encode(s))).toBe(s);
    }
    // byte fallback for characters outside the 512-token vocabulary
    const jp = t.encode('日', { addSpecial: false });
    expect(jp.map((i) => t.idToToken(i))).toEqual(['▁', '<0xE6>', '<0x97>', '<0xA5>']);
  });

  it('merges by score with leftmost tie-breaking', () => {
    const tokens = ['<unk>', '<s>', '</s>', '▁', 'a', 'b', 'ab', 'ba', '▁a', 'aba'];
    const scores = [0, 0, 0, -1, -1, -1, -2, -1.5, -3, -0.5];
    const types = tokens.map((_, i) => (i === 0 ? TOKEN_TYPE.UNKNOWN : i < 3 ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL));
    const t = new SpmTokenizer({ tokens, scores, types, bosId: 1, eosId: 2, unkId: 0, padId: null, addBos: false, addSpacePrefix: false });
    // "aba": pairs ab(-2) and ba(-1.5): ba wins → a|ba; then "aba" is in vocab (-0.5) → aba
    expect(t.encode('aba').map((i) => t.idToToken(i))).toEqual(['aba']);
    // "abab": ba (pos 1) first → a|ba|b ; then a+ba = aba → aba|b
    expect(t.encode('abab').map((i) => t.idToToken(i))).toEqual(['aba', 'b']);
    // unknown character with no byte tokens → <unk>
    expect(t.encode('c')).toEqual([0]);
    expect(t.decode([1, 9, 5, 2])).toBe('abab');
    expect(t.decode([1, 9, 2], { skipSpecial: false })).toBe('<s>aba</s>');
  });
});
