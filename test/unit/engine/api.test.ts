import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyChatTemplate,
  exportGguf,
  forwardLogits,
  generate,
  loadModel,
  modelInfo,
  openModel,
  parameterCount,
  buildDecoderGraph,
  formatModelInfo,
  generateChat,
  loadLoraAdapter,
  mergeLora,
} from '../../../src/main/engine';
import { createSession, f32Tensor, i64Tensor, ort } from '../../../src/main/engine/graph';
import { writeSafetensors } from '../../../src/main/engine/hf/safetensors';
import { seededRandom } from '../../../src/main/engine/generate';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';
import { writeRandomAdapter } from '../../helpers/lora';

const tmp = mkdtempSync(join(tmpdir(), 'engine-api-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const FIX = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A PEFT adapter for the tiny-llama fixture (random A and B). */
function makeAdapter(dir: string, targets: string[], r = 4, alpha = 8): void {
  writeRandomAdapter(dir, loadModel(join(FIX, 'tiny-llama')), targets, r, alpha);
}

describe('engine API', () => {
  it.skipIf(!stories)(`model info for stories260K${NOTE}`, async () => {
    const m = loadModel(stories!);
    const info = await modelInfo(m);
    const g = readGguf(stories!);
    const fileParams = g.tensors.reduce((s, t) => s + t.numElements, 0);
    expect(info.parameterCount).toBe(fileParams);
    expect(info.architecture).toBe('llama');
    expect(info.contextLength).toBe(2048);
    expect(info.storageDtypes).toEqual({ F32: g.tensors.length });
    expect(info.layers).toBe(5);
    expect(info.kvHeads).toBe(4);
    expect(['cpu', 'cuda', 'dml', 'coreml', 'webgpu']).toContain(info.executionProvider.name);
    if (info.executionProvider.name === 'cpu') expect(info.executionProvider.notice).toMatch(/running on CPU/);
    expect(info.memory.weightBytes).toBe(fileParams * 4);
    expect(info.memory.kvCacheBytesPerSequence).toBe(2 * 5 * 4 * 8 * 4 * 2048);
    expect(info.memory.inferenceBytes).toBeGreaterThan(info.memory.weightBytes + info.memory.kvCacheBytesPerSequence);
    expect(info.memory.loraTrainingBytes).toBeGreaterThan(info.memory.weightBytes);
  });

  it('parameter count of the HF fixtures equals the stored tensor sizes', () => {
    for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-gemma2']) {
      const m = loadModel(join(FIX, name));
      const total = m.weights.names().reduce((s, n) => s + m.weights.shape(n).reduce((a, b) => a * b, 1), 0);
      expect(parameterCount(m.config)).toBe(total);
    }
  });

  it('LoRA merged and unmerged give the same logits, different from the base model', async () => {
    const adapter = join(tmp, 'adapter');
    makeAdapter(adapter, ['q_proj', 'v_proj']);
    const dir = join(FIX, 'tiny-llama');
    const ids = [[1, 5, 9, 13, 17, 21, 25]];
    const base = await openModel(dir, { threads: 1 });
    const merged = await openModel(dir, { threads: 1, lora: adapter, loraMode: 'merged' });
    const unmerged = await openModel(dir, { threads: 1, lora: adapter, loraMode: 'unmerged' });
    try {
      const b = (await forwardLogits(base, ids)).logits;
      const m = (await forwardLogits(merged, ids)).logits;
      const u = (await forwardLogits(unmerged, ids)).logits;
      expect(maxAbsDiff(m, u)).toBeLessThan(1e-4);
      expect(maxAbsDiff(b, m)).toBeGreaterThan(1e-2);
      const gu = await generate(unmerged, [1, 5, 9], { maxNewTokens: 5 });
      const gm = await generate(merged, [1, 5, 9], { maxNewTokens: 5 });
      expect(gu.tokenIds).toEqual(gm.tokenIds);
    } finally {
      await Promise.all([base.release(), merged.release(), unmerged.release()]);
    }
    const bad = join(tmp, 'bad-adapter');
    makeAdapter(bad, ['q_proj'], 4);
    writeSafetensors(join(bad, 'adapter_model.safetensors'), [
      { name: 'base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight', shape: [4, 32], dtype: 'F32', data: () => new Float32Array(128) },
      { name: 'base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight', shape: [32, 4], dtype: 'F32', data: () => new Float32Array(128) },
    ]);
    await expect(openModel(dir, { lora: bad })).rejects.toThrow(/adapter targets model\.layers\.9\.self_attn\.q_proj\.weight/);
  });

  it.skipIf(!stories)(`compiled-model cache: weights streamed to disk, loaded by path, reused${NOTE}`, async () => {
    const cacheDir = join(tmp, 'cache');
    const a = await openModel(stories!, { threads: 1, cacheDir });
    const dirs = readdirSync(cacheDir);
    expect(dirs).toHaveLength(1);
    expect(readdirSync(join(cacheDir, dirs[0]!)).sort()).toEqual(['step.READY', 'step.onnx', 'weights.bin', 'weights.bin.json']);
    const size = statSync(join(cacheDir, dirs[0]!, 'weights.bin')).size;
    const mtime = statSync(join(cacheDir, dirs[0]!, 'weights.bin')).mtimeMs;
    const r1 = await generate(a, 'Once upon a time', { maxNewTokens: 20 });
    await a.release();
    const b = await openModel(stories!, { threads: 1, cacheDir });
    const r2 = await generate(b, 'Once upon a time', { maxNewTokens: 20 });
    const full = await forwardLogits(b, [[1, 403, 407]]);
    await b.release();
    expect(readdirSync(cacheDir)).toHaveLength(1);
    // the full-sequence graph was added next to the step graph and reuses every weight
    expect(readdirSync(join(cacheDir, dirs[0]!)).sort()).toEqual(['full.READY', 'full.onnx', 'step.READY', 'step.onnx', 'weights.bin', 'weights.bin.json']);
    expect(statSync(join(cacheDir, dirs[0]!, 'weights.bin')).size).toBe(size);
    expect(statSync(join(cacheDir, dirs[0]!, 'weights.bin')).mtimeMs).toBe(mtime);
    expect(r1.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(r2.tokenIds).toEqual(r1.tokenIds);
    expect(full.dims).toEqual([1, 3, 512]);
  });

  it('LoRA factors as graph inputs (training layout) match the merged adapter', async () => {
    const adapterDir = join(tmp, 'adapter-inputs');
    makeAdapter(adapterDir, ['q_proj', 'v_proj']);
    const model = loadModel(join(FIX, 'tiny-llama'));
    const adapter = loadLoraAdapter(adapterDir);
    const g = buildDecoderGraph(model.config, model.weights, {
      kvCache: false,
      logits: 'all',
      fused: false,
      loraInputs: new Map([...adapter.modules].map(([n, m]) => [n, { rank: m.rank, scale: m.scale }])),
    });
    expect(g.nodes.every((n) => n.domain === '')).toBe(true); // plain ai.onnx ops only
    const s = await createSession(g.build(), { intraOpThreads: 1 });
    const ids = [1, 5, 9, 13, 17];
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64Tensor(ids, [1, 5]),
      attention_mask: i64Tensor([1, 1, 1, 1, 1], [1, 5]),
      position_ids: i64Tensor([0, 1, 2, 3, 4], [1, 5]),
    };
    for (const [n, m] of adapter.modules) {
      feeds[`${n}.lora_A`] = f32Tensor(m.a, [m.rank, m.a.length / m.rank]);
      feeds[`${n}.lora_B`] = f32Tensor(m.b, [m.b.length / m.rank, m.rank]);
    }
    const out = (await s.run(feeds))['logits']!.data as Float32Array;
    await s.release();
    const merged = await openModel(mergeLora(model, adapter), { threads: 1 });
    const ref = (await forwardLogits(merged, [ids])).logits;
    await merged.release();
    expect(maxAbsDiff(out, ref)).toBeLessThan(1e-4);
  });

  it('renders a chat template through the model and generates from it without a second BOS', async () => {
    const m = loadModel(join(FIX, 'tiny-qwen2'));
    expect(applyChatTemplate(m, [{ role: 'user', content: 'w5' }])).toBe('<s><|user|>w5</s><|assistant|>');
    const rt = await openModel(m, { threads: 1 });
    try {
      const r = await generateChat(rt, [{ role: 'user', content: 'w5 w6' }], { maxNewTokens: 3, ignoreEos: true });
      // WordLevel fixture: "<s>" parses as the BOS token, the unknown <|..|> words as <unk> (0)
      expect(r.promptTokens).toBe(m.tokenizer.encode('<s><|user|>w5 w6</s><|assistant|>', { addSpecial: false }).length);
      expect(r.tokenIds).toHaveLength(3);
    } finally {
      await rt.release();
    }
  });

  it.skipIf(!stories)(`formats model info for the CLI${NOTE}`, async () => {
    const text = formatModelInfo(await modelInfo(loadModel(stories!)));
    expect(text).toMatch(/architecture:\s+llama/);
    expect(text).toContain('parameters:        292.8K (292,800)');
    expect(text).toMatch(/context length:\s+2048/);
  });

  it.skipIf(!stories)(`exports GGUF (F32 exact, F16 close) that reloads with the same behaviour${NOTE}`, async () => {
    const m = loadModel(stories!);
    const f32 = join(tmp, 'stories-f32.gguf');
    const f16 = join(tmp, 'stories-f16.gguf');
    const q8 = join(tmp, 'stories-q8.gguf');
    exportGguf(m, f32, { type: 'F32' });
    exportGguf(m, f16, { type: 'F16' });
    exportGguf(m, q8, { type: 'Q8_0' });
    const q8file = readGguf(q8);
    expect(q8file.tensorMap.get('blk.0.attn_q.weight')!.typeName).toBe('Q8_0');
    expect(q8file.tensorMap.get('blk.0.ffn_down.weight')!.typeName).toBe('F16'); // rows of 172 are not a multiple of 32
    const ids = [m.tokenizer.encode('Once upon a time, Lily')];
    const a = await openModel(m, { threads: 1 });
    const b = await openModel(f32, { threads: 1 });
    const c = await openModel(f16, { threads: 1 });
    const d = await openModel(q8, { threads: 1 });
    try {
      const la = (await forwardLogits(a, ids)).logits;
      expect(maxAbsDiff(la, (await forwardLogits(b, ids)).logits)).toBe(0);
      expect(maxAbsDiff(la, (await forwardLogits(c, ids)).logits)).toBeLessThan(5e-2);
      expect(maxAbsDiff(la, (await forwardLogits(d, ids)).logits)).toBeLessThan(0.5);
      const q8text = await generate(d, 'Once upon a time', { maxNewTokens: 8 });
      expect(q8text.text.startsWith(', there was a little')).toBe(true);
      const r = await generate(b, 'Once upon a time', { maxNewTokens: 20 });
      expect(r.text.startsWith(', there was a little girl named Lily.')).toBe(true);
      expect(b.model.tokenizer.encode('héllo wörld')).toEqual(m.tokenizer.encode('héllo wörld'));
    } finally {
      await Promise.all([a.release(), b.release(), c.release(), d.release()]);
    }
    expect(() => exportGguf(loadModel(join(FIX, 'tiny-llama')), join(tmp, 'x.gguf'))).toThrow(/rope scaling is not supported/);
  });
});

// ---- llama.cpp cross-checks (node-llama-cpp CPU build) ---------------------------------
type Nlc = typeof import('node-llama-cpp');
let nlc: Nlc | null = null;
try {
  nlc = await import('node-llama-cpp');
} catch {
  nlc = null;
}

describe.skipIf(!stories || !nlc)('llama.cpp agreement on stories260K (needs ../shared and node-llama-cpp)', () => {
  async function llamaGreedy(path: string, prompt: string, n: number, extraTexts: string[] = []) {
    const llama = await nlc!.getLlama({ gpu: false, build: 'never', logLevel: nlc!.LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path });
    const ctx = await model.createContext({ contextSize: 256, threads: 1 });
    try {
      const seq = ctx.getSequence();
      const toks = [model.tokens.bos!, ...model.tokenize(prompt)];
      const out: number[] = [];
      for await (const t of seq.evaluate(toks, { temperature: 0 })) {
        out.push(t as number);
        if (out.length >= n) break;
      }
      return { prompt: toks.map(Number), out, tokenized: extraTexts.map((s) => model.tokenize(s).map(Number)) };
    } finally {
      await ctx.dispose();
      await model.dispose();
    }
  }

  it('same prompt tokens and the same 40 greedy tokens as llama.cpp', async () => {
    const texts = ['Lily and Ben played with a big red ball.', 'héllo 日本 wörld  two  spaces\n', '"Yes!" said Tom, 42 times.'];
    const ref = await llamaGreedy(stories!, 'Once upon a time', 40, texts);
    const rt = await openModel(stories!, { threads: 1 });
    try {
      expect(rt.model.tokenizer.encode('Once upon a time')).toEqual(ref.prompt);
      const ours = await generate(rt, 'Once upon a time', { maxNewTokens: 40 });
      expect(ours.tokenIds).toEqual(ref.out);
      texts.forEach((s, i) => expect(rt.model.tokenizer.encode(s, { addSpecial: false })).toEqual(ref.tokenized[i]));
    } finally {
      await rt.release();
    }
  });

  it('llama.cpp runs our GGUF export (F16) to the same greedy tokens', async () => {
    const out = join(tmp, 'export-for-llama.gguf');
    exportGguf(loadModel(stories!), out, { type: 'F16' });
    const ref = await llamaGreedy(stories!, 'Once upon a time', 20);
    const exported = await llamaGreedy(out, 'Once upon a time', 20);
    expect(exported.out).toEqual(ref.out);
  });
});

// ---- HF folder with a byte-level BPE tokenizer → GGUF → llama.cpp -------------------------
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  const map: string[] = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCodePoint(cs[i]!)));
  return map;
}

