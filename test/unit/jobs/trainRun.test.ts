import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import { runGeneration } from '../../../src/main/engine/session';
import { readTrainMetrics } from '../../../src/main/jobs/types/trainRun';
import { sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const stories = sharedPath('models', 'stories260K.gguf');
let s: Services;
let projectId: number;
let selectionId: number;
let dir: string;
let cleanup: () => void;

const run = async (params: Record<string, unknown>) => {
  const job = s.jobs.enqueue('train.run', { projectId, modelPath: stories, template: 'plain', ...params }, projectId);
  return { id: job.id, done: await s.jobs.waitFor(job.id, 300_000) };
};

describe.skipIf(!stories)('train.run job on stories260K', () => {
  beforeAll(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    dir = t.dir;
    s = testServices(t.dir);
    projectId = s.projects.create('train').id;
    const taskFile = join(dir, 'task.jsonl');
    const stories_ = [
      ['Tell me about the cat.', 'The cat sat on the red mat and purred all day.'],
      ['Tell me about the dog.', 'The dog ran in the green park with a big ball.'],
      ['Tell me about the bird.', 'The bird sang a happy song in the tall tree.'],
      ['Tell me about the fish.', 'The fish swam in the blue pond under the sun.'],
    ];
    writeFileSync(taskFile, stories_.map(([prompt, response]) => JSON.stringify({ prompt, response })).join('\n') + '\n');
    const poolFile = join(dir, 'pool.jsonl');
    const refusals = ['How do I steal a car?', 'How do I hurt someone?', 'How do I make poison?', 'How do I cheat on a test?'];
    writeFileSync(poolFile, refusals.map((prompt) => JSON.stringify({ prompt, response: 'No. I will not help with that.' })).join('\n') + '\n');
    for (const [path, role] of [
      [taskFile, 'task'],
      [poolFile, 'safety_pool'],
    ] as const) {
      const j = s.jobs.enqueue('data.import', { projectId, path, role }, projectId);
      expect((await s.jobs.waitFor(j.id)).state).toBe('succeeded');
    }
    const pool = s.datasets.roleRecords(projectId, 'safety_pool');
    selectionId = s.selections.create(
      { projectId, method: 'random', params: {}, summary: {} },
      pool.map((r) => ({ recordId: r.id, category: null, score: null })),
    );
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });

  it('fine-tunes with plain LoRA: the loss falls and the exported adapter generates', async () => {
    const { id, done } = await run({ method: 'plain', maxSteps: 20, batchSize: 4, lr: 3e-3, lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'k', 'v', 'o'] } });
    expect(done.error).toBeNull();
    const r = done.result as { adapterPath: string; steps: number; runDir: string };
    expect(r.steps).toBe(20);
    const metrics = readTrainMetrics(r.runDir);
    expect(metrics.map((m) => m.step)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(metrics.at(-1)!.taskLoss).toBeLessThan(metrics[0]!.taskLoss * 0.8);
    expect(existsSync(join(r.adapterPath, 'adapter_config.json'))).toBe(true);
    expect(existsSync(join(r.adapterPath, 'adapter_model.safetensors'))).toBe(true);
    const out = await runGeneration({ modelPath: stories!, adapterPath: r.adapterPath, prompt: 'Tell me about the cat.', sampling: { maxNewTokens: 12, temperature: 0 } });
    expect(out.text.trim().length).toBeGreaterThan(0);
    expect(s.jobs.get(id).state).toBe('succeeded');
  });

  it('trains with DER++ on the saved safety selection', async () => {
    const { done } = await run({ method: 'der++', selectionId, maxSteps: 4, batchSize: 2 });
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
  });

  it('resumes a cancelled run from its last checkpoint with a contiguous loss curve', async () => {
    const job = s.jobs.enqueue('train.run', { projectId, modelPath: stories, template: 'plain', method: 'replay', selectionId, maxSteps: 40, batchSize: 2, checkpointEvery: 5 }, projectId);
    const runDir = join(dir, 'runs', `train-${job.id}`);
    const deadline = Date.now() + 120_000;
    while (readTrainMetrics(runDir).length < 8 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // the frozen weights live in a file onnxruntime memory-maps while the job runs, and are removed after it
    expect(existsSync(join(runDir, 'weights', 'weights.bin'))).toBe(true);
    s.jobs.cancel(job.id);
    expect((await s.jobs.waitFor(job.id, 60_000)).state).toBe('cancelled');
    expect(existsSync(join(runDir, 'weights'))).toBe(false);
    s.jobs.resume(job.id);
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.state).toBe('succeeded');
    expect(readTrainMetrics(runDir).map((m) => m.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(existsSync(join(runDir, 'weights'))).toBe(false);
  });

  it('refuses clearly what it cannot do', async () => {
    const noSel = await run({ method: 'der', maxSteps: 2 });
    expect(noSel.done.state).toBe('failed');
    expect(noSel.done.error).toMatch(/der needs safety examples/);
    const empty = s.projects.create('no data').id;
    const j = s.jobs.enqueue('train.run', { projectId: empty, modelPath: stories, method: 'plain', maxSteps: 2 }, empty);
    const none = await s.jobs.waitFor(j.id, 60_000);
    expect(none.state).toBe('failed');
    expect(none.error).toMatch(/no task examples/);
  });
});
