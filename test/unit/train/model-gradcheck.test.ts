import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { retypeGraph } from '../../../src/main/engine/autodiff';
import { createSession, ort } from '../../../src/main/engine/graph';
import { buildTrainGraph } from '../../../src/main/engine/train/graph';
import { initLoraParams, resolveLoraTargets } from '../../../src/main/engine/train/lora';
import { resolveTrainableWeights } from '../../../src/main/engine/train/full';
import { Rng } from '../../../src/main/engine/train/rng';
import { repoRoot } from '../../helpers/shared';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');

/** Whole tiny models (2 layers, hidden 32, 4 heads / 2 KV heads, vocab 64; every family: sliding window, GeGLU, soft-capping, sandwich norms): LoRA on all 7 modules + a few base weights, in float64. */
describe('autodiff: whole tiny decoder with LoRA against central differences (float64)', () => {
  for (const [name, recompute, dropout] of [
    ['tiny-llama', false, false],
    ['tiny-qwen2', false, false],
    ['tiny-mistral', false, false],
    ['tiny-gemma', false, false],
    ['tiny-gemma2', false, false],
    ['tiny-llama', true, false],
    ['tiny-gemma2', true, false],
    ['tiny-qwen2', false, true],
    ['tiny-llama', true, true],
  ] as const) {
    it(`${name}: LoRA A/B and base-weight gradients${recompute ? ' (activation checkpointing)' : ''}${dropout ? ' (LoRA dropout masks)' : ''}`, async () => {
      const model = loadHfModel(join(TINY, name));
      const cfg = model.config;
      const targets = resolveLoraTargets(cfg, { rank: 2, alpha: 4, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
      const params = initLoraParams(targets, new Rng(3), { bStd: 0.2 });
      const trainBase = new Set(['model.norm.weight', 'model.layers.1.input_layernorm.weight', 'model.embed_tokens.weight']);
      const tg = buildTrainGraph(cfg, model.weights, { lora: targets, trainWeights: (n) => trainBase.has(n), forwardOnly: false, recompute, dropout });
      expect(tg.dropoutInputs.size).toBe(dropout ? targets.length : 0);
      if (recompute) {
        expect(tg.graph.nodes.some((n) => n.name.startsWith('rc/'))).toBe(true);
        // each layer's recomputation waits for the backward pass (its input is gated on a backward value)
        const gates = tg.graph.nodes.filter((n) => /^rc\/l\d+_input$/.test(n.name));
        expect(gates.map((n) => n.name).sort()).toEqual(Array.from({ length: cfg.numLayers }, (_, l) => `rc/l${l}_input`).sort());
      }
      const g64 = retypeGraph(tg.graph);
      // (with recomputation SiLU's forward has one consumer and onnxruntime fuses it into QuickGelu, float32-only)
      const sess = await createSession(g64.build(), { intraOpThreads: 1, graphOptimizationLevel: recompute ? 'basic' : 'all' });
      const B = 2;
      const S = 6;
      const ids = [1, 5, 9, 13, 17, 21, 1, 40, 41, 7, 0, 0];
      const mask = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0];
      const labels = [5, 9, 13, 17, 21, 0, 40, 41, 7, 0, 0, 0];
      const lw = [0, 0.2, 0.2, 0.2, 0.2, 0, 0.2, 0.2, 0, 0, 0, 0];
      const pos = [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 0];
      const i64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [B, S]);
      const values = new Map<string, { data: Float64Array; dims: number[] }>();
      for (const p of tg.params) {
        const v = g64.value(p);
        const dims = v.shape as number[];
        const data = params.tensors.get(p) ?? model.weights.f32(p);
        values.set(p, { data: Float64Array.from(data), dims });
      }
      // a fixed random keep-mask per LoRA target (a fifth of the positions dropped)
      const drop = new Rng(11);
      const dropMasks = new Map(
        [...tg.dropoutInputs.keys()].map((w) => [
          w,
          Uint8Array.from({ length: B * S * targets.find((t) => t.weight === w)!.inFeatures }, () => (drop.next() < 0.2 ? 0 : 1)),
        ]),
      );
      const feeds = (override?: [string, Float64Array]) => {
        const f: Record<string, ort.Tensor> = {
          input_ids: i64(ids),
          attention_mask: i64(mask),
          position_ids: i64(pos),
          labels: i64(labels),
          label_weights: new ort.Tensor('float64', Float64Array.from(lw), [B, S]),
        };
        for (const [k, v] of values) f[k] = new ort.Tensor('float64', override && override[0] === k ? override[1] : v.data, v.dims);
        if (dropout) {
          f['lora_drop_scale'] = new ort.Tensor('float64', Float64Array.of(1.25), []);
          for (const [w, input] of tg.dropoutInputs)
            f[input] = new ort.Tensor('bool', dropMasks.get(w)!, g64.value(input).shape!.map((d) => (d === 'batch' ? B : d === 'seq' ? S : d)) as number[]);
        }
        return f;
      };
      const base = await sess.run(feeds());
      const loss0 = Number(base['loss']!.data[0]);
      expect(loss0).toBeGreaterThan(1);
      const eps = 1e-6;
      let worst = 0;
      const perParam: Record<string, number> = {};
      for (const p of tg.params) {
        const v = values.get(p)!;
        const an = base[`grad.${p}`]!.data as Float64Array;
        expect(an.length).toBe(v.data.length);
        // 4 entries per tensor (spread out) keeps this test fast
        let num = 0;
        let den = 1e-4;
        for (let k = 0; k < 4; k++) {
          const i = Math.floor(((k + 0.5) / 4) * v.data.length);
          const c = v.data.slice();
          c[i] = v.data[i]! + eps;
          const lp = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          c[i] = v.data[i]! - eps;
          const lm = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          const nd = (lp - lm) / (2 * eps);
          num = Math.max(num, Math.abs(nd - an[i]!));
          den = Math.max(den, Math.abs(nd));
        }
        perParam[p] = num / den;
        worst = Math.max(worst, num / den);
      }
      await sess.release();
      // every LoRA A and B gets a non-zero gradient
      for (const t of targets)
        for (const s of ['A', 'B']) {
          const gvec = base[`grad.${t.weight}.lora_${s}`]!.data as Float64Array;
          expect(
            gvec.some((x) => x !== 0),
            `${t.weight}.lora_${s}`,
          ).toBe(true);
        }
      console.log(`${name}: loss ${loss0.toFixed(6)}, ${tg.params.length} tensors, worst relative error ${worst.toExponential(2)}`);
      expect(worst, JSON.stringify(perParam)).toBeLessThan(1e-6);
    });
  }
});

