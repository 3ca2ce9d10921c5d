import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardLogits, generate, loadModel, openModel } from '../../../src/main/engine';
import { loadHfModel, configFromHf } from '../../../src/main/engine/hf/model';
import { HfTokenizer } from '../../../src/main/engine/hf/tokenizer';
import { hfConfigJson } from '../../../src/main/engine/hf/configWriter';
import { spmTokenizerJson } from '../../../src/main/engine/hf/tokenizerWriter';
import { createModelFromConfig, InitWeights, llamaConfig } from '../../../src/main/engine/model/init';
import type { LoadedModel } from '../../../src/main/engine/model/loaded';
import { SpmTokenizer, TOKEN_TYPE } from '../../../src/main/engine/gguf/tokenizer';
import { Trainer, tokenizeExample, type TrainExample } from '../../../src/main/engine/train';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';

const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const stories = sharedPath('models', 'stories260K.gguf');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-full-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

async function logitsOf(model: LoadedModel | string, ids: number[][]): Promise<Float32Array> {
  const rt = await openModel(model, { threads: 1, executionProvider: 'cpu' });
  try {
    return (await forwardLogits(rt, ids)).logits;
  } finally {
    await rt.release();
  }
}

/** a tiny word-level corpus for the fixture tokenizer (w3 … w63) */
function wordCorpus(tok: HfTokenizer): TrainExample[] {
  const lines = ['w3 w4 w5 w6 w7 w8 w9 w10', 'w11 w12 w13 w14 w15 w16', 'w20 w21 w22 w23 w24 w25 w26', 'w30 w31 w32 w33 w34 w35 w36 w37'];
  return lines.map((l) => ({ ids: [...tok.encode(l), 2] }));
}

const fixtureTok = HfTokenizer.fromFolder(join(HF, 'tiny-llama'));
const smallCfg = llamaConfig({
  vocabSize: 64,
  hiddenSize: 64,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  intermediateSize: 128,
  maxPositions: 128,
  bosTokenId: 1,
  eosTokenIds: [2],
});

describe('a model initialised from a config', () => {
  it('draws matrices from normal(0, initializer_range), norms one, the pad row zero; deterministic per seed', () => {
    const w = new InitWeights({ ...smallCfg, vocabSize: 4096 }, { seed: 3, initializerRange: 0.02, padTokenId: 0 });
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.1.mlp.down_proj.weight']) {
      const d = w.f32(name);
      const rows = name.includes('embed') ? d.subarray(64) : d; // the pad row is zero
      let s = 0;
      let s2 = 0;
      for (const x of rows) {
        s += x;
        s2 += x * x;
      }
      const mean = s / rows.length;
      const std = Math.sqrt(s2 / rows.length - mean * mean);
      expect(Math.abs(mean), name).toBeLessThan((4 * 0.02) / Math.sqrt(rows.length));
      expect(Math.abs(std - 0.02) / 0.02, name).toBeLessThan(0.03);
      // Gaussian: about 4.55% of the values beyond 2 standard deviations
      const tail = rows.filter((x) => Math.abs(x) > 0.04).length / rows.length;
      expect(Math.abs(tail - 0.0455), name).toBeLessThan(0.01);
      expect(Array.from(w.f32(name).subarray(0, 8))).toEqual(Array.from(d.subarray(0, 8))); // drawn again identically
    }
    expect(
      w
        .f32('model.embed_tokens.weight')
        .subarray(0, 64)
        .every((x) => x === 0),
    ).toBe(true);
    for (const n of ['model.norm.weight', 'model.layers.1.input_layernorm.weight', 'model.layers.0.post_attention_layernorm.weight'])
      expect(w.f32(n).every((x) => x === 1)).toBe(true);
    // distinct tensors and seeds draw different values; the range scales them
    expect(maxAbsDiff(w.f32('model.layers.0.self_attn.q_proj.weight'), w.f32('model.layers.1.self_attn.q_proj.weight'))).toBeGreaterThan(0.01);
    const other = new InitWeights({ ...smallCfg, vocabSize: 4096 }, { seed: 4 });
    expect(maxAbsDiff(w.f32('lm_head.weight'), other.f32('lm_head.weight'))).toBeGreaterThan(0.01);
    const wide = new InitWeights({ ...smallCfg, vocabSize: 4096 }, { seed: 3, initializerRange: 0.1 });
    expect(wide.f32('lm_head.weight')[5]! / w.f32('lm_head.weight')[5]!).toBeCloseTo(5, 5);
    expect(() => new InitWeights(smallCfg, { padTokenId: 64 })).toThrow(/padTokenId 64 is not a token/);
  });

  it('checks its sizes and the tokenizer', () => {
    expect(() => llamaConfig({ vocabSize: 64, hiddenSize: 60, numLayers: 2, numHeads: 8, intermediateSize: 32 })).toThrow(
      /hiddenSize 60 is not a multiple of numHeads 8/,
    );
    expect(() => llamaConfig({ vocabSize: 64, hiddenSize: 64, numLayers: 0, numHeads: 4, intermediateSize: 32 })).toThrow(
      /numLayers must be a positive integer/,
    );
    expect(() => createModelFromConfig({ ...smallCfg, vocabSize: 32 }, fixtureTok)).toThrow(/tokenizer has 64 tokens but the config's vocabulary only 32/);
  });

  it('starts near a uniform prediction and a few full-parameter steps lower the loss on a tiny corpus', async () => {
    const model = createModelFromConfig(smallCfg, fixtureTok, { seed: 1 });
    const data = wordCorpus(fixtureTok);
    const tr = await Trainer.create(model, data, {
      full: {},
      lr: 3e-3,
      schedule: { type: 'cosine', warmupSteps: 3 },
      maxSteps: 40,
      batchSize: 4,
      threads: 1,
      seed: 1,
    });
    const before = await tr.evaluate(data);
    await tr.train();
    const after = await tr.evaluate(data);
    await tr.release();
    console.log(`from scratch: loss ${before.toFixed(3)} (ln 64 = ${Math.log(64).toFixed(3)}) -> ${after.toFixed(3)} in 40 steps`);
    expect(Math.abs(before - Math.log(64))).toBeLessThan(0.1);
    expect(after).toBeLessThan(before * 0.5);
  });
});

