import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runGeneration } from '../../../src/main/engine/session';
import { readTrainMetrics } from '../../../src/main/jobs/types/trainRun';
import { suggestMaxLength, truncationAt, type TrainPreflightResult } from '../../../src/shared/train';
import { sharedPath } from '../../helpers/shared';
import { REFUSAL_POOL, STORY_TASK, trainRunWorkspace } from '../../helpers/trainRun';

const stories = sharedPath('models', 'stories260K.gguf');

describe.skipIf(!stories)('train.run job on stories260K', () => {
  const ws = trainRunWorkspace({
    project: 'train',
    data: { task: STORY_TASK, safety_pool: REFUSAL_POOL },
    defaults: { modelPath: stories, template: 'plain' },
  });
  const run = ws.run;

  it('fine-tunes with plain LoRA: the loss falls and the exported adapter generates', async () => {
    const { id, done } = await run({
      method: 'plain',
      maxSteps: 20,
      batchSize: 4,
      lr: 3e-3,
      lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'k', 'v', 'o'] },
    });
    expect(done.error).toBeNull();
    const r = done.result as { adapterPath: string; steps: number; runDir: string };
    expect(r.steps).toBe(20);
    const metrics = readTrainMetrics(r.runDir);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(metrics.at(-1)!.taskLoss).toBeLessThan(metrics[0]!.taskLoss * 0.8);
    expect(existsSync(join(r.adapterPath, 'adapter_config.json'))).toBe(true);
    expect(existsSync(join(r.adapterPath, 'adapter_model.safetensors'))).toBe(true);
    // Greedy decoding, with and without the adapter: the adapter changes what the model says.
    const greedy = { prompt: 'Tell me about the cat.', sampling: { maxNewTokens: 12, temperature: 0 } };
    const base = await runGeneration({ modelPath: stories!, ...greedy });
    const out = await runGeneration({ modelPath: stories!, adapterPath: r.adapterPath, ...greedy });
    expect(base.text).toBe('She liked to play with her toys and s');
    // trained on "The cat sat on the red mat…": it now answers about the cat, as the task data does
    expect(out.text).toMatch(/^The cat /);
    expect(out.text).not.toBe(base.text);
    expect(ws.s.jobs.get(id).state).toBe('succeeded');
  });

  it('trains with DER++ on the saved safety selection, recording the task loss and the DER++ term of each step', async () => {
    const { done } = await run({ method: 'der++', selectionId: ws.selectionId, maxSteps: 4, batchSize: 2 });
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    const metrics = readTrainMetrics((done.result as { runDir: string }).runDir);
    expect(metrics).toHaveLength(4);
    for (const m of metrics) {
      expect(m.tokens).toBeGreaterThan(0);
      expect(Object.keys(m.terms!)).toEqual(['der++']);
      expect(m.loss).toBeCloseTo(m.taskLoss + m.terms!['der++']!, 5);
    }
  });

  it('pre-flight: counts what survives truncation with the model’s tokenizer, as the run would tokenise it', async () => {
    const job = ws.s.jobs.enqueue(
      'train.preflight',
      { projectId: ws.projectId, modelPath: stories, selectionId: ws.selectionId, template: 'plain' },
      ws.projectId,
    );
    const done = await ws.s.jobs.waitFor(job.id, 60_000);
    expect(done.error).toBeNull();
    const r = done.result as TrainPreflightResult;
    expect(r.contextLength).toBeGreaterThan(0);
    expect(r.task.examples).toBe(4);
    expect(r.safety!.examples).toBe(4);
    expect(truncationAt(r.task, 256)).toEqual({ examples: 4, keepAll: 4, losePart: 0, loseAll: 0 });
    const shortestPrompt = r.task.promptTokens[0]![0];
    expect(truncationAt(r.task, shortestPrompt)).toMatchObject({ keepAll: 0, losePart: 0, loseAll: 4 });
    expect(suggestMaxLength(r.task)).toBe(Math.ceil(r.task.totalTokens.at(-1)![0] / 8) * 8);
  });

  it('refuses to start when every response is cut off at max tokens, naming a value that would work', async () => {
    const other = ws.s.projects.create('long prompts').id;
    const rows = ['cat', 'dog', 'owl'].map((a) => ({
      prompt: `Please write a long and careful story about a ${a} who lives in a small house near the river.`,
      response: `The ${a} was happy.`,
    }));
    await ws.importRows(other, 'task', rows, 'long.jsonl');
    const job = ws.enqueue({ method: 'plain', maxSteps: 3, batchSize: 2, maxLength: 16 }, other);
    const done = await ws.s.jobs.waitFor(job.id, 120_000);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(
      /^no task example keeps a response token at max tokens 16: every response is cut off after the prompt \(prompts take \d+–\d+ tokens\); raise max tokens per example to \d+/,
    );
    expect(existsSync(join(ws.dir, 'runs', `train-${job.id}`, 'adapter'))).toBe(false);
    // DER's buffer cut away entirely: the method would preserve nothing
    const der = await run({ method: 'der', selectionId: ws.selectionId, maxSteps: 2, maxLength: 8 });
    expect(der.done.state).toBe('failed');
    expect(der.done.error).toMatch(/^(no task example|der would preserve nothing: no safety example) keeps a response token at max tokens 8/);
  });

  it('fails, writing no adapter, when no step had a response token to train on', async () => {
    // One short example among long ones passes the pre-check; the seeded order never samples it.
    const other = ws.s.projects.create('mostly long').id;
    const rows = Array.from({ length: 40 }, (_, i) => ({
      prompt: `Please write a long and careful story number ${i} about an animal near the river.`,
      response: 'Done.',
    }));
    rows.push({ prompt: 'Hi', response: 'Hello.' });
    await ws.importRows(other, 'task', rows, 'mostly-long.jsonl');
    const job = ws.enqueue({ method: 'plain', maxSteps: 2, batchSize: 1, maxLength: 24, seed: 0 }, other);
    const done = await ws.s.jobs.waitFor(job.id, 120_000);
    const runDir = join(ws.dir, 'runs', `train-${job.id}`);
    const metrics = readTrainMetrics(runDir);
    expect(metrics.map((m) => [m.tokens, m.taskLoss])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/^the run learned nothing: none of its 2 steps had a response token to train on \(task loss 0 throughout\)/);
    expect(existsSync(join(runDir, 'adapter'))).toBe(false);
  });

  it('resumes a cancelled run from its last checkpoint with a contiguous loss curve', async () => {
    const job = ws.enqueue({ method: 'replay', selectionId: ws.selectionId, maxSteps: 40, batchSize: 2, checkpointEvery: 5 });
    const runDir = join(ws.dir, 'runs', `train-${job.id}`);
    const deadline = Date.now() + 120_000;
    while (readTrainMetrics(runDir).length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // the frozen weights live in a file onnxruntime memory-maps while the job runs, and are removed after it
    expect(existsSync(join(runDir, 'weights', 'weights.bin'))).toBe(true);
    ws.s.jobs.cancel(job.id);
    expect((await ws.s.jobs.waitFor(job.id, 60_000)).state).toBe('cancelled');
    expect(existsSync(join(runDir, 'weights'))).toBe(false);
    ws.s.jobs.resume(job.id);
    const done = await ws.s.jobs.waitFor(job.id, 300_000);
    expect(done.state).toBe('succeeded');
    expect(readTrainMetrics(runDir).map((m) => m.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(existsSync(join(runDir, 'weights'))).toBe(false);
  });

  it('refuses clearly what it cannot do', async () => {
    const noSel = await run({ method: 'der', maxSteps: 2 });
    expect(noSel.done.state).toBe('failed');
    expect(noSel.done.error).toMatch(/der needs safety examples/);
    const empty = ws.s.projects.create('no data').id;
    const j = ws.s.jobs.enqueue('train.run', { projectId: empty, modelPath: stories, method: 'plain', maxSteps: 2 }, empty);
    const none = await ws.s.jobs.waitFor(j.id, 60_000);
    expect(none.state).toBe('failed');
    expect(none.error).toMatch(/no task examples/);
  });
});
