import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { forwardLogits, openModel } from '../../../src/main/engine';
import {
  Trainer,
  FullTrainingConfigError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  resolveTrainableWeights,
  type TrainerOptions,
  type TrainExample,
  type TrainingTerm,
} from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';

const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-full-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function seqs(): TrainExample[] {
  return [
    { ids: [1, 10, 11, 12, 20, 21, 22, 23, 24, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1] },
    { ids: [1, 13, 14, 15, 30, 31, 32, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1] },
    { ids: [1, 16, 17, 18, 40, 41, 42, 43, 44, 45, 46, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1] },
  ];
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('trainable weight groups', () => {
  const llama = loadHfModel(join(HF, 'tiny-llama')).config;
  const qwen = loadHfModel(join(HF, 'tiny-qwen2')).config;
  const names = (cfg: typeof llama, c: Parameters<typeof resolveTrainableWeights>[1]) => resolveTrainableWeights(cfg, c).map((w) => w.name);

  it('all, attention (with biases), MLP, embeddings, norms, LM head, single projections and layers', () => {
    expect(names(llama, {})).toHaveLength(3 + 2 * 9);
    expect(names(qwen, { trainable: ['attention'], layers: [1] })).toEqual(
      ['q_proj.weight', 'k_proj.weight', 'v_proj.weight', 'o_proj.weight', 'q_proj.bias', 'k_proj.bias', 'v_proj.bias'].map(
        (n) => `model.layers.1.self_attn.${n}`,
      ),
    );
    expect(names(llama, { trainable: ['mlp'] })).toEqual([0, 1].flatMap((l) => ['gate', 'up', 'down'].map((p) => `model.layers.${l}.mlp.${p}_proj.weight`)));
    expect(names(llama, { trainable: ['norms'] })).toEqual([
      'model.norm.weight',
      ...[0, 1].flatMap((l) => [`model.layers.${l}.input_layernorm.weight`, `model.layers.${l}.post_attention_layernorm.weight`]),
    ]);
    expect(names(llama, { trainable: ['embeddings'] })).toEqual(['model.embed_tokens.weight']);
    expect(names(llama, { trainable: ['lm_head'] })).toEqual(['lm_head.weight']);
    // tied: the LM head is the embedding matrix, one parameter
    expect(names(qwen, { trainable: ['lm_head'] })).toEqual(['model.embed_tokens.weight']);
    expect(names(qwen, { trainable: ['embeddings', 'lm_head'] })).toEqual(['model.embed_tokens.weight']);
    expect(names(llama, { trainable: ['q', 'down'], layers: [0] })).toEqual(['model.layers.0.self_attn.q_proj.weight', 'model.layers.0.mlp.down_proj.weight']);
  });

  it('names an unknown group or layer', () => {
    expect(() => resolveTrainableWeights(llama, { trainable: ['attn' as never] })).toThrow(FullTrainingConfigError);
    expect(() => resolveTrainableWeights(llama, { trainable: ['attn' as never] })).toThrow(/unknown trainable group "attn" \(known: all, attention/);
    expect(() => resolveTrainableWeights(llama, { layers: [2] })).toThrow(/layer 2 does not exist \(the model has 2 layers\)/);
    expect(() => resolveTrainableWeights(llama, { trainable: [] })).toThrow(/at least one/);
  });
});

describe('full-parameter trainer on the tiny Llama', () => {
  const model = loadHfModel(join(HF, 'tiny-llama'));
  const resumeData = (): TrainExample[] => [...seqs(), { ids: [1, 5, 6, 7, 8, 9, 2] }, { ids: [1, 50, 51, 52, 2], lossMask: [0, 0, 1, 1, 1] }];
  const base = (dir: string): TrainerOptions => ({
    full: {},
    lr: 3e-3,
    weightDecay: 0.01,
    schedule: { type: 'cosine', warmupSteps: 2, totalSteps: 8 },
    maxSteps: 8,
    batchSize: 2,
    gradAccumSteps: 2,
    seed: 7,
    threads: 1,
    checkpointDir: dir,
  });

  it('refuses both or neither of lora and full, and an adapter export', async () => {
    await expect(Trainer.create(model, seqs(), { ...base(join(tmp, 'x')), lora: { rank: 2, alpha: 4 } })).rejects.toThrow(/exactly one of `lora`/);
    await expect(Trainer.create(model, seqs(), { lr: 1, maxSteps: 1, batchSize: 1 })).rejects.toThrow(/exactly one of `lora`/);
    const tr = await Trainer.create(model, seqs(), { full: { trainable: ['norms'] }, lr: 1e-3, maxSteps: 1, batchSize: 1, threads: 1 });
    expect(() => tr.exportAdapter(join(tmp, 'no-adapter'))).toThrow(/no adapter to export; use exportModel/);
    await tr.release();
  });

  it('overfits a few sequences, updating every weight', async () => {
    const data = seqs();
    const tr = await Trainer.create(model, data, { full: {}, lr: 1e-2, schedule: { type: 'constant' }, maxSteps: 30, batchSize: 3, seed: 1, threads: 1 });
    const before = await tr.evaluate(data);
    await tr.train();
    const after = await tr.evaluate(data);
    await tr.release();
    console.log(`full overfit: loss ${before.toFixed(3)} -> ${after.toFixed(4)}`);
    expect(before).toBeGreaterThan(3);
    expect(after).toBeLessThan(0.05);
    for (const w of tr.trainable) expect(maxAbsDiff(tr.params.tensors.get(w.name)!, model.weights.f32(w.name)), w.name).toBeGreaterThan(1e-4);
  });

  it('trains only the chosen groups: the others keep their values and the graph keeps them frozen', async () => {
    const tr = await Trainer.create(model, seqs(), {
      full: { trainable: ['attention', 'norms'], layers: [1] },
      lr: 1e-2,
      maxSteps: 5,
      batchSize: 3,
      threads: 1,
    });
    const before = await tr.evaluate(seqs());
    await tr.train();
    expect(await tr.evaluate(seqs())).toBeLessThan(before);
    const trained = new Set(tr.trainable.map((w) => w.name));
    expect(trained.has('model.layers.1.self_attn.o_proj.weight')).toBe(true);
    expect(trained.has('model.layers.0.self_attn.o_proj.weight')).toBe(false);
    expect(trained.has('model.layers.1.mlp.up_proj.weight')).toBe(false);
    // the trained model's other weights are the originals
    const m = tr.trainedModel();
    for (const n of model.weights.names()) {
      const d = maxAbsDiff(m.weights.f32(n), model.weights.f32(n));
      if (trained.has(n)) expect(d, n).toBeGreaterThan(0);
      else expect(d, n).toBe(0);
    }
    await tr.release();
  });

  it('resuming from a checkpoint reproduces the uninterrupted run bit for bit (weights, AdamW moments, accumulation, epochs, warm-up + cosine)', async () => {
    const data = resumeData();
    const full = await Trainer.create(model, data, base(join(tmp, 'full')));
    const a = await full.train();
    await full.release();

    const dir = join(tmp, 'split');
    const first = await Trainer.create(model, data, { ...base(dir), checkpointEvery: 3 });
    const r1 = await first.train({ shouldStop: () => first.step >= 5 });
    await first.release();
    expect(r1.steps).toBe(5);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3, 5]);
    // a checkpoint holds the trained weights and both AdamW moments of every weight
    const ck = loadCheckpoint(latestCheckpoint(dir)!, first.trainable);
    expect(existsSync(join(latestCheckpoint(dir)!, 'weights.safetensors'))).toBe(true);
    expect(ck.params.tensors.size).toBe(first.trainable.length);
    expect([ck.optimizer.m.size, ck.optimizer.v.size, ck.optimizer.step]).toEqual([first.trainable.length, first.trainable.length, 5]);
    // a stop request between the micro-batches of step 6 drops the partial step
    const mid = await Trainer.resume(model, data, base(dir));
    let n = 0;
    const r2 = await mid.train({ shouldStop: () => n++ === 1 });
    await mid.release();
    expect([r2.stopped, r2.steps]).toEqual([true, 5]);
    const second = await Trainer.resume(model, data, base(dir));
    expect(second.step).toBe(5);
    const b = await second.train();
    await second.release();
    expect(b.losses).toEqual(a.losses); // bit-identical
    const pa = loadCheckpoint(latestCheckpoint(join(tmp, 'full'))!, full.trainable);
    const pb = loadCheckpoint(latestCheckpoint(dir)!, second.trainable);
    for (const [k, v] of pa.params.tensors) expect(Array.from(pb.params.tensors.get(k)!), k).toEqual(Array.from(v));
    for (const [k, v] of pa.optimizer.v) expect(Array.from(pb.optimizer.v.get(k)!), k).toEqual(Array.from(v));
  });

  it('refuses to resume a full-parameter checkpoint as LoRA training, or with other trained weights', async () => {
    const dir = join(tmp, 'split');
    await expect(Trainer.resume(model, resumeData(), { ...base(dir), full: undefined, lora: { rank: 2, alpha: 4 } })).rejects.toThrow(
      /from full-parameter training; it cannot resume LoRA training/,
    );
    await expect(Trainer.resume(model, resumeData(), { ...base(dir), full: { trainable: ['mlp'] } })).rejects.toThrow(/different training options/);
  });

  it('gradient accumulation equals one big batch', async () => {
    const common = { full: {}, lr: 1e-2, schedule: { type: 'constant' as const }, maxSteps: 3, seed: 5, threads: 1 };
    const big = await Trainer.create(model, seqs(), { ...common, batchSize: 3 });
    const a = await big.train();
    const acc = await Trainer.create(model, seqs(), { ...common, batchSize: 1, gradAccumSteps: 3 });
    const b = await acc.train();
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i]!)).toBeLessThan(1e-5));
    for (const [k, v] of big.params.tensors) expect(maxAbsDiff(v, acc.params.tensors.get(k)!), k).toBeLessThan(1e-5);
    await big.release();
    await acc.release();
  });

  it("holds one copy of the gradients: the step sums into the first micro-batch's output arrays, no separate accumulator", async () => {
    let seen: Map<string, Float32Array> | null = null;
    const probe: TrainingTerm = {
      name: 'probe',
      async addToStep(_ctx, grads) {
        seen = grads;
        return 0;
      },
    };
    const tr = await Trainer.create(model, seqs(), { full: {}, lr: 1e-3, maxSteps: 1, batchSize: 1, gradAccumSteps: 3, threads: 1, terms: [probe] });
    const outputs: Map<string, Float32Array>[] = [];
    const run = tr.runMicro.bind(tr);
    tr.runMicro = async (mb) => {
      const r = await run(mb);
      outputs.push(r.grads);
      return r;
    };
    await tr.train();
    await tr.release();
    expect(outputs).toHaveLength(3);
    expect(seen).not.toBeNull();
    for (const w of tr.trainable) expect(seen!.get(w.name), w.name).toBe(outputs[0]!.get(w.name));
  });

  it('activation checkpointing and memory-mapped frozen weights train the same', async () => {
    const common = { full: { trainable: ['attention', 'mlp'] as const }, lr: 1e-2, maxSteps: 3, batchSize: 3, seed: 5, threads: 1 };
    const a = await Trainer.create(model, seqs(), { ...common, full: { trainable: [...common.full.trainable] } });
    const ra = await a.train();
    await a.release();
    const b = await Trainer.create(model, seqs(), {
      ...common,
      full: { trainable: [...common.full.trainable] },
      recompute: true,
      weightCacheDir: join(tmp, 'full-wcache'),
    });
    const rb = await b.train();
    await b.release();
    ra.losses.forEach((l, i) => expect(Math.abs(l - rb.losses[i]!)).toBeLessThan(1e-4 * Math.max(1, l)));
  });

  it('the trained model runs in the inference engine with the trained loss', async () => {
    const data = seqs();
    const tr = await Trainer.create(model, data, { full: {}, lr: 1e-2, schedule: { type: 'constant' }, maxSteps: 10, batchSize: 3, threads: 1 });
    await tr.train();
    const trainedLoss = await tr.evaluate(data);
    const rt = await openModel(tr.trainedModel(), { threads: 1, executionProvider: 'cpu' });
    let sum = 0;
    let count = 0;
    for (const ex of data) {
      const { logits, dims } = await forwardLogits(rt, [ex.ids]);
      const V = dims[2];
      for (let t = 0; t + 1 < ex.ids.length; t++) {
        if (!ex.lossMask![t + 1]) continue;
        const row = Array.from(logits.subarray(t * V, (t + 1) * V));
        const mx = Math.max(...row);
        sum += mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0)) - row[ex.ids[t + 1]!]!;
        count++;
      }
    }
    await rt.release();
    await tr.release();
    expect(Math.abs(sum / count - trainedLoss)).toBeLessThan(1e-4);
  });
});

