/**
 * Steps that lead into each other: finished training runs offered by name (with their base model and
 * adapter) instead of typed paths; "Evaluate this run" and "Duplicate settings" fill a form that is
 * not on screen, which shows them when it mounts (switching tabs).
 */
import { createElement as h } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/shared/domain';
import { EvalRunParams, evalRunParamsFor, JUDGES } from '../../../src/shared/eval';
import { withExtraMethods } from '../../../src/shared/methods/table';
import { TrainRunParams } from '../../../src/shared/train';
import { formKey, usePersistentFields } from '../../../src/renderer/src/forms/persist';
import { useMethodSet } from '../../../src/renderer/src/forms/useMethodChoice';
import { applyPresets, evalRunPresets, trainRunPresets } from '../../../src/renderer/src/project/duplicate';
import {
  evaluateFormKey,
  finishedTrainRuns,
  presetEvaluateRun,
  presetTrainSelection,
  trainFormKey,
  trainSelection,
} from '../../../src/renderer/src/project/trainRuns';
import { importNotice } from '../../../src/renderer/src/project/data/importNotice';
import { checklist } from '../../../src/renderer/src/project/checklist';
import { EXTRA_JUDGES } from '../../fixtures/methods/rows';

const job = (id: number, state: Job['state'], params: Record<string, unknown>, result: unknown, type = 'train.run'): Job =>
  ({ id, projectId: 7, type, title: '', state, params, result, error: null }) as unknown as Job;

const selections = [{ id: 3, name: 'pool 40', method: 'sss-b' }];

describe('finished training runs as the next steps offer them', () => {
  const jobs = [
    job(10, 'succeeded', { modelPath: '/m/stories260K.gguf', method: 'plain', maxSteps: 5 }, { adapterPath: '/ws/runs/train-10/adapter' }),
    job(12, 'succeeded', { modelPath: '/m/stories260K.gguf', method: 'der', selectionId: 3, maxSteps: 20 }, { adapterPath: '/ws/runs/train-12/adapter' }),
    job(13, 'failed', { modelPath: '/m/stories260K.gguf', method: 'der', maxSteps: 20 }, null),
    job(14, 'succeeded', { modelPath: '/m/stories260K.gguf', adapterPath: '/ws/runs/train-12/adapter' }, { modelPath: '/ws/models/merged' }, 'model.merge'),
  ];

  it('lists succeeded runs with an adapter, newest first, named by model, method, selection and steps', () => {
    expect(finishedTrainRuns(jobs, selections)).toEqual([
      {
        jobId: 12,
        modelPath: '/m/stories260K.gguf',
        adapterPath: '/ws/runs/train-12/adapter',
        name: 'stories260K + LoRA run #12 (DER · SSS-B "pool 40" · 20 steps)',
      },
      {
        jobId: 10,
        modelPath: '/m/stories260K.gguf',
        adapterPath: '/ws/runs/train-10/adapter',
        name: 'stories260K + LoRA run #10 (plain · no safety examples · 5 steps)',
      },
    ]);
  });
});

/** What the probe saw when it last mounted. */
let probeSeen: Record<string, unknown> = {};
function Probe({ formKey, defaults }: { formKey: string; defaults: Record<string, string | string[] | boolean> }) {
  const [f] = usePersistentFields(formKey, defaults);
  probeSeen = f;
  return null;
}

/** What a form on the evaluate key shows when it mounts. */
function mountedFields(key: string, defaults: Record<string, string | string[] | boolean>): Record<string, unknown> {
  probeSeen = {};
  renderToStaticMarkup(h(Probe, { formKey: key, defaults }));
  return probeSeen;
}