function makeBpeLlamaFolder(dir: string): void {
  mkdirSync(dir, { recursive: true });
  const b2u = bytesToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((u, i) => (vocab[u] = i));
  const merges: string[] = [];
  const addMerge = (a: string, b: string) => {
    merges.push(`${a} ${b}`);
    vocab[a + b] = Object.keys(vocab).length;
  };
  const G = b2u[32]!; // "Ġ"
  for (const [a, b] of [
    [G, 't'],
    ['h', 'e'],
    [G + 't', 'he'],
    ['i', 'n'],
    [G, 'a'],
    ['o', 'n'],
    ['e', 'r'],
    [G, 's'],
  ])
    addMerge(a!, b!);
  const special = ['<|begin_of_text|>', '<|end_of_text|>'];
  const V = 272;
  const specialIds = [Object.keys(vocab).length, Object.keys(vocab).length + 1];
  special.forEach((t, i) => (vocab[t] = specialIds[i]!));
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      added_tokens: special.map((content, i) => ({
        id: specialIds[i],
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges,
      },
    }),
  );
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: special[0], eos_token: special[1] }));
  const cfg = {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    vocab_size: V,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 256,
    tie_word_embeddings: false,
    bos_token_id: specialIds[0],
    eos_token_id: specialIds[1],
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  const rand = seededRandom(4242);
  const rnd = (n: number, s: number) => Float32Array.from({ length: n }, () => (rand() - 0.5) * 2 * s);
  const t: { name: string; shape: number[]; dtype: 'F32'; data: () => Float32Array }[] = [];
  const add = (name: string, shape: number[], s: number, base = 0) =>
    t.push({
      name,
      shape,
      dtype: 'F32',
      data: () =>
        rnd(
          shape.reduce((a, b) => a * b, 1),
          s,
        ).map((x) => x + base),
    });
  add('model.embed_tokens.weight', [V, 64], 1);
  add('lm_head.weight', [V, 64], 1);
  add('model.norm.weight', [64], 0.1, 1);
  for (let l = 0; l < 2; l++) {
    const p = `model.layers.${l}.`;
    add(p + 'self_attn.q_proj.weight', [64, 64], 0.3);
    add(p + 'self_attn.k_proj.weight', [32, 64], 0.3);
    add(p + 'self_attn.v_proj.weight', [32, 64], 0.3);
    add(p + 'self_attn.o_proj.weight', [64, 64], 0.3);
    add(p + 'mlp.gate_proj.weight', [128, 64], 0.3);
    add(p + 'mlp.up_proj.weight', [128, 64], 0.3);
    add(p + 'mlp.down_proj.weight', [64, 128], 0.3);
    add(p + 'input_layernorm.weight', [64], 0.1, 1);
    add(p + 'post_attention_layernorm.weight', [64], 0.1, 1);
  }
  writeSafetensors(join(dir, 'model.safetensors'), t);
}

