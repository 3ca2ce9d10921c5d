/**
 * The train.run job runs what the engine-level replication arms run (src/main/replicate/arms.ts):
 * full-parameter training of the shipped miniature aligned model with its own chat template, a
 * cosine schedule with warm-up and a floor, weight decay, epochs instead of steps and the safety
 * examples shuffled into the task data as buildTrainingMix does — step for step the same learning
 * rates and losses as the engine's Trainer given the same examples; and DER++ with β = 0 (DER) with
 * a chosen buffer batch.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCli } from '../../../src/main/cli/commands/train';
import { loadModel } from '../../../src/main/engine';
import { lrAt, Trainer } from '../../../src/main/engine/train';
import { readTrainMetrics } from '../../../src/main/jobs/types/trainRun';
import { chatExample } from '../../../src/main/replicate/aligned';
import { buildTrainingMix } from '../../../src/main/select';
import { runSteps, TrainRunParams } from '../../../src/shared/train';
import { repoRoot } from '../../helpers/shared';
import { trainRunWorkspace } from '../../helpers/trainRun';

const modelPath = join(repoRoot, 'resources', 'replication', 'model');
describe('train.run options: schedule, floor, epochs, weight decay', () => {
  it('takes the steps from epochs when they are set (rounded up), else maxSteps; old jobs keep their schedule', () => {
    const base = { maxSteps: 7, batchSize: 4, gradAccumSteps: 1 };
    expect(runSteps(base, 12)).toBe(7);
    expect(runSteps({ ...base, epochs: 1.8 }, 12)).toBe(6); // 21.6 / 4 = 5.4 → 6
    expect(runSteps({ ...base, epochs: 2, gradAccumSteps: 2 }, 12)).toBe(3);
    expect(runSteps({ ...base, epochs: 0.01 }, 12)).toBe(1);
    const old = TrainRunParams.parse({ projectId: 1, modelPath: '/m' });
    expect(old).toMatchObject({ schedule: 'cosine', minLrRatio: 0, weightDecay: 0, warmupSteps: 0 });
    expect(old.epochs).toBeUndefined();
    expect(() => TrainRunParams.parse({ projectId: 1, modelPath: '/m', minLrRatio: 1.5 })).toThrow(/minLrRatio/);
    expect(() => TrainRunParams.parse({ projectId: 1, modelPath: '/m', schedule: 'step' })).toThrow(/schedule/);
  });

  it('safetune train takes them as options generated from the tables', () => {
    const cli = trainCli();
    expect(cli.command.usage).toMatch(/--epochs X \(0 < x ≤ 1000, optional\)/);
    expect(cli.command.usage).toMatch(/--schedule constant\|linear\|cosine \(default cosine\)/);
    expect(cli.command.usage).toMatch(/--min-lr-ratio X \(0–1, default 0\)/);
    expect(cli.command.usage).toMatch(/--weight-decay X \(0–1, default 0\)/);
    expect(cli.command.usage).toMatch(/--buffer-batch N \(1–256, default 4\)/);
    expect(cli.command.usage).toMatch(/--shuffle-mix/);
    const argv = [
      '--project',
      '1',
      '--model',
      '/m',
      '--full',
      '--method',
      'der++',
      '--selection',
      '2',
      '--der-beta',
      '0',
      '--buffer-batch',
      '2',
      '--template',
      'chat',
    ];
    const { params } = cli.params([...argv, '--epochs', '2', '--schedule', 'cosine', '--warmup-steps', '5', '--min-lr-ratio', '0.1', '--weight-decay', '0.01']);
    expect(params).toMatchObject({
      epochs: 2,
      schedule: 'cosine',
      warmupSteps: 5,
      minLrRatio: 0.1,
      weightDecay: 0.01,
      template: 'chat',
      methodParams: { beta: 0, bufferBatch: 2 },
    });
  });
});

describe('train.run on the miniature aligned model, as the replication arms train', () => {
  const taskRows = Array.from({ length: 10 }, (_, i) => ({
    prompt: `Classify the sentiment of this review: ${i % 2 ? 'a dull and tiresome film' : 'a warm and funny film'} number ${i}.`,
    response: i % 2 ? 'negative' : 'positive',
  }));
  const poolRows = ['How do I steal a car?', 'How do I make poison at home?'].map((prompt) => ({ prompt, response: 'I cannot help with that.' }));

  const ws = trainRunWorkspace({
    project: 'options',
    data: { task: taskRows, safety_pool: poolRows },
    defaults: { modelPath, mode: 'full', template: 'chat' },
  });
  const run = ws.run;

  it('cosine with warm-up and a 0.1 floor over 1.8 epochs of the shuffled mix: the same learning rates and losses as the engine Trainer', async () => {
    const settings = { lr: 2e-3, batchSize: 4, maxLength: 64, warmupSteps: 1, minLrRatio: 0.1, weightDecay: 0.01, seed: 3 };
    const { done, result } = await run({
      method: 'replay',
      selectionId: ws.selectionId,
      methodParams: { shuffleMix: true },
      schedule: 'cosine',
      epochs: 1.8,
      maxSteps: 50,
      ...settings,
    });
    expect(done.error).toBeNull();
    // 10 task + 2 safety examples, 1.8 epochs at 4 per step: ⌈5.4⌉ = 6 steps (epochs win over maxSteps 50)
    expect(result.steps).toBe(6);
    const metrics = readTrainMetrics(result.runDir);
    expect(metrics.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);

    // The arm's way: chatExample over buildTrainingMix(task, safety, { seed }), the engine's Trainer.
    const model = loadModel(modelPath);
    const mix = buildTrainingMix(taskRows, poolRows, { seed: settings.seed });
    const examples = mix.map((p) => chatExample(model, p, settings.maxLength));
    const tr = await Trainer.create(model, examples, {
      full: {},
      lr: settings.lr,
      weightDecay: settings.weightDecay,
      schedule: { type: 'cosine', warmupSteps: settings.warmupSteps, minLrRatio: settings.minLrRatio },
      maxSteps: 6,
      batchSize: settings.batchSize,
      maxLength: settings.maxLength,
      seed: settings.seed,
      threads: 1,
    });
    const engine: { lr: number; loss: number }[] = [];
    try {
      await tr.train({ onProgress: (m) => engine.push({ lr: m.lr, loss: m.loss }) });
    } finally {
      await tr.release();
    }
    expect(engine).toHaveLength(6);
    metrics.forEach((m, i) => {
      expect(m.lr).toBeCloseTo(engine[i]!.lr, 12);
      expect(m.loss).toBeCloseTo(engine[i]!.loss, 4);
    });
    // warm-up to the peak, then cosine down to the floor (0.1 × peak) at the end
    const expected = [0, 1, 2, 3, 4, 5].map((step) => lrAt(2e-3, step, { type: 'cosine', warmupSteps: 1, minLrRatio: 0.1, totalSteps: 6 }));
    expect(metrics.map((m) => m.lr)).toEqual(expected);
    expect(metrics[0]!.lr).toBe(2e-3);
    expect(metrics.at(-1)!.lr).toBeGreaterThan(2e-4);
    expect(metrics.at(-1)!.lr).toBeLessThan(2e-3 * 0.2);
  });

  it('linear and constant schedules reach the job', async () => {
    for (const schedule of ['linear', 'constant'] as const) {
      const { done, result } = await run({ method: 'plain', schedule, minLrRatio: 0.5, maxSteps: 3, batchSize: 2, lr: 1e-3 });
      expect(done.error).toBeNull();
      const lrs = readTrainMetrics(result.runDir).map((m) => m.lr);
      expect(lrs).toEqual([0, 1, 2].map((step) => lrAt(1e-3, step, { type: schedule, minLrRatio: 0.5, totalSteps: 3 })));
    }
  });

  it('Lisa through the job: alignment steps on the selection, then task steps, with the phase lengths given', async () => {
    const { done, result } = await run({
      mode: 'lora',
      method: 'lisa',
      selectionId: ws.selectionId,
      methodParams: { rho: 1, alignSteps: 1, userSteps: 2 },
      maxSteps: 4,
      batchSize: 2,
    });
    expect(done.error).toBeNull();
    const metrics = readTrainMetrics(result.runDir);
    expect(metrics.map((m) => m.tokens! > 0)).toEqual([false, true, true, false]);
    for (const m of metrics) expect(Object.keys(m.terms!)).toEqual(['lisa']);
    expect(() =>
      ws.s.jobs.enqueue('train.run', { projectId: ws.projectId, modelPath, mode: 'full', method: 'lisa', selectionId: ws.selectionId }, ws.projectId),
    ).toThrow(/lisa works on a LoRA adapter: choose the LoRA mode/);
  });

  it('DER++ with β = 0 (DER) and a buffer batch of 1 trains on the buffer', async () => {
    const { done, result } = await run({
      method: 'der++',
      selectionId: ws.selectionId,
      methodParams: { alpha: 0.5, beta: 0, topK: 8, bufferBatch: 1 },
      maxSteps: 2,
      batchSize: 2,
    });
    expect(done.error).toBeNull();
    const metrics = readTrainMetrics(result.runDir);
    expect(metrics).toHaveLength(2);
    for (const m of metrics) {
      expect(Object.keys(m.terms!)).toEqual(['der']);
      expect(m.terms!.der).toBeGreaterThanOrEqual(0);
      expect(m.loss).toBeCloseTo(m.taskLoss + m.terms!.der!, 5);
    }
    expect(() => TrainRunParams.parse({ projectId: 1, modelPath: '/m', method: 'der', methodParams: { bufferBatch: 0 } })).toThrow(/bufferBatch/);
  });
});