describe('LoRA dropout inputs', () => {
  it('an all-kept mask at scale 1 is no dropout, an all-dropped mask switches the adapters off', async () => {
    const model = loadHfModel(join(TINY, 'tiny-llama'));
    const targets = resolveLoraTargets(model.config, { rank: 2, alpha: 4, targetModules: ['q', 'v', 'down'] });
    const params = initLoraParams(targets, new Rng(3), { bStd: 0.5 });
    const [B, S] = [1, 5];
    const common = (tg: ReturnType<typeof buildTrainGraph>, lora: Map<string, Float32Array>) => {
      const f: Record<string, ort.Tensor> = {
        input_ids: new ort.Tensor('int64', BigInt64Array.from([1n, 5n, 9n, 13n, 17n]), [B, S]),
        attention_mask: new ort.Tensor('int64', BigInt64Array.from([1n, 1n, 1n, 1n, 1n]), [B, S]),
        position_ids: new ort.Tensor('int64', BigInt64Array.from([0n, 1n, 2n, 3n, 4n]), [B, S]),
        labels: new ort.Tensor('int64', BigInt64Array.from([5n, 9n, 13n, 17n, 21n]), [B, S]),
        label_weights: new ort.Tensor('float32', new Float32Array(B * S).fill(0.2), [B, S]),
      };
      for (const p of tg.params) f[p] = new ort.Tensor('float32', lora.get(p)!, tg.graph.value(p).shape as number[]);
      return f;
    };
    const lossOf = async (tg: ReturnType<typeof buildTrainGraph>, extra: Record<string, ort.Tensor> = {}, lora = params.tensors) => {
      const s = await createSession(tg.graph.build(), { intraOpThreads: 1 });
      try {
        return Number((await s.run({ ...common(tg, lora), ...extra }))['loss']!.data[0]);
      } finally {
        await s.release();
      }
    };
    const plain = buildTrainGraph(model.config, model.weights, { lora: targets, forwardOnly: true });
    const dropped = buildTrainGraph(model.config, model.weights, { lora: targets, forwardOnly: true, dropout: true });
    const masks = (keep: 0 | 1) =>
      Object.fromEntries(
        [...dropped.dropoutInputs].map(([w, input]) => {
          const n = targets.find((t) => t.weight === w)!.inFeatures;
          return [input, new ort.Tensor('bool', new Uint8Array(B * S * n).fill(keep), [B, S, n])];
        }),
      );
    const scale = (s: number) => ({ lora_drop_scale: new ort.Tensor('float32', Float32Array.of(s), []) });
    const withLora = await lossOf(plain);
    expect(await lossOf(dropped, { ...masks(1), ...scale(1) })).toBeCloseTo(withLora, 6);
    const off = await lossOf(dropped, { ...masks(0), ...scale(1.25) });
    const zeroB = new Map(params.tensors);
    for (const t of targets) zeroB.set(`${t.weight}.lora_B`, new Float32Array(t.outFeatures * t.rank));
    const base = await lossOf(plain, {}, zeroB);
    expect(Math.abs(withLora - base)).toBeGreaterThan(1e-3);
    expect(off).toBeCloseTo(base, 6);
  });
});

