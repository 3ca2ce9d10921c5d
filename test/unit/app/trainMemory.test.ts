import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createHandlers } from '../../../src/main/app/handlers';
import { trainingMemory } from '../../../src/main/jobs/tasks';
import { JobStore } from '../../../src/main/db/jobs';
import { loadModel } from '../../../src/main/engine';
import { estimateTrainingMemory } from '../../../src/main/engine/train';
import { JobRunner } from '../../../src/main/jobs/runner';
import { TrainMemoryInput } from '../../../src/shared/train';
import { repoRoot, sharedPath } from '../../helpers/shared';
import { tempDir, testServices, workerScript } from '../../helpers/services';

const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const stories = sharedPath('models', 'stories260K.gguf');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

describe('train.estimateMemory', () => {
  it('estimates a run from config.json alone, as the engine estimate of the loaded model does', async () => {
    const input = { modelPath: tinyLlama, batchSize: 2, maxLength: 64, rank: 4, targetModules: ['q', 'v'] as ('q' | 'v')[] };
    const e = await trainingMemory(input);
    const cfg = loadModel(tinyLlama).config;
    // q: 32→32, v: 32→16 per layer, rank 4, 2 layers
    const loraParams = 2 * 4 * (32 + 32 + 32 + 16);
    expect(e).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams }));
    expect((await trainingMemory({ ...input, batchSize: 4 })).activationsBytes).toBe(2 * e.activationsBytes);
    expect(await trainingMemory({ ...input, recompute: true })).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, recompute: true }));
    expect(await trainingMemory({ ...input, frozenWeightDtype: 'float16' })).toEqual(
      estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, frozenWeightDtype: 'float16' }),
    );
    // dropout keep-masks: q and v take the 32 hidden features, 2 layers
    expect(await trainingMemory({ ...input, dropout: 0.05 })).toEqual(
      estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, loraInputFeatures: 2 * (32 + 32), dropout: true }),
    );
    expect((await trainingMemory({ ...input, dropout: 0.05 })).activationsBytes).toBeGreaterThan(e.activationsBytes);
  });

  it('estimates a full-parameter run: the trained weights with their gradients and AdamW moments instead of an adapter', async () => {
    const cfg = loadModel(tinyLlama).config;
    const full = await trainingMemory({ modelPath: tinyLlama, mode: 'full', batchSize: 2, maxLength: 64 });
    expect(full).toEqual(
      estimateTrainingMemory(cfg, { batch: 2, seq: 64, full: { trainable: ['all'] }, gradAccumSteps: 1, recompute: false, frozenWeightDtype: 'float32' }),
    );
    expect(full.adapterBytes).toBe(0);
    // every weight trains: 4 fp32 copies (weight, gradient, m, v) and the gradient's copy out of onnxruntime, nothing frozen
    const params = loadModel(tinyLlama)
      .weights.names()
      .reduce(
        (n, w) =>
          n +
          loadModel(tinyLlama)
            .weights.shape(w)
            .reduce((a, b) => a * b, 1),
        0,
      );
    expect(full.trainedBytes).toBe(params * 4 * 5);
    expect(full.weightsBytes).toBe(0);
    // only the MLP: fewer trained bytes, the rest frozen; accumulation adds one gradient copy
    const mlp = await trainingMemory({ modelPath: tinyLlama, mode: 'full', trainable: ['mlp'], batchSize: 2, maxLength: 64 });
    expect(mlp.trainedBytes).toBeLessThan(full.trainedBytes);
    expect(mlp.weightsBytes).toBeGreaterThan(0);
    expect(
      (await trainingMemory({ modelPath: tinyLlama, mode: 'full', trainable: ['mlp'], batchSize: 2, maxLength: 64, gradAccumSteps: 4 })).trainedBytes,
    ).toBe((mlp.trainedBytes / 5) * 6);
    // a LoRA estimate still needs the adapter's shape
    expect(TrainMemoryInput.safeParse({ modelPath: tinyLlama, batchSize: 2, maxLength: 64 }).success).toBe(false);
    expect(TrainMemoryInput.safeParse({ modelPath: tinyLlama, mode: 'full', batchSize: 2, maxLength: 64 }).success).toBe(true);
  });

  it.skipIf(!stories)('reads a GGUF header', async () => {
    const e = await trainingMemory({ modelPath: stories!, batchSize: 1, maxLength: 32, rank: 8, targetModules: ['q', 'k', 'v', 'o'] });
    expect(e.weightsBytes).toBeGreaterThan(4 * 250_000);
    expect(e.totalBytes).toBeGreaterThan(e.weightsBytes);
  });

  it('names the file it cannot read', async () => {
    await expect(trainingMemory({ modelPath: '/nonexistent/model', batchSize: 1, maxLength: 32, rank: 8, targetModules: ['q'] })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/\/nonexistent\/model/),
    });
  });

  it('runs in a one-shot worker, never on the main thread, and keeps the call contract', async () => {
    const t = tempDir();
    const s = testServices(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    const runTask = vi.spyOn(s.jobs, 'runTask');
    const estimate = createHandlers(s)['train.estimateMemory'];
    // a model inside the workspace: the contract reads only there and in granted folders
    const model = join(t.dir, 'tiny-llama');
    cpSync(tinyLlama, model, { recursive: true });
    const input = { modelPath: model, batchSize: 2, maxLength: 64, rank: 4, targetModules: ['q', 'v'] as ('q' | 'v')[] };
    expect(await estimate(input)).toEqual(await trainingMemory(input));
    expect(runTask).toHaveBeenCalledWith('train.estimateMemory', input);
    // a config.json claiming 1e9 layers used to exhaust the main thread's memory: now refused by name
    const hostile = join(t.dir, 'hostile');
    cpSync(model, hostile, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(hostile, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(hostile, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 1e9 }));
    await expect(Promise.resolve(estimate({ ...input, modelPath: hostile }))).rejects.toMatchObject({
      code: 'invalid_input',
      message: `${join(hostile, 'config.json')}: "num_hidden_layers" is 1000000000; expected a whole number from 1 to 1024`,
    });
  });

  it('stops a task that runs past its time limit', async () => {
    const t = tempDir();
    const s = testServices(t.dir);
    cleanups.push(t.cleanup, () => s.close());
    const runner = new JobRunner({ store: new JobStore(s.db), dbPath: s.databasePath, events: s.events, modules: [], workerScript, taskTimeoutMs: 5 });
    cleanups.push(() => runner.close());
    await expect(
      runner.runTask('train.estimateMemory', { modelPath: tinyLlama, batchSize: 1, maxLength: 32, rank: 4, targetModules: ['q'] }),
    ).rejects.toMatchObject({
      code: 'invalid_input',
      message: 'Estimating training memory took longer than 0.005 s and was stopped: is the file damaged?',
    });
  });
});
