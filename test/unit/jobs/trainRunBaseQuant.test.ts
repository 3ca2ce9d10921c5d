/**
 * LoRA on a quantised frozen base through the train.run job (QLoRA-style: the base quantised on
 * load, fp32 adapter and compute): the option in the job schema and the CLI, a short run on the
 * shipped miniature model with a 4-bit base (the loss falls, the adapter is written, the base was
 * really quantised), and the Train tab's memory estimate for it.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCli } from '../../../src/main/cli/commands/train';
import { trainingMemory } from '../../../src/main/jobs/tasks';
import { readTrainMetrics } from '../../../src/main/jobs/types/trainRun';
import { TrainMemoryInput, TrainRunParams } from '../../../src/shared/train';
import { repoRoot } from '../../helpers/shared';
import { trainRunWorkspace } from '../../helpers/trainRun';

const modelPath = join(repoRoot, 'resources', 'replication', 'model');

describe('baseQuant: the option in the job schema and the CLI', () => {
  it('defaults to none (jobs stored before it train as before) and is refused for full-parameter training', () => {
    expect(TrainRunParams.parse({ projectId: 1, modelPath: '/m' }).baseQuant).toBe('none');
    expect(TrainRunParams.parse({ projectId: 1, modelPath: '/m', baseQuant: 'q4_0' }).baseQuant).toBe('q4_0');
    expect(() => TrainRunParams.parse({ projectId: 1, modelPath: '/m', baseQuant: 'q3_x' })).toThrow(/baseQuant/);
    expect(() => TrainRunParams.parse({ projectId: 1, modelPath: '/m', mode: 'full', baseQuant: 'q4_0' })).toThrow(/quantised base .* LoRA/);
    expect(() => TrainMemoryInput.parse({ modelPath: '/m', mode: 'full', batchSize: 1, maxLength: 8, baseQuant: 'q8_0' })).toThrow(/LoRA/);
  });

  it('safetune train --base-quant q4 (an alias of q4_0), every row of the table by id, and a clear refusal of others', () => {
    const cli = trainCli();
    expect(cli.command.usage).toMatch(/--base-quant none\|q8_0\|q8\|q4_0\|q4\|q4_k/);
    const argv = ['--project', '1', '--model', '/m'];
    expect(cli.params([...argv, '--base-quant', 'q4']).params.baseQuant).toBe('q4_0');
    expect(cli.params([...argv, '--base-quant', 'q8']).params.baseQuant).toBe('q8_0');
    expect(cli.params([...argv, '--base-quant', 'q4_k']).params.baseQuant).toBe('q4_k');
    expect(cli.params(argv).params.baseQuant).toBe('none');
    expect(() => cli.params([...argv, '--base-quant', 'nf4'])).toThrow(/baseQuant/);
    expect(() => cli.params([...argv, '--full', '--base-quant', 'q4'])).toThrow(/LoRA/);
  });
});

describe('train.run with a 4-bit base on the miniature model', () => {
  const w = trainRunWorkspace({
    project: 'qlora',
    data: {
      task: Array.from({ length: 8 }, (_, i) => ({
        prompt: `Classify the sentiment of this review: ${i % 2 ? 'a dull and tiresome film' : 'a warm and funny film'} number ${i}.`,
        response: i % 2 ? 'negative' : 'positive',
      })),
    },
    defaults: {
      modelPath,
      template: 'chat',
      method: 'plain',
      maxSteps: 8,
      batchSize: 4,
      lr: 1e-2,
      maxLength: 64,
      schedule: 'constant',
      lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'v', 'down'] },
    },
  });

  const run = async (baseQuant: string) => {
    const { id, done, result } = await w.run({ baseQuant });
    const log = w.s.jobs
      .events(id, 1000)
      .map((e) => e.message)
      .join('\n');
    return { done, result, log };
  };

  it('the loss falls, the adapter is written, and the base was quantised: not the float32 run’s losses, close to them', async () => {
    const q = await run('q4_0');
    expect(q.done.error).toBeNull();
    const losses = readTrainMetrics(q.result.runDir).map((m) => m.taskLoss);
    expect(losses).toHaveLength(8);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.7);
    expect(existsSync(join(q.result.adapterPath!, 'adapter_model.safetensors'))).toBe(true);
    // every matrix of this model (rows of 128 and 384 weights) is whole Q4_0 blocks: 5 bits per weight
    // (1,114,112 of them; the norms stay float32)
    expect(q.log).toMatch(/frozen base quantised on load to Q4_0: 1\.11 M of 1\.12 M weights, 0\.7 MiB instead of 4\.3 MiB/);

    const f = await run('none');
    expect(f.done.error).toBeNull();
    const fLosses = readTrainMetrics(f.result.runDir).map((m) => m.taskLoss);
    expect(f.log).not.toMatch(/quantised on load/);
    // the 4-bit base changes the model a little: the first step's loss differs, by a few percent at most
    expect(losses[0]).not.toBe(fLosses[0]);
    expect(Math.abs(losses[0]! - fLosses[0]!) / fLosses[0]!).toBeLessThan(0.05);
  }, 300_000);

  it('the Train tab’s memory estimate counts the quantised base: smaller than with float32 weights, by about the weights’ difference', async () => {
    const input = { modelPath, batchSize: 4, maxLength: 64, rank: 4, targetModules: ['q', 'v', 'down'] as const, dropout: 0 };
    const fp32 = await trainingMemory({ ...input, targetModules: [...input.targetModules] });
    const q4 = await trainingMemory({ ...input, targetModules: [...input.targetModules], baseQuant: 'q4_0' });
    const q8 = await trainingMemory({ ...input, targetModules: [...input.targetModules], baseQuant: 'q8_0' });
    expect(q4.weightsBytes).toBeLessThan(fp32.weightsBytes / 5);
    expect(q8.weightsBytes).toBeLessThan(fp32.weightsBytes / 3);
    expect(q4.weightsBytes).toBeLessThan(q8.weightsBytes);
    expect(q4.totalBytes).toBeLessThan(fp32.totalBytes);
  });
});