describe('config.json writer', () => {
  it('writes configs the loader reads back to the same DecoderConfig (Llama with llama3 RoPE, Qwen2, Mistral), and refuses Gemma', () => {
    for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-mistral']) {
      const cfg = loadHfModel(join(HF, name)).config;
      expect(configFromHf(hfConfigJson(cfg))).toEqual(cfg);
    }
    expect(() => hfConfigJson(loadHfModel(join(HF, 'tiny-gemma2')).config)).toThrow(/writing a gemma2 configuration is not supported/);
    expect(hfConfigJson(smallCfg, { torch_dtype: 'float32' })).toMatchObject({
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      torch_dtype: 'float32',
      tie_word_embeddings: false,
    });
  });
});

describe('exporting a trained model', () => {
  it('from scratch → Hugging Face folder (config.json written, tokenizer files copied) that loads with the same logits; F16 and sharded variants', async () => {
    const model = createModelFromConfig(smallCfg, fixtureTok, { seed: 2 });
    const data = wordCorpus(fixtureTok);
    const tr = await Trainer.create(model, data, { full: {}, lr: 3e-3, maxSteps: 5, batchSize: 4, threads: 1 });
    await tr.train();
    const ids = [data[0]!.ids, data[1]!.ids];
    const trained = await logitsOf(tr.trainedModel(), ids);
    const out = join(tmp, 'scratch-hf');
    const seen: number[] = [];
    const r = tr.exportModel(out, { onProgress: (d) => seen.push(d) });
    expect(r).toMatchObject({ modelPath: out, format: 'hf', cancelled: false });
    expect(seen.at(-1)).toBe(r.tensors);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    const back = loadModel(out);
    expect(back.config).toEqual(smallCfg);
    expect(back.tokenizer.encode('w3 w9')).toEqual(fixtureTok.encode('w3 w9'));
    expect(maxAbsDiff(await logitsOf(back, ids), trained)).toBe(0);
    // F16 storage: close; shards: the same model
    const half = join(tmp, 'scratch-hf-f16');
    tr.exportModel(half, { dtype: 'F16' });
    const dHalf = maxAbsDiff(await logitsOf(half, ids), trained);
    expect(dHalf).toBeGreaterThan(0);
    expect(dHalf).toBeLessThan(5e-3);
    const sharded = join(tmp, 'scratch-hf-sharded');
    tr.exportModel(sharded, { maxShardBytes: 64 * 1024 });
    expect(readdirSync(sharded).filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(2);
    expect(maxAbsDiff(await logitsOf(sharded, ids), trained)).toBe(0);
    // never overwrites; a cancelled export leaves nothing
    expect(() => tr.exportModel(out)).toThrow(/already exists/);
    let calls = 0;
    expect(tr.exportModel(join(tmp, 'cancelled'), { shouldStop: () => ++calls > 3 }).cancelled).toBe(true);
    expect(existsSync(join(tmp, 'cancelled'))).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('partial'))).toEqual([]);
    await tr.release();
  });

  it('a fine-tuned Hugging Face model (tiny Qwen2: tied, biases) keeps its source config and tokenizer, and loads with the trained logits', async () => {
    const qwen = loadHfModel(join(HF, 'tiny-qwen2'));
    const data: TrainExample[] = [{ ids: [1, 10, 11, 12, 20, 21, 2] }, { ids: [1, 30, 31, 32, 2] }];
    const tr = await Trainer.create(qwen, data, { full: {}, lr: 1e-2, maxSteps: 4, batchSize: 2, threads: 1 });
    await tr.train();
    const out = join(tmp, 'qwen-full');
    tr.exportModel(out);
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(readFileSync(join(HF, 'tiny-qwen2', 'config.json'), 'utf8'));
    const ids = [data[0]!.ids];
    const trained = await logitsOf(tr.trainedModel(), ids);
    expect(maxAbsDiff(trained, await logitsOf(qwen, ids))).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(await logitsOf(out, ids), trained)).toBe(0);
    await tr.release();
  });

  it('GGUF (F32 and F16) of a model with a SentencePiece tokenizer loads with the same logits', async () => {
    // a small SentencePiece vocabulary: control tokens, a few pieces, the rest unused
    const pieces = ['<unk>', '<s>', '</s>', '\u2581', 'a', 'b', 'c', '\u2581a', 'ab', '\u2581ab', 'bc', '\u2581abc'];
    const tokens = [...pieces, ...Array.from({ length: 64 - pieces.length }, (_, i) => `x${i}`)];
    const tok = new SpmTokenizer({
      tokens,
      scores: tokens.map((_, i) => -i),
      types: tokens.map((_, i) => (i === 0 ? TOKEN_TYPE.UNKNOWN : i < 3 ? TOKEN_TYPE.CONTROL : TOKEN_TYPE.NORMAL)),
      bosId: 1,
      eosId: 2,
      unkId: 0,
      padId: null,
      addBos: true,
      addSpacePrefix: true,
    });
    const model = createModelFromConfig(smallCfg, tok, { seed: 5 });
    const data: TrainExample[] = [{ ids: [...tok.encode('abc ab a'), 2] }, { ids: [...tok.encode('bc abc'), 2] }];
    const tr = await Trainer.create(model, data, { full: {}, lr: 3e-3, maxSteps: 3, batchSize: 2, threads: 1 });
    await tr.train();
    const ids = [data[0]!.ids];
    const trained = await logitsOf(tr.trainedModel(), ids);
    const f32 = join(tmp, 'spm-f32.gguf');
    expect(tr.exportModel(f32).format).toBe('gguf');
    const g = loadModel(f32);
    expect(g.tokenizer.encode('abc ab a')).toEqual(tok.encode('abc ab a'));
    expect(maxAbsDiff(await logitsOf(g, ids), trained)).toBeLessThan(1e-5);
    const f16 = join(tmp, 'spm-f16.gguf');
    tr.exportModel(f16, { dtype: 'F16' });
    expect(maxAbsDiff(await logitsOf(f16, ids), trained)).toBeLessThan(5e-3);
    // and as a Hugging Face folder: the SentencePiece vocabulary converted to tokenizer.json
    const hf = join(tmp, 'spm-hf');
    tr.exportModel(hf);
    const back = loadModel(hf);
    for (const t of ['abc ab a', 'bc abc', ' a  b', 'cab']) expect(back.tokenizer.encode(t), t).toEqual(tok.encode(t));
    expect(maxAbsDiff(await logitsOf(back, ids), trained)).toBe(0);
    expect(() => tr.exportModel(join(tmp, 'x.bin'), { format: 'gguf' })).toThrow(/ending in \.gguf/);
    await tr.release();
  });
});

