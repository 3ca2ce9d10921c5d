import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { openModel, type DecoderRuntime } from '../../../src/main/engine';
import { retypeGraph } from '../../../src/main/engine/autodiff';
import { createSession, ort } from '../../../src/main/engine/graph';
import {
  Trainer,
  agemProject,
  agemTerm,
  anchorPenalty,
  buildTrainGraph,
  derTerm,
  distillFeeds,
  estimateFisher,
  ewcTerm,
  initLoraParams,
  l2spTerm,
  lwfTerm,
  makeBatch,
  mixReplay,
  recordTeacherLogits,
  saveTeacherLogits,
  loadTeacherLogits,
  saveFisher,
  loadFisher,
  resolveLoraTargets,
  Rng,
  topKWithLse,
  type TeacherLogits,
  type TrainExample,
  type TrainerOptions,
  type TrainingTerm,
} from '../../../src/main/engine/train';
import { repoRoot } from '../../helpers/shared';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-cl-'));
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

describe('pure continual-learning pieces', () => {
  it('mixReplay: ratio or count, seeded, with replacement only past the replay size', () => {
    const rep = Array.from({ length: 5 }, (_, i) => ({ ids: [1, 100 + i] }));
    const t = Array.from({ length: 20 }, (_, i) => ({ ids: [1, i] }));
    const a = mixReplay(t, rep, { ratio: 0.1, seed: 3 });
    expect(a.examples).toHaveLength(22);
    expect(a.isReplay.filter(Boolean)).toHaveLength(2);
    expect(mixReplay(t, rep, { ratio: 0.1, seed: 3 })).toEqual(a);
    const b = mixReplay(t, rep, { count: 5, seed: 1 });
    expect(new Set(b.examples.slice(20).map((e) => e.ids[1]))).toEqual(new Set([100, 101, 102, 103, 104]));
    expect(mixReplay(t, rep, { count: 12 }).examples).toHaveLength(32);
    expect(() => mixReplay(t, rep, { count: 1, ratio: 0.5 })).toThrow(/exactly one/);
  });

  it('A-GEM projection removes the conflicting component only', () => {
    const g = [Float32Array.of(1, 0), Float32Array.of(0)];
    const ref = [Float32Array.of(-1, 1), Float32Array.of(0)];
    const r = agemProject(g, ref);
    expect(r.projected).toBe(true);
    expect(r.dot).toBe(-1);
    expect(Array.from(g[0]!)).toEqual([0.5, 0.5]);
    expect(g[0]![0]! * ref[0]![0]! + g[0]![1]! * ref[0]![1]!).toBeCloseTo(0, 7);
    const h = [Float32Array.of(1, 1)];
    expect(agemProject(h, [Float32Array.of(1, 0)]).projected).toBe(false);
    expect(Array.from(h[0]!)).toEqual([1, 1]);
  });

  it('top-k with log-sum-exp equals a full sort', () => {
    const r = new Rng(5);
    for (let trial = 0; trial < 20; trial++) {
      const row = Array.from({ length: 37 }, () => Math.round(r.normal() * 4 * 8) / 8); // ties happen
      const k = 1 + r.int(10);
      const got = topKWithLse(row, k);
      const sorted = row
        .map((v, i) => ({ v, i }))
        .sort((a, b) => b.v - a.v || a.i - b.i)
        .slice(0, k);
      expect(got.idx).toEqual(sorted.map((s) => s.i));
      expect(got.val).toEqual(sorted.map((s) => s.v));
      expect(got.lse).toBeCloseTo(Math.log(row.reduce((s, v) => s + Math.exp(v), 0)), 10);
    }
  });

  it('EWC / L2-SP penalty: value and LoRA gradients against brute force and finite differences', () => {
    const model = loadHfModel(TINY);
    const targets = resolveLoraTargets(model.config, { rank: 3, alpha: 6, targetModules: ['q', 'down'], layers: [1] });
    const params = initLoraParams(targets, new Rng(2), { bStd: 0.3 });
    const r = new Rng(9);
    const fisher = new Map(targets.map((t) => [t.weight, Float32Array.from({ length: t.inFeatures * t.outFeatures }, () => r.next())]));
    const offset = new Map(targets.map((t) => [t.weight, Float32Array.from({ length: t.inFeatures * t.outFeatures }, () => r.normal() * 0.01)]));
    for (const F of [fisher, null]) {
      const grads = new Map([...params.tensors].map(([k, v]) => [k, new Float32Array(v.length)]));
      const lam = 0.7;
      const P = anchorPenalty(targets, params, lam, F, grads, offset);
      // brute force value
      let brute = 0;
      for (const t of targets) {
        const A = params.tensors.get(`${t.weight}.lora_A`)!;
        const B = params.tensors.get(`${t.weight}.lora_B`)!;
        for (let o = 0; o < t.outFeatures; o++)
          for (let i = 0; i < t.inFeatures; i++) {
            let d = offset.get(t.weight)![o * t.inFeatures + i]!;
            for (let k = 0; k < t.rank; k++) d += t.scale * B[o * t.rank + k]! * A[k * t.inFeatures + i]!;
            brute += 0.5 * lam * (F ? F.get(t.weight)![o * t.inFeatures + i]! : 1) * d * d;
          }
      }
      expect(Math.abs(P - brute) / brute).toBeLessThan(1e-9);
      // finite differences on a few entries of each tensor (float32 params: eps 1e-3)
      for (const [name, v] of params.tensors) {
        for (const i of [0, Math.floor(v.length / 2), v.length - 1]) {
          const orig = v[i]!;
          v[i] = orig + 1e-3;
          const up = anchorPenalty(targets, params, lam, F, undefined, offset);
          v[i] = orig - 1e-3;
          const dn = anchorPenalty(targets, params, lam, F, undefined, offset);
          v[i] = orig;
          const fd = (up - dn) / (Math.fround(orig + 1e-3) - Math.fround(orig - 1e-3));
          expect(Math.abs(fd - grads.get(name)![i]!)).toBeLessThan(1e-3 * Math.max(1, Math.abs(fd)));
        }
      }
    }
  });
});

