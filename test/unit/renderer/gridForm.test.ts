/**
 * The experiment-grid form (pure): budgets as counts or shares, seeds, the arms it makes (a method
 * without safety examples once, the others once per budget) and the request, which the contract's
 * schema accepts; what is missing is said in words.
 */
import { describe, expect, it } from 'vitest';
import { gridArms, gridRequest, parseBudgets, parseSeeds, type GridForm } from '../../../src/renderer/src/project/grids/gridRequest';
import { ExperimentRequest } from '../../../src/shared/experiments';

const form: GridForm = {
  name: ' tiny ',
  modelPath: '/m/a.gguf',
  methods: ['plain', 'replay'],
  selectionMethod: 'sss-b',
  budgets: '10, 5%',
  seeds: '1, 2',
  steps: 4,
  datasetIds: [3, 4],
  limit: 20,
  maxNewTokens: 16,
};

describe('the grid form', () => {
  it('reads budgets as counts or shares of the task data, and seeds', () => {
    expect(parseBudgets('10, 5%, 0.5 %')).toEqual({ budgets: [{ count: 10 }, { fraction: 0.05 }, { fraction: 0.005 }] });
    expect(parseBudgets('10, ten')).toEqual({ error: '"ten" is not a count or a percentage (e.g. 10 or 5%)' });
    expect(parseBudgets('0')).toEqual({ error: '"0" is not a count or a percentage (e.g. 10 or 5%)' });
    expect(parseBudgets(' ')).toEqual({ error: 'give at least one budget (e.g. 10, 50 or 1%, 5%)' });
    expect(parseSeeds('1, 2 ,3')).toEqual({ seeds: [1, 2, 3] });
    expect(parseSeeds('1.5')).toHaveProperty('error');
  });

  it('makes one arm per method without safety examples and one per budget for the others', () => {
    expect(gridArms(form, [{ count: 10 }, { fraction: 0.05 }]).map((a) => [a.name, a.selection])).toEqual([
      ['plain', undefined],
      ['replay · sss-b 10', { method: 'sss-b', budget: { count: 10 } }],
      ['replay · sss-b 5%', { method: 'sss-b', budget: { fraction: 0.05 } }],
    ]);
  });

  it('makes a request the contract accepts, or says what is missing', () => {
    const made = gridRequest(7, form);
    if (!('request' in made)) throw new Error(made.error);
    const parsed = ExperimentRequest.parse(made.request);
    expect(parsed).toMatchObject({
      projectId: 7,
      name: 'tiny',
      seeds: [1, 2],
      eval: { suites: [{ dataset: 3 }, { dataset: 4 }], limit: 20, sampling: { maxNewTokens: 16, temperature: 0 } },
    });
    expect(parsed.arms.map((a) => a.train)).toEqual([
      { method: 'plain', maxSteps: 4 },
      { method: 'replay', maxSteps: 4 },
      { method: 'replay', maxSteps: 4 },
    ]);
    expect(gridRequest(7, { ...form, methods: [] })).toEqual({ error: 'choose at least one training method' });
    expect(gridRequest(7, { ...form, datasetIds: [] })).toHaveProperty('error', expect.stringMatching(/^choose at least one evaluation data set/));
    expect(gridRequest(7, { ...form, modelPath: '' })).toEqual({ error: 'choose a model' });
  });
});
