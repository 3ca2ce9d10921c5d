/**
 * Training of the sequence classifier (seqnet.ts) with the engine: the
 * training graph (forward + autodiff backward) runs in onnxruntime, AdamW and the schedule in JS.
 * Deterministic for a seed: batch order, word dropout and feature dropout come from seeded
 * generators, and each text's logits do not depend on its batch.
 */
import { createSession, f32Tensor } from '../engine/graph';
import { AdamW, lrAt } from '../engine/train/optim';
import { Rng } from '../engine/train/rng';
import type { StaticVectorTable } from '../embed/staticVectors';
import {
  SeqNetRunner,
  buildSeqNetGraph,
  featureWidth,
  initSeqNetParams,
  inputFeeds,
  seqNetParamShapes,
  shiftMatrix,
  type SeqNetConfig,
  type SeqNetParams,
} from './seqnet';

export interface SeqExample {
  ids: Int32Array;
  /** Targets (0/1), one per output. */
  y: ArrayLike<number>;
  /** Loss weight per output (0 = no label for that output). */
  w: ArrayLike<number>;
  /** Extra features (cfg.extraFeatures of them). */
  extra?: ArrayLike<number>;
}

export interface SeqNetTrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  seed: number;
  /** Feature dropout on the pooled vector. */
  dropout: number;
  /** Probability of removing each token of a training text. */
  wordDropout: number;
  warmupSteps?: number;
  threads?: number;
  /** Examples scored after each epoch; the parameters of the epoch with the lowest weighted loss on them are returned. */
  validation?: readonly SeqExample[];
  onEpoch?: (info: { epoch: number; trainLoss: number; validationLoss: number | null; seconds: number }) => void;
}

export interface SeqNetTrainResult {
  params: SeqNetParams;
  /** Epoch (1-based) whose parameters were kept. */
  bestEpoch: number;
  history: Array<{ epoch: number; trainLoss: number; validationLoss: number | null; seconds: number }>;
}

/** Length-bucketed batches: shuffled, then sorted by length within windows of 32 batches (little padding), batch order shuffled. */
function batchOrder(lengths: readonly number[], batchSize: number, rng: Rng): number[][] {
  const idx = rng.shuffle([...lengths.keys()]);
  const win = batchSize * 32;
  const batches: number[][] = [];
  for (let s = 0; s < idx.length; s += win) {
    const part = idx.slice(s, s + win).sort((a, b) => lengths[a]! - lengths[b]! || a - b);
    for (let k = 0; k < part.length; k += batchSize) batches.push(part.slice(k, k + batchSize));
  }
  return rng.shuffle(batches);
}

function dropWords(ids: Int32Array, p: number, rng: Rng): Int32Array {
  if (p <= 0 || ids.length < 2) return ids;
  const kept = ids.filter(() => rng.next() >= p);
  return kept.length ? kept : ids.subarray(0, 1);
}