describe('distillation in the training graph', () => {
  for (const mode of ['mse', 'kl'] as const) {
    it(`${mode}: gradients of CE + distillation match central differences (float64)`, async () => {
      const model = loadHfModel(TINY);
      const targets = resolveLoraTargets(model.config, { rank: 2, alpha: 4, targetModules: ['v', 'up'] });
      const params = initLoraParams(targets, new Rng(4), { bStd: 0.2 });
      const K = 4;
      const tg = buildTrainGraph(model.config, model.weights, { lora: targets, distill: { k: K, mode } });
      const g64 = retypeGraph(tg.graph);
      const sess = await createSession(g64.build(), { intraOpThreads: 1 });
      const batch = makeBatch([safety[0]!, safety[1]!]);
      const r = new Rng(1);
      const teachers: TeacherLogits[] = [safety[0]!, safety[1]!].map((e) => {
        const n = e.ids.length;
        const t: TeacherLogits = { k: K, length: n, idx: new Int32Array(n * K), val: new Float32Array(n * K), lse: new Float32Array(n) };
        for (let p = 0; p < n; p++) {
          const row = Array.from({ length: 64 }, () => r.normal() * 2);
          const tk = topKWithLse(row, K);
          t.idx.set(tk.idx, p * K);
          t.val.set(tk.val, p * K);
          t.lse[p] = tk.lse;
        }
        return t;
      });
      const S = batch.seq;
      const feeds0 = distillFeeds(batch, teachers, { k: K, mode }, (b, t) => (batch.labelMask[b * S + t] ? 0.3 : 0));
      const dims = [batch.batch, S];
      const f64 = (a: ArrayLike<number>) => Float64Array.from(a);
      const feeds = (over?: [string, Float64Array]) => {
        const f: Record<string, ort.Tensor> = {
          input_ids: new ort.Tensor('int64', batch.inputIds, dims),
          attention_mask: new ort.Tensor('int64', batch.attentionMask, dims),
          position_ids: new ort.Tensor('int64', batch.positionIds, dims),
          labels: new ort.Tensor('int64', batch.labels, dims),
          label_weights: new ort.Tensor('float64', f64(batch.labelMask.map((m) => m / batch.tokens)), dims),
          distill_idx: new ort.Tensor('int64', feeds0.idx, [...dims, K]),
          distill_val: new ort.Tensor('float64', f64(feeds0.val), [...dims, K]),
          distill_weights: new ort.Tensor('float64', f64(feeds0.weights), dims),
        };
        for (const p of tg.params)
          f[p] = new ort.Tensor('float64', over && over[0] === p ? over[1] : f64(params.tensors.get(p)!), g64.value(p).shape as number[]);
        return f;
      };
      const base = await sess.run(feeds());
      expect(Number(base['distill']!.data[0])).toBeGreaterThan(0);
      let worst = 0;
      for (const p of tg.params) {
        const v = f64(params.tensors.get(p)!);
        const an = base[`grad.${p}`]!.data as Float64Array;
        let num = 0;
        let den = 1e-4;
        for (const i of [0, Math.floor(v.length / 3), v.length - 1]) {
          const c = v.slice();
          c[i] = v[i]! + 1e-6;
          const lp = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          c[i] = v[i]! - 1e-6;
          const lm = Number((await sess.run(feeds([p, c])))['loss']!.data[0]);
          const nd = (lp - lm) / 2e-6;
          num = Math.max(num, Math.abs(nd - an[i]!));
          den = Math.max(den, Math.abs(nd));
        }
        worst = Math.max(worst, num / den);
      }
      await sess.release();
      expect(worst).toBeLessThan(1e-6);
    });
  }
});

