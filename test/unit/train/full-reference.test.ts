import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { createSession, ort } from '../../../src/main/engine/graph';
import { buildTrainGraph, makeBatch, resolveTrainableWeights, Trainer, type TrainExample } from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';

const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const FIX = join(repoRoot, 'test', 'fixtures', 'train', 'full');

interface Reference {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  loss: number;
  losses: number[];
  tied: boolean;
  optimizer: { lr: number; betas: [number, number]; eps: number; weight_decay: number; clip_norm: number; steps: number };
}

function examplesOf(ref: Reference): TrainExample[] {
  return ref.input_ids.map((row, b) => {
    const n = ref.attention_mask[b]!.reduce((a, c) => a + c, 0);
    return { ids: row.slice(0, n), lossMask: ref.labels[b]!.slice(0, n).map((l) => (l === -100 ? 0 : 1)) };
  });
}

/** max |a − e| / max |e| */
function relErr(a: Float32Array, e: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < e.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - e[i]!));
    den = Math.max(den, Math.abs(e[i]!));
  }
  return num / den;
}

/**
 * Full-parameter training against PyTorch autograd and torch.optim.AdamW in float64
 * (make_full_reference.py): the gradient of every weight of the float32 training graph, and two
 * whole trainer steps (accumulated gradient, clipping, AdamW with weight decay).
 */
describe('full-parameter gradients and AdamW steps match the PyTorch reference', () => {
  for (const name of ['tiny-llama', 'tiny-qwen2', 'tiny-gemma2']) {
    it(`${name}: the gradient of every weight (embeddings, norms, q/k/v/o, MLP, LM head) to 1e-4 relative`, async () => {
      const ref = JSON.parse(readFileSync(join(FIX, name, 'reference.json'), 'utf8')) as Reference;
      const model = loadHfModel(join(HF, name));
      const weights = resolveTrainableWeights(model.config, {});
      const grads = new SafetensorsFile(join(FIX, name, 'grads.safetensors'));
      // every weight of the reference is trained, and nothing else (a tied LM head is the embedding matrix)
      expect(weights.map((w) => w.name).sort()).toEqual([...grads.tensors.keys()].sort());
      expect(weights.some((w) => w.name === 'lm_head.weight')).toBe(!ref.tied);
      const batch = makeBatch(examplesOf(ref));
      const tg = buildTrainGraph(model.config, model.weights, { lora: [], trainWeights: () => true });
      expect([...tg.params].sort()).toEqual(weights.map((w) => w.name).sort());
      // the trained projections multiply through FusedMatMul (no per-step transposed copies)
      expect(tg.graph.nodes.filter((n) => n.opType === 'Transpose' && tg.params.includes(n.inputs[0]!))).toEqual([]);
      const sess = await createSession(tg.graph.build(), { intraOpThreads: 1 });
      const i64 = (a: BigInt64Array) => new ort.Tensor('int64', a, [batch.batch, batch.seq]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(batch.inputIds),
        attention_mask: i64(batch.attentionMask),
        position_ids: i64(batch.positionIds),
        labels: i64(batch.labels),
        label_weights: new ort.Tensor(
          'float32',
          batch.labelMask.map((m) => m / batch.tokens),
          [batch.batch, batch.seq],
        ),
      };
      for (const w of weights) feeds[w.name] = new ort.Tensor('float32', model.weights.f32(w.name), w.shape);
      const out = await sess.run(feeds);
      await sess.release();
      const loss = Number(out['loss']!.data[0]);
      expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
      const errors: Record<string, number> = {};
      for (const w of weights) {
        const e = grads.readF32(w.name);
        expect(
          e.some((x) => x !== 0),
          w.name,
        ).toBe(true);
        errors[w.name] = relErr(out[`grad.${w.name}`]!.data as Float32Array, e);
      }
      const worst = Math.max(...Object.values(errors));
      console.log(`${name}: loss ${loss} (torch ${ref.loss}), ${weights.length} weights, worst gradient relative error ${worst.toExponential(2)}`);
      expect(worst, JSON.stringify(errors)).toBeLessThan(1e-4);
    });

    it(`${name}: two trainer steps (clipping, AdamW with weight decay) give PyTorch's losses and weights`, async () => {
      const ref = JSON.parse(readFileSync(join(FIX, name, 'reference.json'), 'utf8')) as Reference;
      const o = ref.optimizer;
      const model = loadHfModel(join(HF, name));
      const data = examplesOf(ref);
      const tr = await Trainer.create(model, data, {
        full: {},
        lr: o.lr,
        betas: o.betas,
        adamEps: o.eps,
        weightDecay: o.weight_decay,
        clipNorm: o.clip_norm,
        schedule: { type: 'constant' },
        maxSteps: o.steps,
        batchSize: data.length,
        threads: 1,
      });
      const res = await tr.train();
      await tr.release();
      res.losses.forEach((l, i) => expect(Math.abs(l - ref.losses[i]!) / ref.losses[i]!).toBeLessThan(1e-5));
      const after = new SafetensorsFile(join(FIX, name, 'after.safetensors'));
      // the update of every value against PyTorch's, in units of the learning rate (one AdamW step
      // moves a value by about lr)
      let worst = 0;
      let worstName = '';
      for (const w of tr.trainable) {
        const e = after.readF32(w.name);
        const a = tr.params.tensors.get(w.name)!;
        let d = 0;
        for (let i = 0; i < e.length; i++) d = Math.max(d, Math.abs(a[i]! - e[i]!));
        if (d > worst) [worst, worstName] = [d, w.name];
      }
      console.log(`${name}: after ${o.steps} AdamW steps, worst weight difference ${(worst / o.lr).toExponential(2)} × lr (${worstName})`);
      expect(worst / o.lr).toBeLessThan(2e-2);
    });
  }
});
