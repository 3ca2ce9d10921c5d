import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { retypeGraph } from '../../../src/main/engine/autodiff';
import { createSession, ort } from '../../../src/main/engine/graph';
import { buildTrainGraph } from '../../../src/main/engine/train/graph';
import { initLoraParams, resolveLoraTargets } from '../../../src/main/engine/train/lora';
import { Rng } from '../../../src/main/engine/train/rng';
import { repoRoot } from '../../helpers/shared';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');

/** Whole tiny models (2 layers, hidden 32, 4 heads / 2 KV heads, vocab 64; every family: sliding window, GeGLU, soft-capping, sandwich norms): LoRA on all 7 modules + a few base weights, in float64. */
describe('autodiff: whole tiny decoder with LoRA against central differences (float64)', () => {
  for (const [name, recompute] of [['tiny-llama', false], ['tiny-qwen2', false], ['tiny-mistral', false], ['tiny-gemma', false], ['tiny-gemma2', false], ['tiny-llama', true], ['tiny-gemma2', true]] as const) {
    it(`${name}: LoRA A/B and base-weight gradients${recompute ? ' (activation checkpointing)' : ''}`, async () => {
      const model = loadHfModel(join(TINY, name));
      const cfg = model.config;
      const targets = resolveLoraTargets(cfg, { rank: 2, alpha: 4, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
      const params = initLoraParams(targets, new Rng(3), { bStd: 0.2 });
      const trainBase = new Set(['model.norm.weight', 'model.layers.1.input_layernorm.weight', 'model.embed_tokens.weight']);
      const tg = buildTrainGraph(cfg, model.weights, { lora: targets, trainWeights: (n) => trainBase.has(n), forwardOnly: false, recompute });
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
      const feeds = (override?: [string, Float64Array]) => {
        const f: Record<string, ort.Tensor> = {
          input_ids: i64(ids),
          attention_mask: i64(mask),
          position_ids: i64(pos),
          labels: i64(labels),
          label_weights: new ort.Tensor('float64', Float64Array.from(lw), [B, S]),
        };
        for (const [k, v] of values) f[k] = new ort.Tensor('float64', override && override[0] === k ? override[1] : v.data, v.dims);
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
      for (const t of targets) for (const s of ['A', 'B']) {
        const gvec = base[`grad.${t.weight}.lora_${s}`]!.data as Float64Array;
        expect(gvec.some((x) => x !== 0), `${t.weight}.lora_${s}`).toBe(true);
      }
      console.log(`${name}: loss ${loss0.toFixed(6)}, ${tg.params.length} tensors, worst relative error ${worst.toExponential(2)}`);
      expect(worst, JSON.stringify(perParam)).toBeLessThan(1e-6);
    });
  }
});