/** Training with each term keeps the model closer to the aligned one on the safety data than plain fine-tuning. */
describe('continual-learning terms in training (tiny Llama)', () => {
  const model = loadHfModel(TINY);
  let aligned: DecoderRuntime;
  let safetyTeacher: TeacherLogits[];
  let alignedSafetyLogits: Float32Array[];
  const opts = {
    lora: { rank: 4, alpha: 8, targetModules: ['q', 'v', 'o', 'up', 'down'] },
    lr: 2e-2,
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

  /** mean squared logit change on the safety examples, after training with the given terms */
  async function drift(terms: TrainingTerm[], data: TrainExample[] = task): Promise<{ drift: number; taskLoss: number; trainer: Trainer }> {
    const tr = await Trainer.create(model, data, { ...opts, terms });
    await tr.train();
    const taskLoss = await tr.evaluate(task);
    const dir = join(tmp, `a-${terms.map((t) => t.name).join('-') || 'plain'}-${data.length}`);
    tr.exportAdapter(dir);
    await tr.release();
    const rt = await openModel(model, { lora: dir, threads: 1, executionProvider: 'cpu' });
    let s = 0;
    let n = 0;
    for (let k = 0; k < safety.length; k++) {
      const l = (await rt.forward([safety[k]!.ids])).logits;
      const ref = alignedSafetyLogits[k]!;
      for (let i = 0; i < l.length; i++) s += (l[i]! - ref[i]!) ** 2;
      n += l.length;
    }
    await rt.release();
    return { drift: s / n, taskLoss, trainer: tr };
  }

  let plain: { drift: number; taskLoss: number };
  beforeAll(async () => {
    plain = await drift([]);
  });

  it('plain fine-tuning learns the task and moves the safety logits', () => {
    expect(plain.taskLoss).toBeLessThan(1);
    expect(plain.drift).toBeGreaterThan(0.05);
  });

  it('teacher records hold the aligned logits (top-k = full row here) and round-trip through a file', () => {
    const path = join(tmp, 'teacher.safetensors');
    saveTeacherLogits(path, safetyTeacher);
    const back = loadTeacherLogits(path);
    expect(back).toHaveLength(safetyTeacher.length);
    back.forEach((b, i) => {
      const a = safetyTeacher[i]!;
      expect([b.k, b.length]).toEqual([a.k, a.length]);
      expect(Array.from(b.idx)).toEqual(Array.from(a.idx));
      expect(Array.from(b.val)).toEqual(Array.from(a.val));
      expect(Array.from(b.lse)).toEqual(Array.from(a.lse));
    });
    const t = safetyTeacher[0]!;
    const row0 = alignedSafetyLogits[0]!.subarray(0, 64);
    expect(t.val[0]).toBe(Math.max(...row0));
    expect(row0[t.idx[0]!]).toBe(t.val[0]);
  });

  it('replay mixing keeps the safety responses learned (safety CE below plain fine-tuning)', async () => {
    const mix = mixReplay(task, safety, { count: 3, seed: 1 }).examples;
    const plainTr = await Trainer.create(model, task, opts);
    await plainTr.train();
    const safePlain = await plainTr.evaluate(safety);
    await plainTr.release();
    const tr = await Trainer.create(model, mix, opts);
    await tr.train();
    const safeReplay = await tr.evaluate(safety);
    const taskLoss = await tr.evaluate(task);
    await tr.release();
    console.log(`safety CE: plain ${safePlain.toFixed(3)}, replay ${safeReplay.toFixed(3)} (task ${taskLoss.toFixed(3)})`);
    expect(safeReplay).toBeLessThan(safePlain * 0.5);
    expect(taskLoss).toBeLessThan(1.5);
  });

  it('DER and DER++ reduce safety drift and still learn the task', async () => {
    const der = await drift([derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, batchSize: 3 })]);
    const derpp = await drift([derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, beta: 0.5, batchSize: 3, k: 16 })]);
    console.log(
      `drift: plain ${plain.drift.toFixed(4)}, DER ${der.drift.toFixed(4)} (task ${der.taskLoss.toFixed(3)}), DER++ top-16 ${derpp.drift.toFixed(4)} (task ${derpp.taskLoss.toFixed(3)})`,
    );
    expect(der.drift).toBeLessThan(plain.drift * 0.5);
    expect(derpp.drift).toBeLessThan(plain.drift);
    expect(der.taskLoss).toBeLessThan(1.5);
  });

  it('LwF keeps the task-input outputs near the aligned model', async () => {
    const teacher = await recordTeacherLogits(aligned, task, 16);
    const r = await drift([lwfTerm({ teacher, weight: 1 })]);
    console.log(`drift: plain ${plain.drift.toFixed(4)}, LwF ${r.drift.toFixed(4)} (task ${r.taskLoss.toFixed(3)})`);
    expect(r.drift).toBeLessThan(plain.drift);
  });

  it('EWC (Fisher on the safety data) and L2-SP reduce drift', async () => {
    const targets = resolveLoraTargets(model.config, opts.lora);
    const fisher = await estimateFisher(
      model,
      safety,
      targets.map((t) => t.weight),
      { threads: 1, normalise: 'max' },
    );
    expect(fisher.size).toBe(targets.length);
    const fpath = join(tmp, 'fisher.safetensors');
    saveFisher(fpath, fisher, (n) => model.weights.shape(n));
    const back = loadFisher(fpath);
    for (const [k, v] of fisher) expect(Array.from(back.get(k)!)).toEqual(Array.from(v));
    for (const f of fisher.values()) expect(f.some((x) => x > 0)).toBe(true);
    const ewc = await drift([ewcTerm({ fisher, lambda: 50 })]);
    const l2 = await drift([l2spTerm({ lambda: 5 })]);
    console.log(`drift: plain ${plain.drift.toFixed(4)}, EWC ${ewc.drift.toFixed(4)}, L2-SP ${l2.drift.toFixed(4)}`);
    expect(ewc.drift).toBeLessThan(plain.drift);
    expect(l2.drift).toBeLessThan(plain.drift);
  });

  it('A-GEM projects conflicting steps and reduces the safety loss increase', async () => {
    const tr0 = await Trainer.create(model, task, { ...opts, maxSteps: 1 });
    const safeBefore = await tr0.evaluate(safety);
    await tr0.release();
    const plainTr = await Trainer.create(model, task, opts);
    await plainTr.train();
    const safePlain = await plainTr.evaluate(safety);
    await plainTr.release();
    const term = agemTerm({ reference: safety, batchSize: 3 });
    const tr = await Trainer.create(model, task, { ...opts, terms: [term] });
    await tr.train();
    const safeAgem = await tr.evaluate(safety);
    await tr.release();
    console.log(`safety CE: before ${safeBefore.toFixed(3)}, plain ${safePlain.toFixed(3)}, A-GEM ${safeAgem.toFixed(3)} (${term.projections} projections)`);
    expect(term.projections).toBeGreaterThan(0);
    expect(safeAgem - safeBefore).toBeLessThan(safePlain - safeBefore);
  });

  it('resume is exact with DER++ and A-GEM terms (buffer sampling uses the checkpointed RNG)', async () => {
    const mk = (dir: string) => ({
      ...opts,
      maxSteps: 6,
      lora: { ...opts.lora, dropout: 0.1 },
      checkpointDir: dir,
      terms: [derTerm({ buffer: safety, teacher: safetyTeacher, alpha: 1, beta: 0.5, batchSize: 2, k: 8 }), agemTerm({ reference: safety, batchSize: 2 })],
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