describe('a form filled from another tab', () => {
  it('"Evaluate this run" opens Evaluate with the run chosen as the adapter, over what the form held', () => {
    const defaults = { backend: 'engine', adapterRun: '', name: '', suites: ['advbench', 'xstest'] };
    expect(mountedFields(evaluateFormKey(501), { ...defaults, backend: 'http', name: 'old run' })).toMatchObject({ backend: 'http', adapterRun: '' });
    presetEvaluateRun(501, 12);
    expect(mountedFields(evaluateFormKey(501), defaults)).toEqual({ backend: 'engine', adapterRun: '12', name: '', suites: ['advbench', 'xstest'] });
  });

  it("duplicates a training run's settings into the Train form's fields", () => {
    const p = TrainRunParams.parse({
      projectId: 502,
      modelPath: '/m/stories260K.gguf',
      method: 'der',
      methodParams: { alpha: 0.3 },
      selectionId: 3,
      maxSteps: 20,
      lr: 0.002,
      lora: { rank: 4, alpha: 8, dropout: 0, targetModules: ['q', 'v'] },
      baseQuant: 'q4_0',
    });
    applyPresets(
      trainRunPresets(502, p, [
        { id: 1, path: '/m/other' },
        { id: 2, path: '/m/stories260K.gguf' },
      ]),
    );
    expect(mountedFields(formKey('train', 502, 'form'), { modelId: '', selectionId: '', template: 'chat', baseQuant: 'none' })).toEqual({
      modelId: '2',
      selectionId: '3',
      template: p.template,
      baseQuant: 'q4_0',
    });
    expect(mountedFields(`${formKey('train', 502)}/method`, { method: 'replay' })).toEqual({ method: 'der' });
    expect(mountedFields(`${formKey('train', 502)}/params/der`, { alpha: '' })).toEqual({ alpha: '0.3' });
    expect(mountedFields(formKey('train', 502, 'settings'), { rank: '', maxSteps: '', lr: '', targetModules: [] as string[] })).toEqual({
      rank: '4',
      maxSteps: '20',
      lr: '0.002',
      targetModules: ['q', 'v'],
    });
  });

  it("duplicates an evaluation's settings, its adapter picked from the finished run that wrote it", () => {
    const p = EvalRunParams.parse({
      projectId: 503,
      name: 'first',
      model: { kind: 'engine', path: '/m/stories260K.gguf', adapterPath: '/ws/runs/train-12/adapter' },
      suites: [{ builtin: 'advbench', dataDir: '/d' }, { dataset: 4 }, { file: '/d/own.csv', kind: 'harmful' }],
      limit: 5,
      judges: ['keyword'],
      sampling: { maxNewTokens: 16, temperature: 0 },
    });
    const runs = [{ jobId: 12, modelPath: '/m/stories260K.gguf', adapterPath: '/ws/runs/train-12/adapter', name: 'x' }];
    const [[key, fields]] = evalRunPresets(503, p, [{ id: 2, path: '/m/stories260K.gguf' }], runs);
    expect(key).toBe(evaluateFormKey(503));
    expect(fields).toEqual({
      name: '',
      limit: '5',
      maxTokens: '16',
      promptFormat: 'chat',
      backend: 'engine',
      modelId: '2',
      adapterRun: '12',
      adapter: '',
      suites: ['advbench'],
      datasets: ['4'],
      customFile: '/d/own.csv',
      customKind: 'harmful',
    });
  });
});

describe('the Train form after a selection is saved in Select', () => {
  const saved = [{ id: 9 }, { id: 4 }]; // newest first, as select.list returns them
  const defaults = { modelId: '', selectionId: '', selectionPicked: false };

  it('shows the selection just saved (or opened with "Next: fine-tune with …") when it mounts', () => {
    expect(trainSelection(mountedFields(trainFormKey(601), defaults) as typeof defaults, saved)).toBe('9');
    presetTrainSelection(601, 4);
    const f = mountedFields(trainFormKey(601), defaults) as typeof defaults;
    expect(f).toEqual({ modelId: '', selectionId: '4', selectionPicked: false });
    expect(trainSelection(f, saved)).toBe('4');
  });

  it('defaults to the newest saved selection unless the user picked one (or none) in the form', () => {
    expect(trainSelection({ selectionId: '', selectionPicked: false }, saved)).toBe('9');
    expect(trainSelection({ selectionId: '', selectionPicked: false }, [])).toBe('');
    expect(trainSelection({ selectionId: '4', selectionPicked: true }, saved)).toBe('4');
    expect(trainSelection({ selectionId: '', selectionPicked: true }, saved)).toBe('');
    // a selection deleted since: the newest again, or none if the user had picked
    expect(trainSelection({ selectionId: '7', selectionPicked: false }, saved)).toBe('9');
    expect(trainSelection({ selectionId: '7', selectionPicked: true }, saved)).toBe('');
    // still loading: what the form holds
    expect(trainSelection({ selectionId: '7', selectionPicked: false }, undefined)).toBe('7');
  });
});

/** What the Evaluate form's judges section holds when it mounts: the chosen judges and their parsed parameters. */
let judgesSeen: { chosen: string[]; params: unknown } = { chosen: [], params: null };
function JudgesProbe({ projectId }: { projectId: number }) {
  const choice = useMethodSet(withExtraMethods(JUDGES, EXTRA_JUDGES), formKey('evaluate', projectId, 'judges'), ['keyword-start']);
  judgesSeen = { chosen: choice.chosen, params: choice.params };
  return null;
}

