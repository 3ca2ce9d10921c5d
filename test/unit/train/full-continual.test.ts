import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { openModel, type DecoderRuntime } from '../../../src/main/engine';
import {
  Trainer,
  agemTerm,
  derTerm,
  estimateFisher,
  ewcTerm,
  fullAnchorPenalty,
  l2spTerm,
  lwfTerm,
  recordTeacherLogits,
  Rng,
  type TeacherLogits,
  type TrainExample,
  type TrainerOptions,
  type TrainingTerm,
} from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-full-cl-'));
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

describe('full-parameter anchor penalty (EWC / L2-SP)', () => {
  it('value and gradient λ F (W − W0 + offset) against brute force and finite differences; weights without a Fisher are not anchored', () => {
    const r = new Rng(3);
    const rand = (n: number, s = 1) => Float32Array.from({ length: n }, () => r.normal() * s);
    const W0 = new Map([
      ['a', rand(12)],
      ['b', rand(5)],
    ]);
    const params = new Map([...W0].map(([k, v]) => [k, v.map((x) => x + r.normal() * 0.1)]));
    const offset = new Map([['a', rand(12, 0.01)]]);
    const fisher = new Map([['a', Float32Array.from({ length: 12 }, () => r.next())]]);
    const lam = 0.7;
    for (const F of [fisher, null]) {
      const grads = new Map([...params].map(([k, v]) => [k, new Float32Array(v.length)]));
      const P = fullAnchorPenalty(params, (n) => W0.get(n)!, lam, F, grads, offset);
      let brute = 0;
      for (const [k, W] of params) {
        if (F && !F.has(k)) continue;
        for (let i = 0; i < W.length; i++) {
          const d = W[i]! - W0.get(k)![i]! + (offset.get(k)?.[i] ?? 0);
          brute += 0.5 * lam * (F ? F.get(k)![i]! : 1) * d * d;
        }
      }
      expect(Math.abs(P - brute) / brute).toBeLessThan(1e-9);
      if (F) expect(Array.from(grads.get('b')!)).toEqual([0, 0, 0, 0, 0]);
      for (const [k, v] of params)
        for (const i of [0, v.length - 1]) {
          const orig = v[i]!;
          v[i] = orig + 1e-3;
          const up = fullAnchorPenalty(params, (n) => W0.get(n)!, lam, F, undefined, offset);
          v[i] = orig - 1e-3;
          const dn = fullAnchorPenalty(params, (n) => W0.get(n)!, lam, F, undefined, offset);
          v[i] = orig;
          const fd = (up - dn) / (Math.fround(orig + 1e-3) - Math.fround(orig - 1e-3));
          expect(Math.abs(fd - grads.get(k)![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)));
        }
    }
  });
});

