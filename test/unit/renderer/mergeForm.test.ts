/**
 * The Merge tab's form and the sweep curve's data (pure): the form's state made into a merge config
 * with an error per field, a config (an imported YAML) back into form state, the α list of "Merge
 * back", and the curve's points against the task score or α.
 */
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/shared/domain';
import type { Rate } from '../../../src/shared/eval';
import type { MergeConfig, MergeSweep, MergeSweepPoint } from '../../../src/shared/merge';
import type { RegisteredModel } from '../../../src/shared/models';
import { sweepCurve, xDomain } from '../../../src/renderer/src/project/compare/sweepCurve';
import {
  buildMergeConfig,
  initialMergeState,
  MERGE_TABLE,
  modelChoices,
  newModelState,
  parseAlphas,
  refKey,
  stateFromConfig,
} from '../../../src/renderer/src/project/merge/mergeForm';

const base = { modelPath: '/w/models/base.gguf' };
const tuned = { modelPath: '/w/models/base.gguf', adapterPath: '/w/runs/train-3/adapter' };

describe('the Merge tab form', () => {
  it('offers the Models list and each finished training run’s adapter on its base', () => {
    const models = [{ id: 1, path: base.modelPath, info: { name: 'llama' } }] as unknown as RegisteredModel[];
    const jobs = [
      { id: 3, type: 'train.run', state: 'succeeded', params: { modelPath: base.modelPath }, result: { adapterPath: tuned.adapterPath } },
      { id: 4, type: 'train.run', state: 'failed', params: { modelPath: base.modelPath }, result: null },
      { id: 5, type: 'eval.run', state: 'succeeded', params: {}, result: {} },
    ] as unknown as Job[];
    expect(modelChoices(models, jobs).map((c) => [c.label, c.ref])).toEqual([
      ['llama (base.gguf)', base],
      ['Training run #3: base.gguf + its adapter', tuned],
    ]);
  });

  it('makes the merge config of α = 0.5 task arithmetic of a run’s adapter onto its base', () => {
    const state = {
      ...initialMergeState(),
      base: refKey(base),
      models: [newModelState('task_arithmetic', refKey(tuned))],
      global: { task_arithmetic: { lambda: '0.5' } },
      dtype: 'float16' as const,
    };
    expect(buildMergeConfig(state)).toEqual({
      config: {
        method: 'task_arithmetic',
        base,
        models: [{ model: tuned, parameters: { weight: 1, density: 1 } }],
        parameters: { normalize: false, rescale: false, lambda: 0.5, int8_mask: false },
        dtype: 'float16',
      },
      errors: {},
      problems: [],
    });
  });

  it('names each field that is missing or out of range, and the problems of the whole merge', () => {
    const state = { ...initialMergeState(), models: [{ model: '', params: { weight: 'x', density: '0' } }], global: { task_arithmetic: { lambda: '' } } };
    const built = buildMergeConfig(state);
    expect(built.config).toBeNull();
    expect(built.errors).toEqual({
      base: 'Task arithmetic needs a base model',
      'models.0.model': 'choose a model',
      'models.0.weight': 'must be a number',
      'models.0.density': 'must be 0 < x ≤ 1',
      lambda: 'enter a value',
    });
    // SLERP merges exactly two models: the base and one other
    const slerp = {
      ...initialMergeState(),
      method: 'slerp' as const,
      base: refKey(base),
      models: [newModelState('slerp', refKey(tuned)), newModelState('slerp', refKey({ modelPath: '/m/c.gguf' }))],
      global: { slerp: { t: '0.5' } },
    };
    expect(buildMergeConfig(slerp).problems).toEqual(['models: slerp merges exactly 2 models (the base and one other); got 3']);
  });

  it('every method’s parameters come from the merge table with their defaults', () => {
    expect(Object.keys(MERGE_TABLE.ties.params.shape)).toEqual(['normalize', 'rescale', 'lambda', 'int8_mask']);
    expect(Object.keys(MERGE_TABLE.dare_ties.params.shape)).toContain('seed');
    expect(Object.keys(MERGE_TABLE.magmax.perModel.shape)).toEqual([]);
    expect(newModelState('linear').params).toEqual({ weight: '1' });
  });

  it('fills the form from an imported config, and refuses a gradient by name', () => {
    const config: MergeConfig = {
      method: 'ties',
      base,
      models: [
        { model: base, parameters: {} },
        { model: tuned, parameters: { weight: 0.7 } },
      ],
      parameters: { density: 0.2, lambda: 1.5 },
      dtype: 'bfloat16',
    };
    const state = stateFromConfig(config, { format: 'gguf', name: 'kept' });
    expect(state).toMatchObject({ method: 'ties', base: refKey(base), dtype: 'bfloat16', format: 'gguf', name: 'kept', global: { ties: { lambda: '1.5' } } });
    // the base listed among the models (as mergekit configs do) is the base row, not a model row
    expect(state.models).toEqual([{ model: refKey(tuned), params: { weight: '0.7', density: '0.2' } }]);
    expect(buildMergeConfig(state).config).toMatchObject({
      method: 'ties',
      base,
      models: [{ model: tuned, parameters: { weight: 0.7, density: 0.2 } }],
      parameters: { lambda: 1.5 },
    });
    expect(() => stateFromConfig({ ...config, parameters: { lambda: [0, 1] } }, state)).toThrow('parameters.lambda is a gradient or a list of conditions');
  });

  it('reads the α list of Merge back', () => {
    expect(parseAlphas('0, 0.25, 0.5, 0.75, 1')).toEqual({ alphas: [0, 0.25, 0.5, 0.75, 1] });
    expect(parseAlphas('-0.5;2')).toEqual({ alphas: [-0.5, 2] });
    expect(parseAlphas('')).toEqual({ error: 'list at least one α' });
    expect(parseAlphas('0, a')).toEqual({ error: 'a is not a number' });
    expect(parseAlphas('0.5 0.5')).toEqual({ error: '0.5 is listed twice' });
    expect(parseAlphas('11')).toEqual({ error: '11: α must be in [-10, 10]' });
  });
});

