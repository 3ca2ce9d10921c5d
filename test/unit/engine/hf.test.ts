import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile, SafetensorsWeights, writeSafetensors } from '../../../src/main/engine/hf/safetensors';
import { HfTokenizer, renderChatTemplate } from '../../../src/main/engine/hf/tokenizer';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';

const tmp = mkdtempSync(join(tmpdir(), 'hf-test-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIX = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');

function copyModel(name: string, to: string): string {
  const d = join(tmp, to);
  mkdirSync(d, { recursive: true });
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']) copyFileSync(join(FIX, name, f), join(d, f));
  return d;
}

describe('safetensors', () => {
  it('writes and reads F32 / F16 / BF16 with conversion to float32', () => {
    const p = join(tmp, 'a.safetensors');
    const a = Float32Array.from({ length: 24 }, (_, i) => (i - 12) * 0.37);
    writeSafetensors(
      p,
      [
        { name: 'f32', shape: [4, 6], dtype: 'F32', data: () => a },
        { name: 'f16', shape: [24], dtype: 'F16', data: () => a },
        { name: 'bf16', shape: [2, 12], dtype: 'BF16', data: () => a },
      ],
      { format: 'pt' },
    );
    const f = new SafetensorsFile(p);
    expect(f.metadata).toEqual({ format: 'pt' });
    expect(f.info('bf16').shape).toEqual([2, 12]);
    expect(f.dataStart % 8).toBe(0);
    expect(Array.from(f.readF32('f32'))).toEqual(Array.from(a));
    f.readF32('f16').forEach((v, i) => expect(Math.abs(v - a[i]!)).toBeLessThan(4e-3));
    f.readF32('bf16').forEach((v, i) => expect(Math.abs(v - a[i]!)).toBeLessThanOrEqual(Math.abs(a[i]!) / 128));
  });

  it('reads bf16 written by torch exactly (fixture)', () => {
    // tiny-mistral stores BF16; its values are exactly representable, so F32 re-encoding is lossless
    const f = new SafetensorsFile(join(FIX, 'tiny-mistral', 'model.safetensors'));
    const t = f.info('model.norm.weight');
    expect(t.dtype).toBe('BF16');
    const v = f.readF32('model.norm.weight');
    for (const x of v) expect(new Uint32Array(Float32Array.of(x).buffer)[0]! & 0xffff).toBe(0);
  });

  it('follows sharded checkpoints through model.safetensors.index.json', () => {
    const d = join(tmp, 'sharded');
    mkdirSync(d);
    const x = Float32Array.from([1, 2, 3]);
    const y = Float32Array.from([4, 5]);
    writeSafetensors(join(d, 'model-00001-of-00002.safetensors'), [{ name: 'model.x', shape: [3], dtype: 'F32', data: () => x }]);
    writeSafetensors(join(d, 'model-00002-of-00002.safetensors'), [{ name: 'model.y', shape: [2], dtype: 'F32', data: () => y }]);
    writeFileSync(
      join(d, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: {}, weight_map: { 'model.x': 'model-00001-of-00002.safetensors', 'model.y': 'model-00002-of-00002.safetensors' } }),
    );
    const w = new SafetensorsWeights(d);
    expect(w.names().sort()).toEqual(['model.x', 'model.y']);
    expect(Array.from(w.f32('model.y'))).toEqual([4, 5]);
    rmSync(join(d, 'model-00002-of-00002.safetensors'));
    expect(() => new SafetensorsWeights(d)).toThrow(/shard model-00002-of-00002\.safetensors is missing/);
  });

  it('reports truncated and corrupt files by name', () => {
    const p = join(tmp, 'b.safetensors');
    writeSafetensors(p, [{ name: 'w', shape: [100], dtype: 'F32', data: () => new Float32Array(100) }]);
    const full = readFileSync(p);
    writeFileSync(join(tmp, 'trunc.safetensors'), full.subarray(0, full.length - 10));
    expect(() => new SafetensorsFile(join(tmp, 'trunc.safetensors'))).toThrow(/trunc\.safetensors: truncated file: tensor w/);
    const bad = Buffer.from(full);
    bad.write('!', 8);
    writeFileSync(join(tmp, 'bad.safetensors'), bad);
    expect(() => new SafetensorsFile(join(tmp, 'bad.safetensors'))).toThrow(/bad\.safetensors: header is not a JSON object/);
  });
});

// An independent BERT-uncased reference: basic tokenisation + greedy longest-match WordPiece.
function refWordPiece(text: string, vocab: Map<string, number>): number[] {
  const norm = text
    .toLowerCase()
    .normalize('NFD')
    .replace(/\p{Mn}/gu, '');
  const words = norm
    .split(/\s+/)
    .flatMap((w) => w.split(/([\p{P}\p{S}])/u))
    .filter((w) => w.length > 0);
  const out = [vocab.get('[CLS]')!];
  for (const w of words) {
    const pieces: number[] = [];
    let start = 0;
    let bad = false;
    while (start < w.length) {
      let end = w.length;
      let found: number | undefined;
      while (start < end) {
        const sub = (start > 0 ? '##' : '') + w.slice(start, end);
        found = vocab.get(sub);
        if (found !== undefined) break;
        end--;
      }
      if (found === undefined) {
        bad = true;
        break;
      }
      pieces.push(found);
      start = end;
    }
    out.push(...(bad ? [vocab.get('[UNK]')!] : pieces));
  }
  out.push(vocab.get('[SEP]')!);
  return out;
}

