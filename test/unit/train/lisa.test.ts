/**
 * Lisa (src/main/engine/train/continual/lisa.ts) on the tiny Llama fixture with LoRA: the phases
 * switch at the stated steps (alignment steps draw no task examples), the proximal pull keeps the
 * weights after a task phase closer to the anchor (the weights the alignment phase ended with) than
 * ρ = 0 does, and a run stopped mid-phase resumes to the same weights as an uninterrupted one.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { Trainer, lisaPhase, lisaTerm, type StepMetrics, type TrainerOptions, type TrainExample } from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-lisa-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const task: TrainExample[] = [
  { ids: [1, 10, 11, 12, 20, 21, 22, 23, 24, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1] },
  { ids: [1, 13, 14, 15, 30, 31, 32, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1] },
  { ids: [1, 16, 17, 18, 40, 41, 42, 43, 44, 45, 46, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1] },
];
const safety: TrainExample[] = [
  { ids: [1, 50, 51, 52, 53, 54, 55, 2], lossMask: [0, 0, 0, 1, 1, 1, 1, 1] },
  { ids: [1, 56, 57, 58, 59, 60, 2], lossMask: [0, 0, 0, 1, 1, 1, 1] },
  { ids: [1, 61, 62, 3, 4, 5, 6, 7, 2], lossMask: [0, 0, 0, 1, 1, 1, 1, 1, 1] },
];
const model = loadHfModel(TINY);
const opts = {
  lora: { rank: 4, alpha: 8, targetModules: ['q', 'v', 'o', 'up', 'down'] },
  lr: 2e-2,
  schedule: { type: 'constant' },
  batchSize: 2,
  threads: 1,
  seed: 4,
} satisfies Omit<TrainerOptions, 'maxSteps'>;
const phases = { alignSteps: 2, userSteps: 4 };

/** Trains with Lisa at `rho`; the adapter's tensors after every step (copies) and the step metrics. */
async function lisaRun(rho: number, maxSteps: number) {
  const term = lisaTerm({ alignment: safety, ...phases, rho, batchSize: 2 });
  const tr = await Trainer.create(model, task, { ...opts, maxSteps, terms: [term] });
  const after: Map<string, Float32Array>[] = [];
  const metrics: StepMetrics[] = [];
  try {
    await tr.train({
      onProgress: (m) => {
        metrics.push(m);
        after.push(new Map([...tr.adapter().tensors].map(([k, v]) => [k, Float32Array.from(v)])));
      },
    });
  } finally {
    await tr.release();
  }
  return { after, metrics, cursor: tr.cursor, epoch: tr.epoch };
}

const distance = (a: Map<string, Float32Array>, b: Map<string, Float32Array>) => {
  let s = 0;
  for (const [k, x] of a) {
    const y = b.get(k)!;
    for (let i = 0; i < x.length; i++) s += (x[i]! - y[i]!) ** 2;
  }
  return Math.sqrt(s);
};

describe('Lisa', () => {
  it('phases: each cycle is alignSteps on the safety examples, then userSteps on the task data', () => {
    expect(Array.from({ length: 13 }, (_, s) => lisaPhase(s, phases))).toEqual([
      ...['alignment', 'alignment', 'user', 'user', 'user', 'user'],
      ...['alignment', 'alignment', 'user', 'user', 'user', 'user'],
      'alignment',
    ]);
    expect(() => lisaTerm({ alignment: [], ...phases, rho: 1 })).toThrow(/alignment data is empty/);
    expect(() => lisaTerm({ alignment: safety, alignSteps: 0, userSteps: 3, rho: 1 })).toThrow(/phase lengths/);
  });

  it('switches phase at the stated steps: alignment steps draw no task example and train on the safety batch', async () => {
    const { metrics, cursor, epoch } = await lisaRun(1, 8);
    const align = [1, 2, 7, 8];
    for (const m of metrics) {
      if (align.includes(m.step)) {
        expect(m.tokens, `step ${m.step}`).toBe(0);
        expect(m.taskLoss).toBe(0);
        expect(m.terms.lisa).toBeGreaterThan(0); // the safety batch's cross-entropy (+ the pull)
      } else {
        expect(m.tokens, `step ${m.step}`).toBeGreaterThan(0);
        expect(m.taskLoss).toBeGreaterThan(0);
      }
    }
    // four task steps of 2 examples = 8 task examples drawn: 2 epochs of 3 and 2 into the third
    expect(epoch * task.length + cursor).toBe(8);
  });

  it('with ρ > 0 the weights after a task phase are closer to the anchor (where the alignment phase ended) than with ρ = 0', async () => {
    const free = await lisaRun(0, 6);
    const pulled = await lisaRun(5, 6);
    // step 1 is the same in both (the pull is 0 at the first phase's start); steps 1–2 align, steps 3–6 train on the task
    expect(distance(free.after[0]!, pulled.after[0]!)).toBe(0);
    const freeMove = distance(free.after[5]!, free.after[1]!);
    const pulledMove = distance(pulled.after[5]!, pulled.after[1]!);
    expect(freeMove).toBeGreaterThan(0);
    console.log(`Lisa on tiny-llama: task phase moved the adapter ${freeMove.toFixed(4)} from the anchor with ρ = 0, ${pulledMove.toFixed(4)} with ρ = 5`);
    expect(pulledMove).toBeLessThan(0.8 * freeMove);
    // the pull is recorded in the term's loss during the task phase (ρ/2 ‖w − anchor‖² > 0 after its first step)
    expect(pulled.metrics[3]!.terms.lisa).toBeGreaterThan(0);
    expect(free.metrics[3]!.terms.lisa).toBe(0);
  });

  it('resumes from a checkpoint mid-phase to the same weights (the anchor is saved with it)', async () => {
    const whole = await lisaRun(2, 7);
    const dir = join(tmp, 'ck');
    const term = () => lisaTerm({ alignment: safety, ...phases, rho: 2, batchSize: 2 });
    const first = await Trainer.create(model, task, { ...opts, maxSteps: 7, terms: [term()], checkpointDir: dir });
    let n = 0;
    await first.train({ shouldStop: () => n++ >= 4 });
    expect(first.step).toBe(4);
    await first.release();
    const resumed = await Trainer.resume(model, task, { ...opts, maxSteps: 7, terms: [term()], checkpointDir: dir });
    try {
      await resumed.train();
      const end = resumed.adapter().tensors;
      expect(distance(end, whole.after[6]!)).toBeLessThan(1e-5);
    } finally {
      await resumed.release();
    }
  });
});
