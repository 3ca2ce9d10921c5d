/**
 * The merge's fast kernels against plain per-entry formulas: TIES's two-model sign election (done on
 * float bits, with one factor per agreement pattern) on the cases where a sign slip would show —
 * task vectors that cancel exactly, zeros and −0, a larger negative against a smaller positive,
 * weights whose agreeing sum is 0 — with and without normalize, and on random fp16-quantised data
 * against the general n-model path (a third model equal to the base never agrees, so it changes
 * nothing), in whole tensors and in odd chunks.
 */
import { describe, expect, it } from 'vitest';
import { ties } from '../../../src/main/merge/ties';
import type { TensorParams } from '../../../src/main/merge/params';
import type { TensorInputs } from '../../../src/main/merge/types';
import { mulberry32 } from '../../../src/main/util/prng';

function inputs(base: Float32Array, models: Float32Array[], chunk: number): TensorInputs {
  const n = base.length;
  return {
    name: 'model.layers.0.mlp.up_proj.weight',
    numel: n,
    count: models.length,
    forEachChunk(fn) {
      for (let s = 0; s < n; s += chunk)
        fn(
          s,
          base.slice(s, s + chunk),
          models.map((m) => m.slice(s, s + chunk)),
        );
    },
    mask: () => new Uint8Array(chunk),
  };
}

function runTies(base: Float32Array, models: Float32Array[], params: TensorParams, chunk = base.length): Float32Array {
  const out = new Float32Array(base.length);
  ties.merge(inputs(base, models, chunk), params, (s, v) => out.set(v, s), 0);
  return out;
}

/** mergekit's TIES without trimming, entry by entry, in double precision. */
function plainTies(base: Float32Array, models: Float32Array[], weights: number[], normalize: boolean, lambda: number): Float64Array {
  return Float64Array.from(base, (b, j) => {
    const tv = models.map((m, i) => Math.fround(Math.fround(m[j]! - b) * weights[i]!));
    const positive = tv.reduce((a, v) => a + v, 0) >= 0;
    let mixed = 0;
    let div = 0;
    tv.forEach((v, i) => {
      if (positive ? v > 0 : v < 0) {
        mixed += v;
        div += weights[i]!;
      }
    });
    return b + (normalize ? mixed / (div === 0 ? 1 : div) : mixed) * lambda;
  });
}

const params = (weights: number[], normalize: boolean, lambda: number, density = 1): TensorParams => ({
  global: { normalize, rescale: false, lambda },
  perModel: weights.map((weight) => ({ weight, density })),
});

describe('two-model TIES on float bits', () => {
  // [base, model a, model c]: task vectors a − base and c − base
  const rows: [number, number, number][] = [
    [0.5, 0.75, 0.25], // +0.25 and −0.25 cancel: + is elected, a agrees alone
    [0.5, 0.25, 0.75], // the same the other way round: c agrees alone
    [0.5, 0.25, 0.25], // both −0.25: both agree
    [0.5, 0.5, 0.375], // 0 and −0.125: c alone
    [0, -0, 0], // −0 and 0: nothing agrees, the base is kept
    [0.5, 0.5, 0.5], // both zero
    [0.5, 1, -0.25], // +0.5 against −0.75: − wins, c alone
    [0.5, 0.25, 1.5], // −0.25 against +1: + wins, c alone
    [1, 2, 0], // +1 and −1 exactly: + elected
  ];
  const base = Float32Array.from(rows, (r) => r[0]);
  const a = Float32Array.from(rows, (r) => r[1]);
  const c = Float32Array.from(rows, (r) => r[2]);

  for (const [weights, normalize, lambda] of [
    [[1, 1], true, 1],
    [[1, 0.5], true, 1],
    [[1, 0.5], false, 0.7],
    [[1, -1], true, 1], // agreeing weights that sum to 0: the divisor becomes 1
    [[-0.5, 2], true, 1.3],
  ] as [number[], boolean, number][])
    it(`weights ${weights.join(', ')}, normalize ${normalize}, lambda ${lambda}: equals the entry-by-entry formula`, () => {
      const got = runTies(base, [a, c], params(weights, normalize, lambda));
      const want = plainTies(base, [a, c], weights, normalize, lambda);
      rows.forEach((r, j) => expect(got[j], `row ${j} (${r.join(', ')})`).toBeCloseTo(want[j]!, 6));
    });

  it('equals the general path on fp16-quantised random data, trimmed or not, whole and in odd chunks', () => {
    const n = 200_003;
    const rand = mulberry32(11);
    const q = (v: number) => Math.round(v * 4096) / 4096; // few distinct values: many ties and exact cancellations
    const b = Float32Array.from({ length: n }, () => q((rand() - 0.5) * 0.1));
    const x = b.map((v) => v + q((rand() - 0.5) * 0.01));
    const y = b.map((v) => v + q((rand() - 0.5) * 0.01));
    for (const density of [1, 0.5])
      for (const chunk of [n, 65_537]) {
        const p2 = params([1, 0.5], true, 1, density);
        const two = runTies(b, [x, y], p2, chunk);
        // a third model equal to the base: its task vector is 0, it never agrees and trims to nothing
        const three = runTies(b, [x, y, b.slice()], { ...p2, perModel: [...p2.perModel, { weight: 1, density }] }, chunk);
        let worst = 0;
        for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(two[j]! - three[j]!));
        expect(worst, `density ${density}, chunk ${chunk}`).toBeLessThan(1e-7);
      }
  });
});
