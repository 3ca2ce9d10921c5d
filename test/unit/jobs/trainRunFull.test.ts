/**
 * The train.run job in full-parameter mode on stories260K (a GGUF base): the whole model is written
 * as a GGUF into the workspace's models/ and added to the Models list; a cancelled and resumed run
 * writes the same weights as an uninterrupted one; DER and EWC work on the trained weights.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/main/engine';
import { runGeneration } from '../../../src/main/engine/session';
import type { JobContext } from '../../../src/main/jobs/define';
import { readTrainMetrics, trainRunJob, type TrainRunResult } from '../../../src/main/jobs/types/trainRun';
import { repoRoot, sharedPath } from '../../helpers/shared';
import { REFUSAL_POOL, STORY_TASK, trainRunWorkspace } from '../../helpers/trainRun';

const stories = sharedPath('models', 'stories260K.gguf');

/** Every weight of a model file, by name. */
function weightsOf(path: string): Map<string, Float32Array> {
  const m = loadModel(path);
  return new Map(m.weights.names().map((n) => [n, Float32Array.from(m.weights.f32(n))]));
}

describe.skipIf(!stories)('train.run in full-parameter mode on stories260K', () => {
  const ws = trainRunWorkspace({
    project: 'full',
    data: { task: STORY_TASK, safety_pool: REFUSAL_POOL },
    defaults: { modelPath: stories, template: 'plain', mode: 'full' },
  });
  const { run, enqueue } = ws;

  it('trains the model’s own weights, writes the whole model as a GGUF in models/ and adds it to the Models list; it generates', async () => {
    const { id, done, result: r } = await run({ method: 'plain', maxSteps: 12, batchSize: 4, lr: 3e-3 });
    expect(done.error).toBeNull();
    expect(done.title).toMatch(/\(full · plain · no safety examples · 12 steps\)$/);
    expect(r.mode).toBe('full');
    expect(r.adapterPath).toBeUndefined();
    expect(r.modelPath).toBe(join(ws.dir, 'models', `stories260K+train-${id}`, `stories260K+train-${id}.gguf`));
    expect(r.modelFormat).toBe('gguf');
    const metrics = readTrainMetrics(r.runDir);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(metrics.at(-1)!.taskLoss).toBeLessThan(metrics[0]!.taskLoss * 0.9);
    // in the Models list, under the id the result names
    const listed = ws.s.models.list().find((m) => m.path === r.modelPath);
    expect(listed?.id).toBe(r.modelId);
    expect(listed?.info).toMatchObject({ format: 'gguf', name: `stories260K+train-${id}` });
    // every weight trained (all groups), the architecture and tokenizer as the base's
    const base = weightsOf(stories!);
    const trained = weightsOf(r.modelPath!);
    expect([...trained.keys()].sort()).toEqual([...base.keys()].sort());
    for (const [name, w] of trained)
      expect(
        w.some((x, i) => x !== base.get(name)![i]),
        `${name} changed`,
      ).toBe(true);
    // no adapter; the checkpoints (weights + AdamW moments) and the weight cache are removed once the model is written
    expect(existsSync(join(r.runDir, 'adapter'))).toBe(false);
    expect(existsSync(join(r.runDir, 'checkpoints'))).toBe(false);
    expect(existsSync(join(r.runDir, 'weights'))).toBe(false);
    const out = await runGeneration({ modelPath: r.modelPath!, prompt: 'Tell me about the cat.', sampling: { maxNewTokens: 12, temperature: 0 } });
    expect(out.text.trim().length).toBeGreaterThan(0);

    // a crash after the model was written but before the job recorded success: the resumed job
    // neither trains again nor writes a second model; it registers the one it wrote
    const params = trainRunJob.params.parse(ws.s.jobs.get(id).params);
    const ctx: JobContext<never> = {
      jobId: id,
      db: ws.s.db,
      progress: () => {},
      stream: () => {},
      log: () => {},
      cancelled: () => false,
      throwIfCancelled: () => {},
      signal: new AbortController().signal,
      saveCheckpoint: () => {},
    };
    const again = await trainRunJob.resume(params, { runDir: r.runDir, modelPath: r.modelPath!, exported: true }, ctx);
    expect(again).toEqual(r);
    expect(readTrainMetrics(r.runDir)).toEqual(metrics);
    expect(readdirSync(join(ws.dir, 'models')).filter((f) => f.includes(`+train-${id}`))).toEqual([`stories260K+train-${id}`]);
  });

  it('writes a Hugging Face base’s trained model as a Hugging Face folder (its config.json and tokenizer kept)', async () => {
    const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
    const { id, done, result: r } = await run({ modelPath: tinyLlama, method: 'plain', maxSteps: 2, batchSize: 2, maxLength: 16 });
    expect(done.error).toBeNull();
    expect(r.modelFormat).toBe('hf');
    expect(r.modelPath).toBe(join(ws.dir, 'models', `tiny-llama+train-${id}`, `tiny-llama+train-${id}`));
    expect(readFileSync(join(r.modelPath!, 'config.json'), 'utf8')).toBe(readFileSync(join(tinyLlama, 'config.json'), 'utf8'));
    expect(ws.s.models.list().find((m) => m.id === r.modelId)?.info).toMatchObject({ format: 'hf', name: `tiny-llama+train-${id}` });
    const base = weightsOf(tinyLlama);
    const trained = weightsOf(r.modelPath!);
    expect([...trained.keys()].sort()).toEqual([...base.keys()].sort());
    expect([...trained].some(([name, w]) => w.some((x, i) => x !== base.get(name)![i]))).toBe(true);
  });

  it('trains only the chosen groups: the others are written as they were', async () => {
    const { done, result: r } = await run({ method: 'plain', full: { trainable: ['attention'] }, maxSteps: 3, batchSize: 2, lr: 3e-3 });
    expect(done.error).toBeNull();
    const base = weightsOf(stories!);
    for (const [name, w] of weightsOf(r.modelPath!)) {
      const changed = w.some((x, i) => x !== base.get(name)![i]);
      expect(changed, name).toBe(/\.self_attn\./.test(name));
    }
  });

  it('a cancelled and resumed run writes the same weights as an uninterrupted one', async () => {
    const settings = { method: 'plain', maxSteps: 30, batchSize: 2, lr: 2e-3, checkpointEvery: 3, seed: 5 };
    const straight = await run(settings);
    expect(straight.done.error).toBeNull();
    const job = enqueue(settings);
    const runDir = join(ws.dir, 'runs', `train-${job.id}`);
    const deadline = Date.now() + 120_000;
    while (readTrainMetrics(runDir).length < 7 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    ws.s.jobs.cancel(job.id);
    expect((await ws.s.jobs.waitFor(job.id, 60_000)).state).toBe('cancelled');
    // stopped mid-run: checkpoints kept for the resume, no model written yet
    expect(readdirSync(join(runDir, 'checkpoints')).length).toBeGreaterThan(0);
    expect(readTrainMetrics(runDir).length).toBeLessThan(30);
    expect(ws.s.models.list().some((m) => m.path.includes(`+train-${job.id}`))).toBe(false);
    ws.s.jobs.resume(job.id);
    const done = await ws.s.jobs.waitFor(job.id, 300_000);
    expect(done.error).toBeNull();
    expect(readTrainMetrics(runDir).map((m) => m.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    const a = weightsOf(straight.result.modelPath!);
    const b = weightsOf((done.result as TrainRunResult).modelPath!);
    expect(b.size).toBe(a.size);
    for (const [name, w] of a) expect(Buffer.from(b.get(name)!.buffer).equals(Buffer.from(w.buffer)), `${name} bit for bit`).toBe(true);
  });

  it('DER matches the aligned model’s logits on the safety buffer with full training', async () => {
    const { done, result: r } = await run({ method: 'der', selectionId: ws.selectionId, maxSteps: 3, batchSize: 2, lr: 3e-3 });
    expect(done.error).toBeNull();
    const metrics = readTrainMetrics(r.runDir);
    expect(metrics).toHaveLength(3);
    for (const m of metrics) {
      expect(Object.keys(m.terms!)).toEqual(['der']);
      expect(m.loss).toBeCloseTo(m.taskLoss + m.terms!['der']!, 5);
    }
    // the first step starts at the aligned weights; after it the trained weights have moved away
    expect(metrics.at(-1)!.terms!['der']!).toBeGreaterThan(0);
    expect(existsSync(r.modelPath!)).toBe(true);
  });

  it('EWC estimates its Fisher over the trained weights: with only the MLP training, its anchor pulls on them', async () => {
    const { done, result: r } = await run({
      method: 'ewc',
      selectionId: ws.selectionId,
      methodParams: { lambda: 1e6 },
      full: { trainable: ['mlp'] },
      maxSteps: 3,
      batchSize: 2,
      lr: 1e-2,
    });
    expect(done.error).toBeNull();
    const metrics = readTrainMetrics(r.runDir);
    expect(metrics.map((m) => Object.keys(m.terms!))).toEqual([['ewc'], ['ewc'], ['ewc']]);
    // zero at the start (the weights are the aligned ones), then the penalty of the moved MLP weights
    expect(metrics[0]!.terms!['ewc']).toBe(0);
    expect(metrics.at(-1)!.terms!['ewc']!).toBeGreaterThan(0);
  });
});