describe("duplicating an evaluation's judges", () => {
  it('keeps the judges, their parameters and the Llama Guard model', () => {
    const p = evalRunParamsFor(withExtraMethods(JUDGES, EXTRA_JUDGES)).parse({
      projectId: 504,
      model: { kind: 'engine', path: '/m/stories260K.gguf' },
      suites: [{ builtin: 'advbench', dataDir: '/d' }],
      judges: ['keyword-anywhere', 'short-reply', 'llama-guard-3'],
      judgeParams: { 'short-reply': { minChars: 12 } },
      guardModel: { kind: 'engine', path: '/m/guard.gguf' },
    });
    const models = [
      { id: 2, path: '/m/stories260K.gguf' },
      { id: 5, path: '/m/guard.gguf' },
    ];
    applyPresets(evalRunPresets(504, p as EvalRunParams, models, []));
    renderToStaticMarkup(h(JudgesProbe, { projectId: 504 }));
    expect(judgesSeen).toEqual({
      chosen: ['keyword-anywhere', 'short-reply', 'llama-guard-3'],
      params: { 'keyword-anywhere': {}, 'short-reply': { minChars: 12 }, 'llama-guard-3': {} },
    });
    expect(mountedFields(evaluateFormKey(504), { guardId: '', modelId: '' })).toEqual({ guardId: '5', modelId: '2' });
  });
});

describe('the Data tab after an import', () => {
  it('says "already imported" when the same file comes again, as the CLI does', () => {
    const p = { projectId: 1, path: '/data/task/gsm8k_train.jsonl', role: 'task' as const };
    expect(importNotice(p, { datasetId: 2, accepted: 7473, rejected: 0, exactDuplicates: 0, nearDuplicates: 0, alreadyImported: true })).toBe(
      'gsm8k_train.jsonl was already imported as task data (data set #2, 7,473 records): nothing to do.',
    );
    expect(importNotice(p, { datasetId: 2, accepted: 7473, rejected: 3, exactDuplicates: 0, nearDuplicates: 0, alreadyImported: false })).toBe(
      'Imported gsm8k_train.jsonl as task data: 7,473 records, 3 rows rejected.',
    );
  });
});

describe("the project's checklist of next steps", () => {
  const empty = { datasets: [], savedSelections: 0, finishedTrainRuns: 0, evalRuns: [] };
  const done = (s: Parameters<typeof checklist>[0]) =>
    checklist(s)
      .filter((x) => x.done)
      .map((x) => x.id);

  it('starts with nothing done, each step pointing at its tab', () => {
    expect(checklist(empty).map((s) => [s.id, s.tab, s.done])).toEqual([
      ['pool', 'data', false],
      ['task', 'data', false],
      ['analyse', 'data', false],
      ['select', 'select', false],
      ['train', 'train', false],
      ['evaluate-tuned', 'evaluate', false],
      ['evaluate-base', 'evaluate', false],
      ['compare', 'compare', false],
    ]);
  });

  it('follows the real state: an unanalysed pool, an empty run and a base-only evaluation leave their steps open', () => {
    const pool = { role: 'safety_pool', state: 'ready', embedderId: null, accepted: 40, recordedTypes: 0 };
    expect(done({ ...empty, datasets: [pool, { role: 'task', state: 'importing', embedderId: null, accepted: 0, recordedTypes: 0 }] })).toEqual(['pool']);
    const analysed = { ...pool, embedderId: 'static' };
    const state = {
      datasets: [analysed, { role: 'task', state: 'ready', embedderId: null, accepted: 10, recordedTypes: 0 }],
      savedSelections: 1,
      finishedTrainRuns: 1,
      evalRuns: [
        { results: 0, adapter: true },
        { results: 12, adapter: false },
      ],
    };
    expect(done(state)).toEqual(['pool', 'task', 'analyse', 'select', 'train', 'evaluate-base']);
    // a pool whose every record's type came from its file (or a person) needs no Analyse for this step; part of it does
    const recorded = { ...pool, recordedTypes: 40 };
    expect(done({ ...state, datasets: [recorded, state.datasets[1]!] })).toContain('analyse');
    expect(done({ ...state, datasets: [{ ...pool, recordedTypes: 39 }, state.datasets[1]!] })).not.toContain('analyse');
    expect(done({ ...state, datasets: [{ ...pool, accepted: 0 }, state.datasets[1]!] })).not.toContain('analyse');
    expect(done({ ...state, evalRuns: [...state.evalRuns, { results: 12, adapter: true }] })).toEqual([
      'pool',
      'task',
      'analyse',
      'select',
      'train',
      'evaluate-tuned',
      'evaluate-base',
      'compare',
    ]);
  });
});