describe('full-parameter training with tied embeddings (tiny Qwen2)', () => {
  it('the embedding matrix is one parameter: training the LM head trains it, as both the input table and the head', async () => {
    const qwen = loadHfModel(join(HF, 'tiny-qwen2'));
    const data = seqs();
    const tr = await Trainer.create(qwen, data, { full: { trainable: ['lm_head'] }, lr: 1e-2, maxSteps: 3, batchSize: 3, threads: 1 });
    expect(tr.trainable.map((w) => w.name)).toEqual(['model.embed_tokens.weight']);
    const before = await tr.evaluate(data);
    await tr.train();
    const after = await tr.evaluate(data);
    expect(after).toBeLessThan(before);
    // the inference graph reads the one trained matrix for both uses: same loss as the trainer's
    const rt = await openModel(tr.trainedModel(), { threads: 1, executionProvider: 'cpu' });
    const ex = data[0]!;
    const { logits, dims } = await forwardLogits(rt, [ex.ids]);
    await rt.release();
    const V = dims[2];
    let sum = 0;
    let n = 0;
    for (let t = 0; t + 1 < ex.ids.length; t++) {
      if (!ex.lossMask![t + 1]) continue;
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const mx = Math.max(...row);
      sum += mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0)) - row[ex.ids[t + 1]!]!;
      n++;
    }
    expect(Math.abs(sum / n - (await tr.evaluate([ex])))).toBeLessThan(1e-4);
    await tr.release();
  });
});
