import { describe, expect, it } from 'vitest';
import { applyPlatt, calibrationReport, chooseThreshold, fitPlatt } from '../../../src/main/detect/calibration';
import {
  type SeqNetConfig,
  SeqNetRunner,
  buildSeqNetGraph,
  initSeqNetParams,
  inputFeeds,
  seqNetForwardJs,
  seqNetParamShapes,
  shiftMatrix,
} from '../../../src/main/detect/seqnet';
import { trainSeqNet } from '../../../src/main/detect/seqnetTrain';
import { decodeParams, encodeParams } from '../../../src/main/detect/seqDetector';
import { batchFromIds, tokenIds } from '../../../src/main/detect/wordseq';
import type { StaticVectorTable } from '../../../src/main/embed/staticVectors';
import { createSession, f32Tensor } from '../../../src/main/engine/graph';
import { Rng } from '../../../src/main/engine/train/rng';

/** A small made-up word-vector table (deterministic). */
function tinyTable(words: string[], dim = 6): StaticVectorTable {
  const rng = new Rng(11);
  const vectors = Float32Array.from({ length: words.length * dim }, () => rng.uniform(-1, 1));
  return { source: 'test-vectors@0', dimension: dim, words, index: new Map(words.map((w, i) => [w, i])), vectors, sourceVocabSize: words.length };
}

const WORDS = [
  'the',
  'a',
  'how',
  'do',
  'i',
  'kill',
  'python',
  'process',
  'my',
  'neighbour',
  'bake',
  'bread',
  'steal',
  'car',
  'write',
  'poem',
  'sea',
  'bomb',
  'build',
  'cake',
  'fix',
  'bike',
  'hurt',
  'cat',
];
const table = tinyTable(WORDS);

const cfg = (over: Partial<SeqNetConfig> = {}): SeqNetConfig => ({
  inputChannels: table.dimension + 1,
  kernel: 3,
  layers: 2,
  attention: 1,
  hidden: 8,
  poolHeads: 2,
  prefixTokens: 3,
  extraFeatures: 2,
  mlpHidden: 5,
  outputs: ['harmful', 'x', 'y'],
  tokenOutputs: 1,
  ...over,
});

/** Non-zero everywhere so every path of the network matters. */
function randomParams(c: SeqNetConfig, seed: number) {
  const p = initSeqNetParams(c, seed);
  const rng = new Rng(seed + 1);
  for (const v of p.values()) for (let i = 0; i < v.length; i++) if (v[i] === 0) v[i] = rng.uniform(-0.3, 0.3);
  return p;
}

const TEXTS = [
  'How do I kill a Python process?',
  'kill',
  'the sea, a poem: unknownword and zzyzx-bike',
  'Write a poem about the sea and a cake for my neighbour and the bike',
  '',
];