export async function trainSeqNet(
  cfg: SeqNetConfig,
  table: StaticVectorTable,
  inputScale: number,
  train: readonly SeqExample[],
  o: SeqNetTrainOptions,
): Promise<SeqNetTrainResult> {
  const O = cfg.outputs.length;
  const F = featureWidth(cfg);
  const session = await createSession(buildSeqNetGraph(cfg, { mode: 'train' }).build(), { intraOpThreads: o.threads ?? 2 });
  const params = initSeqNetParams(cfg, o.seed);
  const shapes = new Map(seqNetParamShapes(cfg));
  const opt = new AdamW({ lr: o.lr, weightDecay: o.weightDecay });
  const rng = new Rng(o.seed ^ 0x5eed);
  const stepsPerEpoch = Math.ceil(train.length / o.batchSize);
  const schedule = {
    type: 'cosine' as const,
    warmupSteps: o.warmupSteps ?? Math.min(200, stepsPerEpoch),
    totalSteps: stepsPerEpoch * o.epochs,
    minLrRatio: 0.05,
  };
  const history: SeqNetTrainResult['history'] = [];
  let best: { loss: number; epoch: number; params: SeqNetParams } | null = null;
  let step = 0;
  try {
    for (let epoch = 1; epoch <= o.epochs; epoch++) {
      const t0 = performance.now();
      let lossSum = 0;
      let weightSum = 0;
      for (const bi of batchOrder(
        train.map((e) => e.ids.length),
        o.batchSize,
        rng,
      )) {
        const rows = bi.map((i) => train[i]!);
        const feeds = inputFeeds(
          cfg,
          table,
          inputScale,
          rows.map((e) => dropWords(e.ids, o.wordDropout, rng)),
          rows.map((e) => e.extra),
        );
        const B = rows.length;
        const y = new Float32Array(B * O);
        const w = new Float32Array(B * O);
        rows.forEach((e, r) => {
          for (let k = 0; k < O; k++) {
            y[r * O + k] = e.y[k]!;
            w[r * O + k] = e.w[k]! / B;
            weightSum += e.w[k]!;
          }
        });
        const drop = new Float32Array(B * F);
        const keep = 1 / (1 - o.dropout);
        for (let i = 0; i < drop.length; i++) drop[i] = rng.next() >= o.dropout ? keep : 0;
        feeds.y = f32Tensor(y, [B, O]);
        feeds.w = f32Tensor(w, [B, O]);
        feeds.drop = f32Tensor(drop, [B, F]);
        const T = feeds.x!.dims[1]!;
        for (let s = 1; s <= (cfg.kernel - 1) / 2; s++) {
          feeds[`shift${s}`] = f32Tensor(shiftMatrix(T, s), [T, T]);
          feeds[`shift${-s}`] = f32Tensor(shiftMatrix(T, -s), [T, T]);
        }
        for (const [name, v] of params) feeds[name] = f32Tensor(v, shapes.get(name)!);
        const res = await session.run(feeds);
        lossSum += (res.loss!.data as Float32Array)[0]! * B;
        const grads = new Map<string, Float32Array>();
        for (const name of params.keys()) grads.set(name, res[`grad.${name}`]!.data as Float32Array);
        opt.step(params, grads, lrAt(o.lr, step++, schedule));
      }
      const validationLoss = o.validation?.length ? await weightedLoss(cfg, params, table, inputScale, o.validation, o.threads) : null;
      const info = { epoch, trainLoss: lossSum / Math.max(1e-9, weightSum), validationLoss, seconds: (performance.now() - t0) / 1000 };
      history.push(info);
      o.onEpoch?.(info);
      const score = validationLoss ?? -epoch; // without validation: the last epoch
      if (!best || score < best.loss) best = { loss: score, epoch, params: new Map([...params].map(([k, v]) => [k, v.slice()])) };
    }
  } finally {
    await session.release();
  }
  return { params: best!.params, bestEpoch: best!.epoch, history };
}

async function weightedLoss(
  cfg: SeqNetConfig,
  params: SeqNetParams,
  table: StaticVectorTable,
  inputScale: number,
  ex: readonly SeqExample[],
  threads?: number,
): Promise<number> {
  const runner = await SeqNetRunner.create(cfg, params, table, inputScale, threads);
  try {
    const z = await runner.logits(
      ex.map((e) => e.ids),
      ex.map((e) => e.extra),
    );
    const O = cfg.outputs.length;
    let s = 0;
    let ws = 0;
    ex.forEach((e, i) => {
      for (let k = 0; k < O; k++) {
        const l = z[i * O + k]!;
        s += e.w[k]! * (Math.max(l, 0) + Math.log1p(Math.exp(-Math.abs(l))) - e.y[k]! * l);
        ws += e.w[k]!;
      }
    });
    return s / Math.max(1e-9, ws);
  } finally {
    await runner.release();
  }
}