/** Each term keeps the fully fine-tuned model closer to the aligned one on the safety data than plain full fine-tuning. */
describe('continual-learning terms with full-parameter training (tiny Llama)', () => {
  const model = loadHfModel(TINY);
  let aligned: DecoderRuntime;
  let safetyTeacher: TeacherLogits[];
  let alignedSafetyLogits: Float32Array[];
  const opts = {
    full: { trainable: ['attention', 'mlp'] },
    lr: 3e-3,
    schedule: { type: 'constant' },
    maxSteps: 25,
    batchSize: 3,
    threads: 1,
    seed: 2,
  } satisfies TrainerOptions;

  beforeAll(async () => {
    aligned = await openModel(model, { threads: 1, executionProvider: 'cpu' });
    safetyTeacher = await recordTeacherLogits(aligned, safety, 64); // k = vocab: the full logits
    alignedSafetyLogits = [];
    for (const e of safety) alignedSafetyLogits.push((await aligned.forward([e.ids])).logits);
  });
  afterAll(async () => aligned?.release());

  /** mean squared logit change on the safety examples after full fine-tuning with the given terms */
  async function drift(terms: TrainingTerm[], extra: Partial<TrainerOptions> = {}): Promise<{ drift: number; taskLoss: number }> {
    const tr = await Trainer.create(model, task, { ...opts, ...extra, terms });
    await tr.train();
    const taskLoss = await tr.evaluate(task);
    const rt = await openModel(tr.trainedModel(), { threads: 1, executionProvider: 'cpu' });
    let s = 0;
    let n = 0;
    for (let k = 0; k < safety.length; k++) {
      const l = (await rt.forward([safety[k]!.ids])).logits;
      const ref = alignedSafetyLogits[k]!;
      for (let i = 0; i < l.length; i++) s += (l[i]! - ref[i]!) ** 2;
      n += l.length;
    }
    await rt.release();
    await tr.release();
    return { drift: s / n, taskLoss };
  }

  let plain: { drift: number; taskLoss: number };
  beforeAll(async () => {
    plain = await drift([]);
  });

  it('plain full fine-tuning learns the task and moves the safety logits', () => {
    expect(plain.taskLoss).toBeLessThan(0.5);
    expect(plain.drift).toBeGreaterThan(0.05);
  });

  it('DER and DER++ reduce safety drift and still learn the task', async () => {
    const der = await drift([derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, batchSize: 3 })]);
    const derpp = await drift([derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, beta: 0.5, batchSize: 3, k: 16 })]);
    console.log(
      `full drift: plain ${plain.drift.toFixed(4)} (task ${plain.taskLoss.toFixed(3)}), DER ${der.drift.toFixed(4)} (task ${der.taskLoss.toFixed(3)}), DER++ ${derpp.drift.toFixed(4)} (task ${derpp.taskLoss.toFixed(3)})`,
    );
    expect(der.drift).toBeLessThan(plain.drift * 0.5);
    expect(derpp.drift).toBeLessThan(plain.drift);
    expect(der.taskLoss).toBeLessThan(1.5);
  });

  it('EWC (Fisher of the trained weights on the safety data) and L2-SP anchor to the starting weights and reduce drift', async () => {
    const tr = await Trainer.create(model, task, { ...opts, maxSteps: 1 });
    const weights = tr.trainable.map((w) => w.name);
    await tr.release();
    expect(weights.length).toBe(2 * 7);
    const fisher = await estimateFisher(model, safety, weights, { threads: 1, normalise: 'max' });
    expect(fisher.size).toBe(weights.length);
    const ewc = await drift([ewcTerm({ fisher, lambda: 200 })]);
    const l2 = await drift([l2spTerm({ lambda: 2 })]);
    console.log(
      `full drift: plain ${plain.drift.toFixed(4)}, EWC ${ewc.drift.toFixed(4)} (task ${ewc.taskLoss.toFixed(3)}), L2-SP ${l2.drift.toFixed(4)} (task ${l2.taskLoss.toFixed(3)})`,
    );
    expect(ewc.drift).toBeLessThan(plain.drift * 0.7);
    expect(l2.drift).toBeLessThan(plain.drift * 0.7);
    expect(Math.max(ewc.taskLoss, l2.taskLoss)).toBeLessThan(1.5);
  });

  it('LwF reduces drift; A-GEM projects conflicting steps and reduces the safety loss increase', async () => {
    const teacher = await recordTeacherLogits(aligned, task, 16);
    const lwf = await drift([lwfTerm({ teacher, weight: 1 })]);
    console.log(`full drift: plain ${plain.drift.toFixed(4)}, LwF ${lwf.drift.toFixed(4)} (task ${lwf.taskLoss.toFixed(3)})`);
    expect(lwf.drift).toBeLessThan(plain.drift);
    const safetyLoss = async (terms: TrainingTerm[], maxSteps = opts.maxSteps) => {
      const tr = await Trainer.create(model, task, { ...opts, maxSteps, terms });
      if (maxSteps > 0) await tr.train();
      const l = await tr.evaluate(safety);
      await tr.release();
      return l;
    };
    const before = await safetyLoss([], 1);
    const plainSafety = await safetyLoss([]);
    const agem = agemTerm({ reference: safety, batchSize: 3 });
    const agemSafety = await safetyLoss([agem]);
    console.log(
      `full safety CE: after 1 step ${before.toFixed(3)}, plain ${plainSafety.toFixed(3)}, A-GEM ${agemSafety.toFixed(3)} (${agem.projections} projections)`,
    );
    expect(agem.projections).toBeGreaterThan(0);
    expect(agemSafety - before).toBeLessThan(plainSafety - before);
  });

  it('resume is exact with DER++, EWC and A-GEM terms', async () => {
    const fisher = await estimateFisher(model, safety, ['model.layers.1.mlp.down_proj.weight', 'model.layers.0.self_attn.q_proj.weight'], {
      threads: 1,
      normalise: 'max',
    });
    const mk = (dir: string): TrainerOptions => ({
      ...opts,
      maxSteps: 6,
      checkpointDir: dir,
      terms: [
        derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, beta: 0.5, batchSize: 2, k: 8 }),
        ewcTerm({ fisher, lambda: 10 }),
        agemTerm({ reference: safety, batchSize: 2 }),
      ],
    });
    const full = await Trainer.create(model, task, mk(join(tmp, 'cl-full')));
    const a = await full.train();
    await full.release();
    const first = await Trainer.create(model, task, mk(join(tmp, 'cl-split')));
    await first.train({ shouldStop: () => first.step >= 3 });
    await first.release();
    const second = await Trainer.resume(model, task, mk(join(tmp, 'cl-split')));
    const b = await second.train();
    await second.release();
    expect(b.losses).toEqual(a.losses);
  });
});
