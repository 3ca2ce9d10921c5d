import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { loadLoraAdapter } from '../../../src/main/engine/hf/peftAdapter';
import { openModel, forwardLogits } from '../../../src/main/engine';
import {
  Trainer,
  TrainingDivergedError,
  latestCheckpoint,
  listCheckpoints,
  loadCheckpoint,
  saveCheckpoint,
  resolveLoraTargets,
  LoraConfigError,
  buildTrainGraph,
  type TrainerOptions,
  type TrainExample,
} from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';
import { halfToFloat, toHalfArray } from '../../../src/main/engine/graph';
import { GGML_TYPE } from '../../../src/main/engine/gguf/reader';
import { dequantizeBlocks, quantizeRow } from '../../../src/main/engine/gguf/quants';
import type { LoadedModel } from '../../../src/main/engine/model/loaded';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-train-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function seqs(): TrainExample[] {
  // prompt (3 tokens, not trained) + response
  return [
    { ids: [1, 10, 11, 12, 20, 21, 22, 23, 24, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1] },
    { ids: [1, 13, 14, 15, 30, 31, 32, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1] },
    { ids: [1, 16, 17, 18, 40, 41, 42, 43, 44, 45, 46, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1] },
  ];
}

const ALL = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

describe('LoRA trainer on the tiny Llama', () => {
  const model = loadHfModel(TINY);
  /** The tiny model with every weight passed through `f` (name, fp32 values) when read. */
  const withWeights = (f: (name: string, x: Float32Array) => Float32Array): LoadedModel => {
    const w = model.weights;
    return {
      ...model,
      weights: {
        origin: w.origin,
        names: () => w.names(),
        has: (n) => w.has(n),
        shape: (n) => w.shape(n),
        dtype: (n) => w.dtype(n),
        f32: (n) => f(n, w.f32(n)),
      },
    };
  };
  // the resumable run (checkpoints in tmp/split) and its data, shared by the resume tests
  const resumeData = (): TrainExample[] => [...seqs(), { ids: [1, 5, 6, 7, 8, 9, 2] }, { ids: [1, 50, 51, 52, 2], lossMask: [0, 0, 1, 1, 1] }];
  const base = (dir: string): TrainerOptions => ({
    lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q', 'v', 'down'] },
    lr: 5e-3,
    weightDecay: 0.01,
    schedule: { type: 'cosine', warmupSteps: 2, totalSteps: 8 },
    maxSteps: 8,
    batchSize: 2,
    gradAccumSteps: 2,
    seed: 7,
    threads: 1,
    checkpointDir: dir,
  });

  it('names a missing target module', () => {
    expect(() => resolveLoraTargets(model.config, { rank: 4, alpha: 8, targetModules: ['q', 'qkv_proj'] })).toThrow(LoraConfigError);
    expect(() => resolveLoraTargets(model.config, { rank: 4, alpha: 8, targetModules: ['qkv_proj'] })).toThrow(
      /"qkv_proj" does not exist .*available: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj/,
    );
  });

  it('overfits a few sequences to near-zero loss', async () => {
    const data = seqs();
    const tr = await Trainer.create(model, data, {
      lora: { rank: 8, alpha: 16, targetModules: ALL },
      lr: 2e-2,
      schedule: { type: 'constant' },
      maxSteps: 80,
      batchSize: 3,
      seed: 1,
      threads: 1,
    });
    const before = await tr.evaluate(data);
    const t0 = Date.now();
    let tps = 0;
    const res = await tr.train({ onProgress: (m) => (tps = m.tokensPerSecond) });
    const after = await tr.evaluate(data);
    console.log(
      `overfit: loss ${before.toFixed(3)} -> ${after.toFixed(4)} in ${res.steps} steps, ${((Date.now() - t0) / res.steps).toFixed(1)} ms/step, ${tps.toFixed(0)} tokens/s`,
    );
    expect(before).toBeGreaterThan(3);
    expect(after).toBeLessThan(0.05);
    expect(res.finished).toBe(true);
    await tr.release();
  });

  it('resuming from a checkpoint reproduces the uninterrupted loss curve exactly (dropout, accumulation, epochs, warm-up + cosine)', async () => {
    const data = resumeData();
    const full = await Trainer.create(model, data, base(join(tmp, 'full')));
    const a = await full.train();
    await full.release();

    const dir = join(tmp, 'split');
    const first = await Trainer.create(model, data, { ...base(dir), checkpointEvery: 3 });
    const r1 = await first.train({ shouldStop: () => first.step >= 5 });
    await first.release();
    expect(r1.stopped).toBe(true);
    expect(r1.steps).toBe(5);
    expect(listCheckpoints(dir).map((c) => c.step)).toEqual([3, 5]);
    // a stop request between the micro-batches of step 6: the partial step is dropped
    const mid = await Trainer.resume(model, data, base(dir));
    let n = 0;
    const r2 = await mid.train({ shouldStop: () => n++ === 1 });
    await mid.release();
    expect(r2.stopped).toBe(true);
    expect(r2.steps).toBe(5);
    expect([mid.epoch, mid.cursor, mid.rng.state]).toEqual([
      loadCheckpoint(latestCheckpoint(dir)!, mid.targets).state.epoch,
      loadCheckpoint(latestCheckpoint(dir)!, mid.targets).state.cursor,
      loadCheckpoint(latestCheckpoint(dir)!, mid.targets).state.rngState,
    ]);
    const second = await Trainer.resume(model, data, base(dir));
    expect(second.step).toBe(5);
    const b = await second.train();
    await second.release();
    expect(b.losses).toHaveLength(8);
    expect(b.losses).toEqual(a.losses); // bit-identical
    const pa = loadCheckpoint(latestCheckpoint(join(tmp, 'full'))!, full.targets).params;
    const pb = loadCheckpoint(latestCheckpoint(dir)!, second.targets).params;
    for (const [k, v] of pa.tensors) expect(Array.from(pb.tensors.get(k)!)).toEqual(Array.from(v));
  });

  it('gradient accumulation equals one big batch (loss normalised over the whole step)', async () => {
    const data = seqs();
    const common = {
      lora: { rank: 4, alpha: 8, targetModules: ['q', 'v', 'up'] },
      lr: 1e-2,
      schedule: { type: 'constant' as const },
      maxSteps: 3,
      seed: 5,
      threads: 1,
    };
    const big = await Trainer.create(model, data, { ...common, batchSize: 3 });
    const a = await big.train();
    const acc = await Trainer.create(model, data, { ...common, batchSize: 1, gradAccumSteps: 3 });
    const b = await acc.train();
    a.losses.forEach((l, i) => expect(Math.abs(l - b.losses[i]!)).toBeLessThan(1e-5));
    for (const [k, v] of big.params.tensors) {
      const w = acc.params.tensors.get(k)!;
      let d = 0;
      for (let i = 0; i < v.length; i++) d = Math.max(d, Math.abs(v[i]! - w[i]!));
      expect(d).toBeLessThan(1e-5);
    }
    await big.release();
    await acc.release();
  });

  it('memory-mapped frozen weights (weightCacheDir) train identically', async () => {
    const common = { lora: { rank: 4, alpha: 8, targetModules: ['q', 'v', 'up'] }, lr: 1e-2, maxSteps: 3, batchSize: 3, seed: 5, threads: 1 };
    const a = await Trainer.create(model, seqs(), common);
    const ra = await a.train();
    await a.release();
    const dir = join(tmp, 'wcache');
    const b = await Trainer.create(model, seqs(), { ...common, weightCacheDir: dir });
    const rb = await b.train();
    await b.release();
    expect(existsSync(join(dir, 'weights.bin'))).toBe(true);
    expect(rb.losses).toEqual(ra.losses);
  });

  it('activation checkpointing (recompute) trains the same', async () => {
    const common = { lora: { rank: 4, alpha: 8, targetModules: ALL }, lr: 1e-2, maxSteps: 4, batchSize: 3, seed: 5, threads: 1 };
    const a = await Trainer.create(model, seqs(), common);
    const ra = await a.train();
    await a.release();
    const b = await Trainer.create(model, seqs(), { ...common, recompute: true });
    const rb = await b.train();
    await b.release();
    ra.losses.forEach((l, i) => expect(Math.abs(l - rb.losses[i]!)).toBeLessThan(1e-4 * Math.max(1, l)));
  });

  it("with recomputation, onnxruntime finishes each layer's adapter gradients before it recomputes the layer below, and runs no dead recomputed nodes", async () => {
    const prefix = join(tmp, 'order-profile', 'p');
    mkdirSync(join(tmp, 'order-profile'), { recursive: true });
    const tr = await Trainer.create(model, seqs(), {
      lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ALL },
      lr: 1e-3,
      maxSteps: 1,
      batchSize: 3,
      threads: 1,
      recompute: true,
      profilePrefix: prefix,
    });
    await tr.train();
    await tr.release();
    const file = readdirSync(join(tmp, 'order-profile')).find((f) => f.endsWith('.json'))!;
    const events = JSON.parse(readFileSync(join(tmp, 'order-profile', file), 'utf8')) as { cat: string; name: string }[];
    const ran = events.filter((e) => e.cat === 'Node' && e.name.endsWith('_kernel_time')).map((e) => e.name.replace(/_kernel_time$/, ''));
    // the node producing each layer-1 adapter gradient (the input of its output's Identity), by name
    const built = buildTrainGraph(model.config, model.weights, { lora: tr.targets, dropout: true, recompute: true });
    const producers = built.graph.nodes
      .filter((n) => n.opType === 'Identity' && n.outputs[0]!.startsWith('grad.model.layers.1.'))
      .map((id) => built.graph.nodes.find((n) => n.outputs.includes(id.inputs[0]!))!.name);
    expect(producers).toHaveLength(2 * ALL.length);
    const firstLayer0Recompute = ran.findIndex((n) => n.startsWith('rc/l0_'));
    expect(firstLayer0Recompute).toBeGreaterThan(0);
    for (const p of producers) {
      const at = ran.findIndex((n) => n === p || n.startsWith(`${p}/`));
      expect(at, p).toBeGreaterThanOrEqual(0);
      expect(at, p).toBeLessThan(firstLayer0Recompute);
    }
    // the recomputed layer's last nodes (down projection, residual add) are not needed: not built, not run
    expect(ran.some((n) => /^rc\/l\d+_mlp_residual/.test(n))).toBe(false);
    const read = new Set([...built.graph.nodes.flatMap((n) => n.inputs), ...built.graph.outputs.map((o) => o.name)]);
    expect(built.graph.nodes.filter((n) => !n.outputs.some((o) => read.has(o))).map((n) => n.name)).toEqual([]);
  });

  it('fp16 frozen weights: stored at 2 bytes per parameter, and training equals the fp32 model with those weights rounded to fp16', async () => {
    const common = { lora: { rank: 4, alpha: 8, targetModules: ALL }, lr: 1e-2, maxSteps: 4, batchSize: 3, seed: 5, threads: 1 };
    const projection = /_proj\.weight$/;
    const rounded = withWeights((n, x) => (projection.test(n) ? Float32Array.from(toHalfArray(x), halfToFloat) : x));
    const a = await Trainer.create(rounded, seqs(), { ...common, recompute: true });
    const ra = await a.train();
    await a.release();
    const dir = join(tmp, 'fp16-weights');
    const b = await Trainer.create(model, seqs(), { ...common, frozenWeightDtype: 'float16', weightCacheDir: dir });
    const rb = await b.train();
    await b.release();
    ra.losses.forEach((l, i) => expect(Math.abs(l - rb.losses[i]!)).toBeLessThan(1e-5 * Math.max(1, l)));
    // the frozen weights are stored as fp16: the weight file holds 2 bytes per projection parameter
    const params = (proj: boolean) =>
      model.weights
        .names()
        .filter((n) => projection.test(n) === proj)
        .reduce((s, n) => s + model.weights.shape(n).reduce((x, y) => x * y, 1), 0);
    const projParams = params(true);
    const fp32Params = params(false);
    const bytes = readdirSync(dir)
      .filter((f) => f.endsWith('.bin'))
      .reduce((s, f) => s + statSync(join(dir, f)).size, 0);
    expect(bytes).toBeLessThan(2 * projParams + 4 * fp32Params + 65536);
  });

  it('a quantised base (QLoRA-style): codes in the weight file, training equals the fp32 model with the dequantised weights, and resumes exactly', async () => {
    const common = { lora: { rank: 4, alpha: 8, targetModules: ALL }, lr: 1e-2, maxSteps: 4, batchSize: 3, seed: 5, threads: 1 };
    // what quantise-on-load does: the matrices whose rows are whole Q4_0 blocks (hidden 32; not down_proj's rows of 48)
    const matrix = (n: string) => /(embed_tokens|lm_head|_proj)\.weight$/.test(n) && model.weights.shape(n)[1]! % 32 === 0;
    const q4 = (x: Float32Array) => dequantizeBlocks(GGML_TYPE.Q4_0, quantizeRow(GGML_TYPE.Q4_0, x), x.length);
    const dequantised = withWeights((n, x) => (matrix(n) ? q4(x) : x));
    const a = await Trainer.create(dequantised, seqs(), { ...common, recompute: true });
    const ra = await a.train();
    await a.release();
    const dir = join(tmp, 'q4-weights');
    const b = await Trainer.create(model, seqs(), { ...common, baseQuant: 'Q4_0', weightCacheDir: dir });
    const rb = await b.train();
    await b.release();
    ra.losses.forEach((l, i) => expect(Math.abs(l - rb.losses[i]!)).toBeLessThan(1e-5 * Math.max(1, l)));
    // the weight file holds the quantised matrices as uint8 codes (no float32 copy), the rest as float32
    const index = Object.keys(JSON.parse(readFileSync(join(dir, 'weights.bin.json'), 'utf8')) as Record<string, unknown>);
    for (const n of model.weights.names()) {
      if (matrix(n)) {
        expect(index, n).toContain(`${n}#rows:uint8`);
        expect(index, n).not.toContain(`${n}:float32`);
      } else expect(index, n).toContain(`${n}:float32`);
    }

    // stopped after step 2 and resumed: the uninterrupted run's losses exactly
    const ck = join(tmp, 'q4-resume');
    const first = await Trainer.create(model, seqs(), { ...common, baseQuant: 'Q4_0', checkpointDir: ck });
    await first.train({ shouldStop: () => first.step >= 2 });
    await first.release();
    const second = await Trainer.resume(model, seqs(), { ...common, baseQuant: 'Q4_0', checkpointDir: ck });
    const rc = await second.train();
    await second.release();
    expect(rc.losses).toEqual(rb.losses);
    // a checkpoint of a quantised-base run is not resumed on a float base
    await expect(Trainer.resume(model, seqs(), { ...common, checkpointDir: ck })).rejects.toThrow(/different training options/);
  });

  it('refuses to resume with different options', async () => {
    const dir = join(tmp, 'split');
    await expect(
      Trainer.resume(model, seqs(), {
        lora: { rank: 4, alpha: 8, dropout: 0.1, targetModules: ['q', 'v', 'down'] },
        lr: 1e-3,
        maxSteps: 8,
        batchSize: 2,
        threads: 1,
        checkpointDir: dir,
      }),
    ).rejects.toThrow(/different training options/);
    await expect(Trainer.resume(model, resumeData().slice(1), base(dir))).rejects.toThrow(/different training data/);
  });

  it('a failed or interrupted checkpoint save keeps the previous checkpoint valid', async () => {
    const dir = join(tmp, 'atomic');
    const opts = {
      lora: { rank: 2, alpha: 4, targetModules: ['q'] },
      lr: 1e-3,
      maxSteps: 2,
      batchSize: 2,
      threads: 1,
      checkpointDir: dir,
    } satisfies TrainerOptions;
    const tr = await Trainer.create(model, seqs(), opts);
    await tr.train();
    await tr.release();
    const good = latestCheckpoint(dir)!;
    expect(good).toMatch(/checkpoint-0000002$/);
    const ck = loadCheckpoint(good, tr.targets);
    // a crash mid-save leaves a temp folder behind: ignored
    mkdirSync(join(dir, '.tmp-checkpoint-0000003-1-1'));
    writeFileSync(join(dir, '.tmp-checkpoint-0000003-1-1', 'trainer_state.json'), '{"trunc');
    expect(latestCheckpoint(dir)).toBe(good);
    // a write error in the middle of a save (here: a tensor of the wrong size) keeps the old one
    const broken = { ...ck, state: { ...ck.state, step: 3 }, params: { ...ck.params, tensors: new Map(ck.params.tensors) } };
    broken.params.tensors.set(`${tr.targets[0]!.weight}.lora_B`, new Float32Array(3));
    expect(() => saveCheckpoint(dir, broken, opts.lora)).toThrow(/previous checkpoint is kept/);
    expect(latestCheckpoint(dir)).toBe(good);
    expect(readdirSync(dir).filter((n) => n.startsWith('.tmp-') && !n.includes('-1-1'))).toEqual([]);
    expect(loadCheckpoint(good, tr.targets).state.step).toBe(2);
  });

  it('a non-finite loss stops with a clear error and keeps the last good checkpoint', async () => {
    const dir = join(tmp, 'nan');
    const tr = await Trainer.create(model, seqs(), {
      lora: { rank: 2, alpha: 4, targetModules: ['q', 'v'] },
      lr: 1e-3,
      maxSteps: 6,
      batchSize: 2,
      threads: 1,
      checkpointDir: dir,
    });
    let n = 0;
    await tr.train({ shouldStop: () => n++ >= 2 });
    const good = tr.lastCheckpoint!;
    expect(good).toMatch(/checkpoint-0000002$/);
    tr.params.tensors.get(`${tr.targets[0]!.weight}.lora_A`)![0] = Infinity;
    const err = await tr.train().catch((e: unknown) => e);
    await tr.release();
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as TrainingDivergedError).message).toMatch(/diverged at step 3: loss is NaN .*last good checkpoint is .*checkpoint-0000002/);
    expect((err as TrainingDivergedError).lastCheckpoint).toBe(good);
    expect(latestCheckpoint(dir)).toBe(good);
    const params = loadCheckpoint(good, tr.targets).params;
    for (const v of params.tensors.values()) expect(v.every((x) => Number.isFinite(x))).toBe(true);
  });

  it('the exported PEFT adapter loads for inference and gives the trained model (merged and unmerged)', async () => {
    const data = seqs();
    const tr = await Trainer.create(model, data, {
      lora: { rank: 4, alpha: 8, targetModules: ALL },
      lr: 1e-2,
      schedule: { type: 'constant' },
      maxSteps: 10,
      batchSize: 3,
      threads: 1,
    });
    await tr.train();
    const trainedLoss = await tr.evaluate(data);
    const dir = join(tmp, 'adapter');
    tr.exportAdapter(dir);
    await tr.release();
    expect(existsSync(join(dir, 'adapter_config.json'))).toBe(true);
    const ad = loadLoraAdapter(dir);
    expect(ad.modules.size).toBe(14);
    expect(ad.rank).toBe(4);
    for (const mode of ['merged', 'unmerged'] as const) {
      const rt = await openModel(model, { lora: dir, loraMode: mode, threads: 1, executionProvider: 'cpu' });
      let sum = 0;
      let count = 0;
      for (const ex of data) {
        const { logits, dims } = await forwardLogits(rt, [ex.ids]);
        const V = dims[2];
        for (let t = 0; t + 1 < ex.ids.length; t++) {
          if (!ex.lossMask![t + 1]) continue;
          const row = logits.subarray(t * V, (t + 1) * V);
          let mx = -Infinity;
          for (const x of row) mx = Math.max(mx, x);
          let se = 0;
          for (const x of row) se += Math.exp(x - mx);
          sum += mx + Math.log(se) - row[ex.ids[t + 1]!]!;
          count++;
        }
      }
      await rt.release();
      expect(Math.abs(sum / count - trainedLoss)).toBeLessThan(1e-4);
    }
  });

  it('Qwen2 (q/k/v bias, tied embeddings): trains and the exported adapter reproduces the trained loss', async () => {
    const qwen = loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-qwen2'));
    const data = seqs();
    const tr = await Trainer.create(qwen, data, {
      lora: { rank: 4, alpha: 8, targetModules: ALL },
      lr: 1e-2,
      schedule: { type: 'constant' },
      maxSteps: 15,
      batchSize: 3,
      threads: 1,
    });
    const before = await tr.evaluate(data);
    await tr.train();
    const after = await tr.evaluate(data);
    const dir = join(tmp, 'qwen-adapter');
    tr.exportAdapter(dir);
    await tr.release();
    expect(after).toBeLessThan(before * 0.5);
    const rt = await openModel(qwen, { lora: dir, threads: 1, executionProvider: 'cpu' });
    const { logits, dims } = await forwardLogits(rt, [data[0]!.ids]);
    await rt.release();
    const V = dims[2];
    let sum = 0;
    let n = 0;
    const ex = data[0]!;
    for (let t = 0; t + 1 < ex.ids.length; t++) {
      if (!ex.lossMask![t + 1]) continue;
      const row = Array.from(logits.subarray(t * V, (t + 1) * V));
      const mx = Math.max(...row);
      sum += mx + Math.log(row.reduce((a, x) => a + Math.exp(x - mx), 0)) - row[ex.ids[t + 1]!]!;
      n++;
    }
    const trEval = await Trainer.create(qwen, [ex], {
      lora: { rank: 4, alpha: 8, targetModules: ALL },
      lr: 0,
      maxSteps: 1,
      batchSize: 1,
      threads: 1,
      initialParams: tr.params,
    });
    expect(Math.abs(sum / n - (await trEval.evaluate([ex])))).toBeLessThan(1e-4);
    await trEval.release();
  });
});