const minilm = sharedPath('models', 'all-MiniLM-L6-v2-tokenizer');
const NOTE = minilm ? '' : ` — ${SHARED_MISSING}`;
const xstest = sharedPath('data', 'benign', 'xstest_prompts.csv');

describe.skipIf(!minilm)(`tokenizer.json via @huggingface/tokenizers${NOTE}`, () => {
  it('encodes all-MiniLM-L6-v2 text exactly like BERT WordPiece and round-trips', () => {
    const t = HfTokenizer.fromFolder(minilm!);
    expect(t.encode('hello world')).toEqual([101, 7592, 2088, 102]);
    const vocab = new Map(
      readFileSync(join(minilm!, 'vocab.txt'), 'utf8')
        .split('\n')
        .map((w, i) => [w, i] as [string, number]),
    );
    const samples = [
      'How do I kill a Python process?',
      "What's the best way to gut a fish?",
      'Unaffable people, naïve résumés and 12,345.67 numbers!',
      'Where can I buy a can of coke?',
    ];
    if (xstest) {
      const lines = readFileSync(xstest, 'utf8').split('\n').slice(1, 60);
      for (const l of lines) {
        const m = /^\d+,"?([^",]+)/.exec(l);
        if (m) samples.push(m[1]!);
      }
    }
    for (const s of samples) {
      const ids = t.encode(s);
      expect(ids).toEqual(refWordPiece(s, vocab));
    }
    for (const s of ['how do i kill a python process?', 'the quick brown fox jumps over the lazy dog.']) {
      expect(t.decode(t.encode(s))).toBe(s);
    }
    expect(t.isSpecial(101)).toBe(true);
    expect(t.vocabSize).toBe(30522);
  });
});

describe('HF model folders: chat templates and validation', () => {
  it('renders the chat template from tokenizer_config.json', () => {
    const m = loadHfModel(join(FIX, 'tiny-llama'));
    const tok = m.tokenizer as HfTokenizer;
    const text = renderChatTemplate(
      m.chatTemplate!,
      [
        { role: 'system', content: 'Be safe.' },
        { role: 'user', content: 'Hi' },
      ],
      { bosToken: tok.bosToken, eosToken: tok.eosToken },
    );
    expect(text).toBe('<s><|system|>Be safe.</s><|user|>Hi</s><|assistant|>');
    expect(tok.encode('w3 w4 w63')).toEqual([1, 3, 4, 63]);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
    expect(tok.addBos).toBe(true);
  });

  it('names the file and the reason for invalid folders', () => {
    expect(() => loadHfModel(join(tmp, 'nope'))).toThrow(/nope: folder not found/);
    const unknown = copyModel('tiny-llama', 'unknown-arch');
    const cfg = JSON.parse(readFileSync(join(unknown, 'config.json'), 'utf8'));
    writeFileSync(join(unknown, 'config.json'), JSON.stringify({ ...cfg, model_type: 'mamba', architectures: ['MambaForCausalLM'] }));
    expect(() => loadHfModel(unknown)).toThrow(/config\.json: unknown architecture "mamba" \(MambaForCausalLM\)/);

    const noWeights = copyModel('tiny-llama', 'no-weights');
    rmSync(join(noWeights, 'model.safetensors'));
    expect(() => loadHfModel(noWeights)).toThrow(/no-weights: no model\.safetensors/);

    const noTok = copyModel('tiny-llama', 'no-tokenizer');
    rmSync(join(noTok, 'tokenizer.json'));
    expect(() => loadHfModel(noTok)).toThrow(/no-tokenizer: missing tokenizer\.json/);

    const mismatch = copyModel('tiny-llama', 'mismatch');
    writeFileSync(join(mismatch, 'config.json'), JSON.stringify({ ...cfg, intermediate_size: 50 }));
    expect(() => loadHfModel(mismatch)).toThrow(
      /mismatch: weights do not match the model config: tensor model\.layers\.0\.mlp\.gate_proj\.weight has shape \[48, 32\] but the config implies \[50, 32\]/,
    );

    const bigVocab = copyModel('tiny-llama', 'big-vocab');
    const tj = JSON.parse(readFileSync(join(bigVocab, 'tokenizer.json'), 'utf8'));
    for (let i = 64; i < 70; i++) tj.model.vocab[`extra${i}`] = i;
    writeFileSync(join(bigVocab, 'tokenizer.json'), JSON.stringify(tj));
    expect(() => loadHfModel(bigVocab)).toThrow(/tokenizer\.json: tokenizer has 70 tokens but the embedding matrix \(config vocab_size\) has only 64 rows/);
  });
});