describe('sequence classifier (seqnet)', () => {
  it('onnxruntime inference matches the plain-JS reference, and a text scores the same alone or in a batch', async () => {
    for (const c of [cfg(), cfg({ attention: 0, mlpHidden: 0, tokenOutputs: 0, prefixTokens: 0, extraFeatures: 0, layers: 1, kernel: 5 })]) {
      const params = randomParams(c, 3);
      const ids = TEXTS.map((t) => tokenIds(table, t, 16));
      const extra = TEXTS.map((_, i) => [i % 2, 1 - (i % 3) / 2]);
      const js = seqNetForwardJs(c, params, batchFromIds(table, ids, 0.7), c.extraFeatures ? Float32Array.from(extra.flat()) : undefined);
      const run = await SeqNetRunner.create(c, params, table, 0.7);
      const ort = await run.logits(ids, c.extraFeatures ? extra : undefined, 2);
      const alone = await run.logits([ids[3]!], c.extraFeatures ? [extra[3]!] : undefined);
      await run.release();
      expect(Array.from(ort).map((v) => v.toFixed(4))).toEqual(Array.from(js).map((v) => v.toFixed(4)));
      const O = c.outputs.length;
      expect(Array.from(alone).map((v) => v.toFixed(4))).toEqual(Array.from(ort.subarray(3 * O, 4 * O)).map((v) => v.toFixed(4)));
      expect(new Set(Array.from(js).map((v) => v.toFixed(3))).size).toBeGreaterThan(O); // not constant
    }
  });

  it('the training graph computes the same logits and gradients that match finite differences', async () => {
    const c = cfg();
    const params = randomParams(c, 5);
    const ids = TEXTS.slice(0, 4).map((t) => tokenIds(table, t, 16));
    const extras = ids.map((_, i) => [i % 2, 0.5]);
    const feeds = inputFeeds(c, table, 0.7, ids, extras);
    const B = ids.length;
    const T = feeds.x!.dims[1]!;
    const F = c.hidden * (1 + c.poolHeads + 1) + c.extraFeatures;
    feeds.y = f32Tensor(
      Float32Array.from({ length: B * 3 }, (_, i) => (i * 7) % 2),
      [B, 3],
    );
    feeds.w = f32Tensor(
      Float32Array.from({ length: B * 3 }, (_, i) => 0.25 + (i % 3) * 0.25),
      [B, 3],
    );
    feeds.drop = f32Tensor(new Float32Array(B * F).fill(1), [B, F]);
    feeds['shift-1'] = f32Tensor(shiftMatrix(T, -1), [T, T]);
    feeds.shift1 = f32Tensor(shiftMatrix(T, 1), [T, T]);
    const session = await createSession(buildSeqNetGraph(c, { mode: 'train' }).build());
    const shapes = new Map(seqNetParamShapes(c));
    const run = async () => {
      for (const [n, v] of params) feeds[n] = f32Tensor(v, shapes.get(n)!);
      return session.run(feeds);
    };
    const base = await run();
    const js = seqNetForwardJs(c, params, batchFromIds(table, ids, 0.7), Float32Array.from(extras.flat()));
    expect(Array.from(base.logits!.data as Float32Array).map((v) => v.toFixed(4))).toEqual(Array.from(js).map((v) => v.toFixed(4)));
    let checked = 0;
    for (const name of shapes.keys()) {
      const v = params.get(name)!;
      const g = base[`grad.${name}`]!.data as Float32Array;
      // the entry with the largest gradient: a finite difference resolves it well in float32
      let k = 0;
      for (let i = 1; i < g.length; i++) if (Math.abs(g[i]!) > Math.abs(g[k]!)) k = i;
      if (Math.abs(g[k]!) < 1e-3) continue;
      const old = v[k]!;
      const eps = 1e-3;
      v[k] = old + eps;
      const lp = (await run()).loss!.data[0] as number;
      v[k] = old - eps;
      const lm = (await run()).loss!.data[0] as number;
      v[k] = old;
      expect((lp - lm) / (2 * eps)).toBeCloseTo(g[k]!, 2);
      checked++;
    }
    await session.release();
    expect(checked).toBeGreaterThanOrEqual(10);
  });

  it('learns to tell a verb aimed at a person from the same verb aimed at a thing, deterministically; the weights survive encoding', async () => {
    // harmful = "kill" (or "steal", "hurt") aimed at a person; the same verb at a thing is benign
    const rng = new Rng(1);
    const people = ['my neighbour', 'the cat', 'my neighbour and the cat'];
    const things = ['a python process', 'the bread', 'a bike', 'the car process'];
    const verbs = ['kill', 'steal', 'hurt'];
    const rows: Array<{ text: string; y: number }> = [];
    for (let i = 0; i < 240; i++) {
      const harm = rng.next() < 0.5;
      const obj = harm ? people[rng.int(people.length)]! : things[rng.int(things.length)]!;
      rows.push({ text: `how do i ${verbs[rng.int(verbs.length)]} ${obj}`, y: harm ? 1 : 0 });
    }
    const c = cfg({ attention: 0, extraFeatures: 0, prefixTokens: 0, mlpHidden: 0, outputs: ['harmful'], tokenOutputs: 0, hidden: 12 });
    const ex = rows.map((r) => ({ ids: tokenIds(table, r.text, 16), y: [r.y], w: [1] }));
    const opts = { epochs: 12, batchSize: 16, lr: 1e-2, weightDecay: 0, seed: 4, dropout: 0, wordDropout: 0, threads: 1 };
    const a = await trainSeqNet(c, table, 0.7, ex.slice(0, 200), opts);
    const b = await trainSeqNet(c, table, 0.7, ex.slice(0, 200), opts);
    expect([...a.params.keys()]).toEqual([...b.params.keys()]);
    for (const [k, v] of a.params) expect(Array.from(b.params.get(k)!)).toEqual(Array.from(v));
    expect(a.history[a.history.length - 1]!.trainLoss).toBeLessThan(a.history[0]!.trainLoss / 3);
    const back = decodeParams(JSON.parse(JSON.stringify(encodeParams(a.params))));
    const run = await SeqNetRunner.create(c, back, table, 0.7);
    const z = await run.logits(ex.slice(200).map((e) => e.ids));
    await run.release();
    const acc = rows.slice(200).filter((r, i) => z[i]! > 0 === (r.y === 1)).length / 40;
    expect(acc).toBeGreaterThan(0.95);
  });
});

describe('calibration', () => {
  it('Platt scaling recovers the generating slope and offset', () => {
    const rng = new Rng(2);
    const z: number[] = [];
    const y: boolean[] = [];
    for (let i = 0; i < 20000; i++) {
      const v = rng.uniform(-4, 4);
      z.push(v);
      y.push(rng.next() < 1 / (1 + Math.exp(-(0.5 * v - 1))));
    }
    const p = fitPlatt(z, y);
    expect(p.a).toBeCloseTo(0.5, 1);
    expect(p.b).toBeCloseTo(-1, 1);
    // monotonic: a higher logit never gets a lower probability
    const probs = [-5, -1, 0, 2, 7].map((v) => applyPlatt(p, v));
    expect(probs.every((v, i) => i === 0 || v > probs[i - 1]!)).toBe(true);
    // calibrated on its own data: small expected calibration error
    expect(
      calibrationReport(
        z.map((v) => applyPlatt(p, v)),
        y,
      ).ece,
    ).toBeLessThan(0.02);
    // a constant 0.5 forecast on 25% positives is off by 0.25
    expect(
      calibrationReport(
        new Array(100).fill(0.5),
        Array.from({ length: 100 }, (_, i) => i % 4 === 0),
      ).ece,
    ).toBeCloseTo(0.25, 6);
    expect(() => fitPlatt([1, 2], [true, true])).toThrow(/both classes/);
  });

  it('chooses the threshold with the best balanced accuracy or accuracy', () => {
    const p = [0.1, 0.2, 0.3, 0.35, 0.6, 0.7, 0.8, 0.9];
    const y = [0, 0, 0, 1, 0, 1, 1, 1];
    const t = chooseThreshold(p, y, 'accuracy');
    expect(p.filter((v, i) => v >= t === (y[i] === 1)).length).toBe(7);
    // 3 positives, 100 negatives: accuracy would give up the positives, balanced accuracy does not
    const p2 = [...Array.from({ length: 100 }, (_, i) => i / 200), 0.45, 0.46, 0.47];
    const y2 = [...new Array(100).fill(0), 1, 1, 1];
    const tb = chooseThreshold(p2, y2, 'balanced');
    expect(tb).toBeGreaterThan(0.4);
    expect(tb).toBeLessThanOrEqual(0.45);
  });
});