/** Full-parameter training: every weight a graph input (a tied embedding matrix is one input used twice), float64 central differences. */
describe('autodiff: full-parameter gradients of whole tiny decoders against central differences (float64)', () => {
  for (const [name, recompute] of [
    ['tiny-llama', false],
    ['tiny-qwen2', false],
    ['tiny-gemma2', false],
    ['tiny-llama', true],
  ] as const) {
    it(`${name}: every weight${recompute ? ' (activation checkpointing)' : ''}`, async () => {
      const model = loadHfModel(join(TINY, name));
      const weights = resolveTrainableWeights(model.config, {});
      const tg = buildTrainGraph(model.config, model.weights, { lora: [], trainWeights: () => true, recompute });
      expect(tg.params.length).toBe(weights.length);
      expect(tg.params.includes('lm_head.weight')).toBe(!model.config.tieWordEmbeddings);
      const g64 = retypeGraph(tg.graph);
      const sess = await createSession(g64.build(), { intraOpThreads: 1, graphOptimizationLevel: recompute ? 'basic' : 'all' });
      const [B, S] = [2, 6];
      const i64 = (a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [B, S]);
      const values = new Map(weights.map((w) => [w.name, { data: Float64Array.from(model.weights.f32(w.name)), dims: w.shape }]));
      const feeds = (override?: [string, Float64Array]) => {
        const f: Record<string, ort.Tensor> = {
          input_ids: i64([1, 5, 9, 13, 17, 21, 1, 40, 41, 7, 0, 0]),
          attention_mask: i64([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0]),
          position_ids: i64([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 0]),
          labels: i64([5, 9, 13, 17, 21, 0, 40, 41, 7, 0, 0, 0]),
          label_weights: new ort.Tensor('float64', Float64Array.from([0, 0.2, 0.2, 0.2, 0.2, 0, 0.2, 0.2, 0, 0, 0, 0]), [B, S]),
        };
        for (const [k, v] of values) f[k] = new ort.Tensor('float64', override && override[0] === k ? override[1] : v.data, v.dims);
        return f;
      };
      const base = await sess.run(feeds());
      const eps = 1e-6;
      const errors: Record<string, number> = {};
      for (const [p, v] of values) {
        const an = base[`grad.${p}`]!.data as Float64Array;
        // 4 entries per tensor, plus (embeddings) a row of a token the batch reads: through the tied LM head every row has a gradient
        const picks = [0, 1, 2, 3].map((k) => Math.floor(((k + 0.5) / 4) * v.data.length));
        if (p === 'model.embed_tokens.weight') picks.push(40 * v.dims[1]! + 3);
        let num = 0;
        // floor 1e-2: a key bias barely moves the loss (q·b is nearly the same for every key; only
        // RoPE's rotation tells them apart), and its ~1e-3 gradient is near the central differences'
        // rounding noise (~1e-9 here), so small gradients are compared in absolute terms
        let den = 1e-2;
        for (const i of picks) {
          const c = v.data.slice();
          c[i] = v.data[i]! + eps;
          const lp = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          c[i] = v.data[i]! - eps;
          const lm = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          const nd = (lp - lm) / (2 * eps);
          num = Math.max(num, Math.abs(nd - an[i]!));
          den = Math.max(den, Math.abs(nd));
        }
        errors[p] = num / den;
      }
      await sess.release();
      const worst = Math.max(...Object.values(errors));
      console.log(`${name} full${recompute ? ' + recompute' : ''}: ${values.size} weights, worst relative error ${worst.toExponential(2)}`);
      expect(worst, JSON.stringify(errors)).toBeLessThan(1e-6);
    });
  }
});
