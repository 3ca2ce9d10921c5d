import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DecoderRuntime,
  buildDecoderGraph,
  forwardLogits,
  generate,
  loadModel,
  modelInfo,
  openModel,
  parameterCount,
  type LoadedModel,
} from '../../../src/main/engine';
import { Graph, createSession, f32Tensor, i64Tensor, type ort } from '../../../src/main/engine/graph';
import { addGradients } from '../../../src/main/engine/autodiff';
import { seededRandom } from '../../../src/main/engine/generate';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { dequantizeBlocks } from '../../../src/main/engine/gguf/quants';
import { quantizeModel } from '../../../src/main/engine/gguf/quantize';
import { repackMatrix, unpackMatrix, type QuantMatrix } from '../../../src/main/engine/gguf/repack';
import { QuantizingWeights } from '../../../src/main/engine/model/quantizeOnLoad';
import type { WeightSource } from '../../../src/main/engine/model/weights';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf';
import { writeRandomAdapter } from '../../helpers/lora';

const tmp = mkdtempSync(join(tmpdir(), 'quant-compute-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const QDIR = join(repoRoot, 'test', 'fixtures', 'engine', 'quants');
const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const index = JSON.parse(readFileSync(join(QDIR, 'index.json'), 'utf8')) as {
  types: Record<string, { code: number; blockSize: number; dequantElements: number }>;
};
const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;

const floats = (f: string) => {
  const b = readFileSync(join(QDIR, f));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The random fixture blocks of a type as a [rows, 256] matrix, with ggml's dequantised values. */
function fixtureMatrix(name: string): { qm: QuantMatrix; want: Float32Array } {
  const t = index.types[name]!;
  const blocks = new Uint8Array(readFileSync(join(QDIR, `${name}.deq.bin`)));
  return { qm: repackMatrix(t.code, blocks, t.dequantElements / 256, 256), want: floats(`${name}.deq.f32`) };
}

/** Blocks ggml quantised from data (the .q fixtures: 8 rows of 256) when there are some, else the random ones. */
function dataMatrix(name: string): { qm: QuantMatrix; want: Float32Array } {
  const t = index.types[name]!;
  if (!existsSync(join(QDIR, `${name}.q.bin`))) return fixtureMatrix(name);
  const blocks = new Uint8Array(readFileSync(join(QDIR, `${name}.q.bin`)));
  return { qm: repackMatrix(t.code, blocks, 8, 256), want: dequantizeBlocks(t.code, blocks, 8 * 256) };
}

describe('blockwise layout for onnxruntime (gguf/repack)', () => {
  for (const name of Object.keys(index.types))
    it(`holds ${name} weights as ggml dequantises them`, () => {
      const { qm, want } = fixtureMatrix(name);
      const got = unpackMatrix(qm);
      if (!qm.mins) expect(Buffer.compare(Buffer.from(got.buffer), Buffer.from(want.buffer))).toBe(0);
      // formats with a minimum: exact up to the one rounding of the residual minimum m − zp·s
      else expect(maxAbsDiff(got, want) / maxAbs(want)).toBeLessThan(2 ** -22);
    });

  it('MatMulNBits on the repacked blocks computes x·Wᵀ of the dequantised weights', async () => {
    const M = 3;
    const x = Float32Array.from({ length: M * 256 }, (_, i) => Math.sin(i * 0.7) * (i % 5 === 0 ? 2 : 0.5));
    for (const name of Object.keys(index.types)) {
      const { qm, want } = dataMatrix(name);
      // the float reference, in double precision
      const ref = new Float64Array(M * qm.rows);
      for (let m = 0; m < M; m++) for (let n = 0; n < qm.rows; n++) for (let k = 0; k < 256; k++) ref[m * qm.rows + n]! += x[m * 256 + k]! * want[n * 256 + k]!;
      const scale = maxAbs(ref);
      for (const acc of [0, 4] as const) {
        const g = new Graph('nbits', 21);
        const a = g.input('x', 'float32', [1, M, 256]);
        const kb = 256 / qm.blockSize;
        const codes = g.weight('codes', qm.codes, [qm.rows, kb, (qm.blockSize * qm.bits) / 8], 'uint8');
        const scales = g.weight('scales', qm.scales, [qm.rows, kb]);
        const zp = qm.zeroPoints ? g.initializer('zp', qm.zeroPoints, [qm.rows, qm.zeroPoints.length / qm.rows], 'uint8') : null;
        let y = g.op(
          'MatMulNBits',
          [a, codes, scales, zp],
          { K: 256, N: qm.rows, bits: qm.bits, block_size: qm.blockSize, accuracy_level: acc },
          { domain: 'com.microsoft' },
        );
        if (qm.mins) {
          const sums = g.op('ReduceSum', [g.reshape(a, [0, 0, kb, qm.blockSize]), g.constInt64([-1])], { keepdims: 0 });
          y = g.sub(y, g.op('FusedMatMul', [sums, g.weight('mins', qm.mins, [qm.rows, kb])], { transB: 1 }, { domain: 'com.microsoft' }));
        }
        g.output(y, 'y');
        const s = await createSession(g.build(), { intraOpThreads: 1 });
        const got = (await s.run({ x: f32Tensor(x, [1, M, 256]) }))['y']!.data as Float32Array;
        await s.release();
        // float32 activations: rounding only; int8 activations (llama.cpp-style): ~1% of the output range
        expect(maxAbsDiff(got, ref) / scale, `${name} accuracy_level ${acc}`).toBeLessThan(acc === 0 ? 2e-5 : 2e-2);
      }
    }
  });
});

const TINY = { hidden: 256, layers: 3, heads: 4, kvHeads: 2, ffn: 512, vocab: 320 };
const tinyUntied = join(tmp, 'tiny-untied-f32.gguf');
const tinyTied = join(tmp, 'tiny-tied-f32.gguf');
writeTinyLlamaGguf(tinyUntied, { ...TINY, untied: true, seed: 3 });
writeTinyLlamaGguf(tinyTied, { ...TINY, heads: 8, kvHeads: 8, seed: 4 });
const PROMPT = [[1, 300, 17, 250, 299, 5, 42, 260, 311, 1, 77]];

/** A model whose quantised matrices are handed over as their dequantised float32 values (the reference). */
function dequantisedModel(model: LoadedModel, src: WeightSource): LoadedModel {
  const weights: WeightSource = {
    origin: src.origin,
    names: () => src.names(),
    has: (n) => src.has(n),
    shape: (n) => src.shape(n),
    dtype: (n) => src.dtype(n),
    f32: (n) => {
      const q = src.quantized?.(n);
      return q ? unpackMatrix(q) : src.f32(n);
    },
  };
  return { ...model, weights };
}

describe('quantised GGUF models run quantised', () => {
  for (const [file, preset] of [
    [tinyUntied, 'q4_k_m'],
    [tinyTied, 'q4_k_m'],
    [tinyUntied, 'q8_0'],
    [tinyUntied, 'q4_0'],
    [tinyTied, 'q4_1'],
    [tinyUntied, 'q5_0'],
    [tinyTied, 'q5_1'],
    [tinyUntied, 'q2_k'],
    [tinyTied, 'q3_k_m'],
    [tinyUntied, 'q5_k_m'],
    [tinyTied, 'q6_k'],
  ] as const) {
    it(`${preset} (${file === tinyTied ? 'tied' : 'untied'} embeddings): MatMulNBits graph = the dequantised model`, async () => {
      const out = join(tmp, `${preset}-${file === tinyTied ? 'tied' : 'untied'}.gguf`);
      if (!existsSync(out)) quantizeModel(file, out, preset);
      const model = loadModel(out);
      const fp32 = await openModel(model, { threads: 1, executionProvider: 'cpu', quantCompute: 'fp32' });
      const int8 = await openModel(model, { threads: 1, executionProvider: 'cpu' });
      const ref = await DecoderRuntime.create(dequantisedModel(model, model.weights), { threads: 1 });
      try {
        expect(fp32.quantizedCompute).toBe(true);
        expect(ref.quantizedCompute).toBe(false);
        const r = (await forwardLogits(ref, PROMPT)).logits;
        const scale = maxAbs(r);
        expect(maxAbsDiff((await forwardLogits(fp32, PROMPT)).logits, r) / scale).toBeLessThan(1e-4);
        expect(maxAbsDiff((await forwardLogits(int8, PROMPT)).logits, r) / scale).toBeLessThan(0.05);
        // the KV-cache step graph (prefill + decode) agrees with the full-sequence graph
        const g1 = await generate(fp32, PROMPT[0]!, { maxNewTokens: 6, ignoreEos: true });
        const g2 = await generate(ref, PROMPT[0]!, { maxNewTokens: 6, ignoreEos: true });
        expect(g1.tokenIds).toEqual(g2.tokenIds);
      } finally {
        await Promise.all([fp32.release(), int8.release(), ref.release()]);
      }
    });
  }

  it('compiles quantised weights into the cache once and reuses them (codes stored once for embedding and tied head)', async () => {
    const out = join(tmp, 'q4_k_m-tied.gguf');
    if (!existsSync(out)) quantizeModel(tinyTied, out, 'q4_k_m');
    const cacheDir = join(tmp, 'cache');
    const a = await openModel(out, { threads: 1, executionProvider: 'cpu', cacheDir });
    const la = (await forwardLogits(a, PROMPT)).logits;
    await a.release();
    const [folder] = (await import('node:fs')).readdirSync(cacheDir);
    const index = JSON.parse(readFileSync(join(cacheDir, folder!, 'weights.bin.json'), 'utf8')) as Record<string, { offset: number; length: number }>;
    const codes = index['model.embed_tokens.weight#codes:uint8']!;
    expect(index['model.embed_tokens.weight#rows:uint8']).toEqual(codes);
    // Q6_K head: 8-bit codes, one byte per weight, plus a float32 scale per 16
    expect(codes.length).toBe(TINY.vocab * TINY.hidden);
    const b = await openModel(out, { threads: 1, executionProvider: 'cpu', cacheDir });
    expect(maxAbsDiff((await forwardLogits(b, PROMPT)).logits, la)).toBe(0);
    await b.release();
    // the memory estimate counts the quantised layout, not float32
    const info = await modelInfo(loadModel(out));
    expect(info.memory.weightBytes).toBeLessThan((parameterCount(b.model.config) * 4) / 3);
    expect(info.memory.assumptions).toMatch(/quantised weights kept quantised/);
  });

  it('runs an unmerged LoRA adapter on a quantised frozen base (float32 adapter)', async () => {
    const out = join(tmp, 'q4_0-untied.gguf');
    if (!existsSync(out)) quantizeModel(tinyUntied, out, 'q4_0');
    const model = loadModel(out);
    const adapter = join(tmp, 'adapter');
    writeRandomAdapter(adapter, model, ['q_proj', 'v_proj'], 4, 8);
    const q = await openModel(model, { threads: 1, executionProvider: 'cpu', quantCompute: 'fp32', lora: adapter, loraMode: 'unmerged' });
    const ref = await openModel(dequantisedModel(model, model.weights), { threads: 1, executionProvider: 'cpu', lora: adapter, loraMode: 'unmerged' });
    const base = await openModel(model, { threads: 1, executionProvider: 'cpu', quantCompute: 'fp32' });
    try {
      const r = (await forwardLogits(ref, PROMPT)).logits;
      expect(maxAbsDiff((await forwardLogits(q, PROMPT)).logits, r) / maxAbs(r)).toBeLessThan(1e-4);
      expect(maxAbsDiff((await forwardLogits(base, PROMPT)).logits, r)).toBeGreaterThan(1e-3);
    } finally {
      await Promise.all([q.release(), ref.release(), base.release()]);
    }
  });

  it("plain-op (training) graphs: LoRA gradients through a quantised frozen base equal the dequantised model's (QLoRA-style)", async () => {
    const out = join(tmp, 'q4_k_m-untied.gguf');
    if (!existsSync(out)) quantizeModel(tinyUntied, out, 'q4_k_m');
    const model = loadModel(out);
    const c = model.config;
    const targets = ['model.layers.0.self_attn.q_proj.weight', 'model.layers.2.mlp.down_proj.weight'];
    const ids = PROMPT[0]!;
    const S = ids.length;
    const build = (src: WeightSource, quant: boolean) => {
      const g = buildDecoderGraph(c, src, {
        kvCache: false,
        logits: 'all',
        fused: false,
        quant: quant ? { accuracyLevel: 0 } : undefined,
        loraInputs: new Map(targets.map((t) => [t, { rank: 2, scale: 0.5 }])),
      });
      const r = g.input('r', 'float32', [1, S, c.vocabSize]);
      const loss = g.op('ReduceSum', [g.mul(g.value('logits'), r)], { keepdims: 0 }, { name: 'test_loss' });
      g.output(loss, 'loss');
      const grads = addGradients(
        g,
        loss,
        targets.flatMap((t) => [`${t}.lora_A`, `${t}.lora_B`]),
      );
      for (const [k, v] of grads) g.output(v, `grad.${k}`);
      return g;
    };
    const gq = build(model.weights, true);
    // the frozen projections are stored as uint8 codes, not float32
    expect(gq.initializers.some((t) => t.name === 'model.layers.0.self_attn.q_proj.weight' && t.dtype === 'float32')).toBe(false);
    expect(gq.initializers.some((t) => t.name === 'model.layers.0.self_attn.q_proj.weight#codes' && t.dtype === 'uint8')).toBe(true);
    const gr = build(dequantisedModel(model, model.weights).weights, false);
    const rnd = seededRandom(5);
    const feeds: Record<string, ort.Tensor> = {
      input_ids: i64Tensor(ids, [1, S]),
      attention_mask: i64Tensor(
        ids.map(() => 1),
        [1, S],
      ),
      position_ids: i64Tensor(
        ids.map((_, i) => i),
        [1, S],
      ),
      r: f32Tensor(
        Float32Array.from({ length: S * c.vocabSize }, () => rnd() - 0.5),
        [1, S, c.vocabSize],
      ),
    };
    for (const t of targets) {
      const [o, i] = model.weights.shape(t) as [number, number];
      feeds[`${t}.lora_A`] = f32Tensor(
        Float32Array.from({ length: 2 * i }, () => rnd() - 0.5),
        [2, i],
      );
      feeds[`${t}.lora_B`] = f32Tensor(
        Float32Array.from({ length: o * 2 }, () => (rnd() - 0.5) * 0.1),
        [o, 2],
      );
    }
    const sq = await createSession(gq.build(), { intraOpThreads: 1 });
    const sr = await createSession(gr.build(), { intraOpThreads: 1 });
    try {
      const a = await sq.run(feeds);
      const b = await sr.run(feeds);
      for (const k of Object.keys(b)) {
        const x = a[k]!.data as Float32Array;
        const y = b[k]!.data as Float32Array;
        expect(maxAbsDiff(x, y) / Math.max(maxAbs(y), 1e-6), k).toBeLessThan(1e-4);
        if (k.startsWith('grad.')) expect(maxAbs(y), k).toBeGreaterThan(0);
      }
    } finally {
      await Promise.all([sq.release(), sr.release()]);
    }
  });

  it('names the tensor when a quantised block is malformed', () => {
    expect(() => repackMatrix(12, new Uint8Array(144), 1, 128)).toThrow(/Q4_K: rows of 128 elements are not a whole number of 256-element blocks/);
    expect(() => repackMatrix(16, new Uint8Array(66), 1, 256)).toThrow(/no blockwise layout for ggml type IQ2_XXS/);
  });
});

describe('quantise on load (Hugging Face folders)', () => {
  for (const [dir, type] of [
    ['tiny-qwen2', 'Q8_0'],
    ['tiny-mistral', 'Q4_0'],
    ['tiny-qwen2', 'Q4_1'],
  ] as const) {
    it(`${dir} (${dir === 'tiny-qwen2' ? 'fp16, biases, tied' : 'bf16'}) to ${type}`, async () => {
      const model = loadModel(join(HF, dir));
      const qw = new QuantizingWeights(model.weights, type);
      const q = await openModel(model, { threads: 1, executionProvider: 'cpu', quantizeOnLoad: type, quantCompute: 'fp32' });
      const ref = await DecoderRuntime.create(dequantisedModel(model, qw), { threads: 1 });
      const float = await openModel(model, { threads: 1, executionProvider: 'cpu' });
      const ids = [[1, 5, 9, 33, 60, 2, 17]];
      try {
        expect(q.quantizedCompute).toBe(true);
        // down_proj rows (48) are not a whole number of 32-element blocks: it stays float32
        expect(qw.quantized('model.layers.0.mlp.down_proj.weight')).toBeNull();
        expect(qw.quantized('model.layers.0.self_attn.q_proj.weight')!.from).toBe(type);
        const r = (await forwardLogits(ref, ids)).logits;
        expect(maxAbsDiff((await forwardLogits(q, ids)).logits, r) / maxAbs(r)).toBeLessThan(1e-4);
        // and 8 bits stay close to the float model (4-bit blocks of random weights are coarse)
        const f = (await forwardLogits(float, ids)).logits;
        if (type === 'Q8_0') expect(maxAbsDiff(r, f) / maxAbs(f)).toBeLessThan(0.05);
      } finally {
        await Promise.all([q.release(), ref.release(), float.release()]);
      }
    });
  }
});

// ---- llama.cpp: the quantizer reference (llama_model_quantize through Python ctypes) and the runtime
const PY = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import ctypes'], { stdio: 'ignore' }).status === 0) ?? null;
const LLAMA_QUANTIZE = join(repoRoot, 'test', 'fixtures', 'engine', 'llama_quantize.py');
function llamaQuantize(input: string, out: string, ftype: number): boolean {
  const r = spawnSync(PY!, [LLAMA_QUANTIZE, input, out, String(ftype)], { encoding: 'utf8' });
  if (r.status === 3) return false; // libllama not installed
  if (r.status !== 0) throw new Error(`llama_model_quantize failed: ${r.stderr.slice(-500)}`);
  return true;
}
const haveLlamaQuantize =
  !!PY &&
  (() => {
    try {
      return llamaQuantize(join(tmp, 'missing.gguf'), join(tmp, 'x.gguf'), 7);
    } catch {
      return true; // the library loaded (the missing input then fails)
    }
  })();

describe.skipIf(!haveLlamaQuantize)("byte-identical to llama.cpp's own quantizer (needs python3 and node-llama-cpp's libllama)", () => {
  for (const [name, file, preset, ftype] of [
    ['tiny untied', tinyUntied, 'q4_k_m', 15],
    ['tiny tied', tinyTied, 'q4_k_m', 15],
    ['tiny untied', tinyUntied, 'q2_k', 10],
    ['tiny tied', tinyTied, 'q3_k_m', 12],
    ['tiny untied', tinyUntied, 'q5_k_s', 16],
    ['tiny tied', tinyTied, 'q6_k', 18],
    ['tiny untied', tinyUntied, 'q4_1', 3],
    ['tiny tied', tinyTied, 'q5_1', 9],
    ...(stories
      ? ([
          ['stories260K', stories, 'q8_0', 7],
          ['stories260K', stories, 'q4_0', 2],
        ] as const)
      : []),
  ] as const)
    it(`${name} ${preset}`, () => {
      const ours = join(tmp, `ours-${preset}-${ftype}-${name.replace(/ /g, '_')}.gguf`);
      const ref = join(tmp, `ref-${preset}-${ftype}-${name.replace(/ /g, '_')}.gguf`);
      quantizeModel(file, ours, preset);
      expect(llamaQuantize(file, ref, ftype)).toBe(true);
      const a = readFileSync(ours);
      const b = readFileSync(ref);
      expect(a.length).toBe(b.length);
      expect(Buffer.compare(a, b)).toBe(0);
    });
});

type Nlc = typeof import('node-llama-cpp');
let nlc: Nlc | null = null;
try {
  nlc = await import('node-llama-cpp');
} catch {
  nlc = null;
}

describe.skipIf(!nlc)('llama.cpp runs our quantised files and agrees with the engine (node-llama-cpp CPU build)', () => {
  async function llamaCpp(path: string) {
    const llama = await nlc!.getLlama({ gpu: false, build: 'never', logLevel: nlc!.LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: path });
    const ctx = await model.createContext({ contextSize: 256, threads: 1 });
    return { model, ctx, dispose: async () => (await ctx.dispose(), await model.dispose()) };
  }

  for (const preset of ['q8_0', 'q4_0'])
    it.skipIf(!stories)(`stories260K ${preset}: the same 40 greedy tokens${NOTE}`, async () => {
      const out = join(tmp, `stories-${preset}.gguf`);
      quantizeModel(stories!, out, preset);
      expect(readGguf(out).metadata.get('general.file_type')).toBe(preset === 'q8_0' ? 7 : 2);
      const l = await llamaCpp(out);
      const ref: number[] = [];
      try {
        const toks = [l.model.tokens.bos!, ...l.model.tokenize('Once upon a time')];
        for await (const t of l.ctx.getSequence().evaluate(toks, { temperature: 0 })) {
          ref.push(t as number);
          if (ref.length >= 40) break;
        }
      } finally {
        await l.dispose();
      }
      const rt = await openModel(out, { threads: 1, executionProvider: 'cpu' });
      try {
        expect(rt.quantizedCompute).toBe(true);
        const ours = await generate(rt, 'Once upon a time', { maxNewTokens: 40 });
        expect(ours.tokenIds).toEqual(ref);
        expect(ours.text.startsWith(', there was a little girl named Lily.')).toBe(true);
      } finally {
        await rt.release();
      }
    });

  it("a Q4_K_M random llama: next-token logits within 10% of the logit range of llama.cpp's", async () => {
    const out = join(tmp, 'q4_k_m-untied.gguf');
    if (!existsSync(out)) quantizeModel(tinyUntied, out, 'q4_k_m');
    const prompt = PROMPT[0]!;
    const l = await llamaCpp(out);
    let ref: Map<number, number>;
    try {
      const res = await l.ctx.getSequence().controlledEvaluate([...prompt.slice(0, -1), [prompt.at(-1)!, { generateNext: { logits: true } }]] as never);
      ref = (res.at(-1) as unknown as { next: { logits: Map<number, number> } }).next.logits;
    } finally {
      await l.dispose();
    }
    const rt = await openModel(out, { threads: 1, executionProvider: 'cpu' });
    try {
      const { logits, dims } = await forwardLogits(rt, [prompt]);
      const V = dims[2];
      const ours = logits.subarray((prompt.length - 1) * V);
      const theirs = Float32Array.from({ length: V }, (_, v) => ref.get(v)!);
      expect(maxAbsDiff(ours, theirs) / maxAbs(theirs)).toBeLessThan(0.1);
      const top = (a: Float32Array) => Array.from(a.keys()).sort((x, y) => a[y]! - a[x]!);
      expect(top(ours).slice(0, 5)).toContain(top(theirs)[0]);
    } finally {
      await rt.release();
    }
  });
});