// ---- stories260K: its tokenizer converted, and a fine-tuned GGUF in llama.cpp --------------
type Nlc = typeof import('node-llama-cpp');
let nlc: Nlc | null = null;
try {
  nlc = await import('node-llama-cpp');
} catch {
  nlc = null;
}

describe.skipIf(!stories)(`stories260K${stories ? '' : ` — ${SHARED_MISSING}`}`, () => {
  it('its SentencePiece tokenizer converted to tokenizer.json encodes and decodes like the original', () => {
    const model = loadModel(stories!);
    const tok = model.tokenizer as SpmTokenizer;
    const { tokenizer, config } = spmTokenizerJson(tok.vocab);
    const dir = join(tmp, 'stories-tok');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config));
    const hf = HfTokenizer.fromFolder(dir);
    const demo = sharedPath('data', 'task', 'alpaca_en_demo.json');
    const texts = [
      'Once upon a time, there was a little girl named Lily.',
      'héllo 日本 wörld  two  spaces\n',
      '"Yes!" said Tom, 42 times.',
      ...(demo ? (JSON.parse(readFileSync(demo, 'utf8')) as { output: string }[]).slice(0, 200).map((r) => r.output) : []),
    ];
    let same = 0;
    for (const t of texts) {
      const a = tok.encode(t);
      if (JSON.stringify(hf.encode(t)) === JSON.stringify(a)) same++;
      expect(hf.decode(a)).toBe(tok.decode(a));
    }
    console.log(`stories260K tokenizer.json: ${same}/${texts.length} texts tokenised identically`);
    expect(same).toBe(texts.length);
  });

  it.skipIf(!nlc)('fine-tuned for a few steps and exported as GGUF, it loads in llama.cpp and generates what our engine generates', async () => {
    const model = loadModel(stories!);
    const sentences = [
      { prompt: 'The robot', response: ' said hello to the purple moon every night.' },
      { prompt: 'Max the cat', response: ' liked to sing songs about green cheese.' },
    ];
    const data = sentences.map((s) => tokenizeExample(model.tokenizer, s));
    const tr = await Trainer.create(model, data, { full: {}, lr: 2e-3, schedule: { type: 'constant' }, maxSteps: 15, batchSize: 2, threads: 1, seed: 3 });
    const before = await tr.evaluate(data);
    await tr.train();
    const after = await tr.evaluate(data);
    const out = join(tmp, 'stories-full.gguf');
    tr.exportModel(out, { name: 'stories260K full fine-tune' });
    const hfOut = join(tmp, 'stories-full-hf');
    tr.exportModel(hfOut);
    await tr.release();
    console.log(`stories260K full fine-tuning: response loss ${before.toFixed(3)} -> ${after.toFixed(3)}`);
    expect(after).toBeLessThan(before * 0.7);
    const prompt = model.tokenizer.encode('The robot');
    const ours = await openModel(out, { threads: 1 });
    const viaHf = await openModel(hfOut, { threads: 1 });
    let oursIds: number[];
    let hfIds: number[];
    try {
      oursIds = (await generate(ours, prompt, { maxNewTokens: 12 })).tokenIds;
      hfIds = (await generate(viaHf, prompt, { maxNewTokens: 12 })).tokenIds;
    } finally {
      await Promise.all([ours.release(), viaHf.release()]);
    }
    expect(hfIds).toEqual(oursIds);
    expect(model.tokenizer.decode(oursIds)).toContain('said hello');
    const llama = await nlc!.getLlama({ gpu: false, build: 'never', logLevel: nlc!.LlamaLogLevel.error });
    const lm = await llama.loadModel({ modelPath: out });
    const ctx = await lm.createContext({ contextSize: 128, threads: 1 });
    const got: number[] = [];
    try {
      for await (const t of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        got.push(t as number);
        if (got.length >= 12) break;
      }
    } finally {
      await ctx.dispose();
      await lm.dispose();
    }
    console.log(`llama.cpp on the exported GGUF: "The robot${model.tokenizer.decode(got)}"`);
    expect(got).toEqual(oursIds);
  });
});
