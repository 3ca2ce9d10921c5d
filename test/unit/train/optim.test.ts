import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AdamW, clipGradNorm, lrAt } from '../../../src/main/engine/train/optim';
import { repoRoot } from '../../helpers/shared';

describe('optimiser', () => {
  it('AdamW and clip_grad_norm_ match torch over 4 steps (changing lr)', () => {
    const ref = JSON.parse(readFileSync(join(repoRoot, 'test', 'fixtures', 'train', 'optim-reference.json'), 'utf8')) as {
      init: number[][];
      betas: [number, number];
      eps: number;
      weight_decay: number;
      max_norm: number;
      steps: { lr: number; grads: number[][]; norm: number; clipped: number[][]; params: number[][] }[];
    };
    const params = new Map(ref.init.map((p, i) => [`p${i}`, Float32Array.from(p)]));
    const opt = new AdamW({ lr: 0, betas: ref.betas, eps: ref.eps, weightDecay: ref.weight_decay });
    for (const s of ref.steps) {
      const grads = new Map(s.grads.map((g, i) => [`p${i}`, Float32Array.from(g)]));
      const norm = clipGradNorm(grads.values(), ref.max_norm);
      expect(Math.abs(norm - s.norm)).toBeLessThan(1e-5 * s.norm);
      s.clipped.forEach((c, i) => c.forEach((v, j) => expect(Math.abs(grads.get(`p${i}`)![j]! - v)).toBeLessThan(1e-6)));
      opt.step(params, grads, s.lr);
      s.params.forEach((p, i) => p.forEach((v, j) => expect(Math.abs(params.get(`p${i}`)![j]! - v)).toBeLessThan(1e-6)));
    }
    expect(opt.state.step).toBe(4);
  });

  it('schedules: linear warm-up, then cosine / linear decay to the floor', () => {
    const s = { warmupSteps: 4, totalSteps: 14, minLrRatio: 0.1 };
    expect([0, 1, 2, 3].map((k) => lrAt(1, k, { type: 'cosine', ...s }))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(lrAt(1, 4, { type: 'cosine', ...s })).toBeCloseTo(1, 12);
    expect(lrAt(1, 9, { type: 'cosine', ...s })).toBeCloseTo(0.55, 12);
    expect(lrAt(1, 14, { type: 'cosine', ...s })).toBeCloseTo(0.1, 12);
    expect(lrAt(1, 9, { type: 'linear', ...s })).toBeCloseTo(0.55, 12);
    expect(lrAt(1, 6, { type: 'linear', ...s })).toBeCloseTo(1 - 0.9 * 0.2, 12);
    expect(lrAt(2, 100, { type: 'constant', totalSteps: 10 })).toBe(2);
  });

  it('clipping leaves small gradients alone', () => {
    const g = [Float32Array.of(0.3, 0.4)];
    expect(clipGradNorm(g, 1)).toBeCloseTo(0.5, 6);
    expect(Array.from(g[0]!)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });
});