const rate = (k: number, n: number): Rate => ({
  k,
  n,
  rate: n ? k / n : null,
  low: n ? Math.max(0, k / n - 0.1) : null,
  high: n ? Math.min(1, k / n + 0.1) : null,
});
const none: Rate = { k: 0, n: 0, rate: null, low: null, high: null };

function sweepOf(points: { alpha: number; summary: MergeSweepPoint['summary'] }[]): MergeSweep {
  return {
    points: points.map((p) => ({
      ...p,
      modelPath: '',
      stage: p.summary ? 'done' : 'eval',
      state: p.summary ? 'succeeded' : 'running',
      mergeJobId: 1,
      inspectJobId: 2,
      evalJobId: 3,
      modelId: 1,
      evalRunId: p.summary ? 1 : null,
    })),
  } as MergeSweep;
}

describe('the sweep curve', () => {
  it('places each evaluated α by its task score, in α order, with the rates’ intervals', () => {
    const curve = sweepCurve(
      sweepOf([
        { alpha: 1, summary: { judge: 'k', attackSuccess: rate(4, 4), refusal: rate(0, 4), overRefusal: rate(0, 4), task: rate(3, 4) } },
        { alpha: 0, summary: { judge: 'k', attackSuccess: rate(2, 4), refusal: rate(2, 4), overRefusal: rate(1, 4), task: rate(1, 4) } },
        { alpha: 0.5, summary: null },
      ]),
    );
    expect(curve.axis).toBe('task');
    expect(curve.pending).toEqual([0.5]);
    expect(curve.points.map((p) => [p.alpha, p.x, p.xLow, p.attackSuccess.rate, p.overRefusal.high])).toEqual([
      [0, 0.25, 0.15, 0.5, 0.35],
      [1, 0.75, 0.65, 1, 0.1],
    ]);
    expect(xDomain(curve)).toEqual([0, 1]);
  });

  it('falls back to α on the horizontal axis when no task suite was evaluated', () => {
    const curve = sweepCurve(
      sweepOf([
        { alpha: 2, summary: { judge: 'k', attackSuccess: rate(1, 4), refusal: rate(3, 4), overRefusal: none, task: none } },
        { alpha: -0.5, summary: { judge: 'k', attackSuccess: rate(1, 4), refusal: rate(3, 4), overRefusal: none, task: none } },
      ]),
    );
    expect(curve.axis).toBe('alpha');
    expect(curve.points.map((p) => [p.alpha, p.x, p.xLow])).toEqual([
      [-0.5, -0.5, null],
      [2, 2, null],
    ]);
    expect(xDomain(curve)).toEqual([-0.5, 2]);
  });
});