describe.skipIf(!nlc)('HF folder (byte-level BPE) exported to GGUF runs in llama.cpp (needs node-llama-cpp)', () => {
  it('llama.cpp greedy tokens on the exported GGUF equal ours on the HF folder', async () => {
    const dir = join(tmp, 'hf-bpe-llama');
    makeBpeLlamaFolder(dir);
    const model = loadModel(dir);
    expect(model.tokenizer.encode(' the the', { addSpecial: false })).toHaveLength(2);
    const out = join(tmp, 'hf-bpe-llama.gguf');
    exportGguf(model, out, { type: 'F32' });
    const g = readGguf(out);
    expect(g.metadata.get('tokenizer.ggml.model')).toBe('gpt2');
    expect((g.metadata.get('tokenizer.ggml.merges') as string[])[0]).toBe('Ġ t');
    const prompt = [270, 50, 60, 70, 80];
    const rt = await openModel(model, { threads: 1 });
    const ours = await generate(rt, prompt, { maxNewTokens: 16, ignoreEos: true });
    await rt.release();
    const llama = await nlc!.getLlama({ gpu: false, build: 'never', logLevel: nlc!.LlamaLogLevel.error });
    const lm = await llama.loadModel({ modelPath: out });
    const ctx = await lm.createContext({ contextSize: 64, threads: 1 });
    const got: number[] = [];
    try {
      for await (const tkn of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        got.push(tkn as number);
        if (got.length >= 16) break;
      }
      expect(lm.tokenize(' the the').map(Number)).toEqual(model.tokenizer.encode(' the the', { addSpecial: false }));
    } finally {
      await ctx.dispose();
      await lm.dispose();
    }
    expect(got).toEqual(ours.tokenIds);
  });
});
