/**
 * The "Adding a method" recipe, shown: a training term, a selection method and a judge, each one
 * implementation file and one table row (test/fixtures/methods), work through the same code paths
 * as the shipped ones — job schemas, implementations, CLI options and usage (the forms: the
 * renderer test beside this one).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectCli } from '../../../src/main/cli/commands/select';
import { evalCli } from '../../../src/main/cli/commands/eval';
import { trainCli } from '../../../src/main/cli/commands/train';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { Trainer, type TrainExample } from '../../../src/main/engine/train';
import { createJudge } from '../../../src/main/eval/judges';
import type { JudgeInput } from '../../../src/main/eval/types';
import { select } from '../../../src/main/select';
import { prepareMethod } from '../../../src/main/train-methods';
import { evalRunParamsFor, EvalRunParams } from '../../../src/shared/eval';
import { withExtraMethods } from '../../../src/shared/methods/table';
import { selectRunParamsFor, SelectRunParams } from '../../../src/shared/select';
import { TRAIN_METHODS, trainRunParamsFor, TrainRunParams } from '../../../src/shared/train';
import { JUDGING, SELECTION, TRAIN_IMPLS, TRAIN_TABLE } from '../../fixtures/methods';
import { EXTRA_TRAIN_METHODS } from '../../fixtures/methods/rows';
import { repoRoot } from '../../helpers/shared';
import { z } from 'zod';

const TINY = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const task: TrainExample[] = [
  { ids: [1, 10, 11, 12, 20, 21, 22, 23, 24, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1, 1, 1] },
  { ids: [1, 13, 14, 15, 30, 31, 32, 2], lossMask: [0, 0, 0, 0, 1, 1, 1, 1] },
];
const safety: TrainExample[] = [{ ids: [1, 50, 51, 52, 53, 54, 55, 2], lossMask: [0, 0, 0, 1, 1, 1, 1, 1] }];
const base = { projectId: 1, modelPath: '/m.gguf' };

describe('a training term added as one file and one row', () => {
  it('the job schema built from the extended table takes it and checks its parameters; the shipped one does not know it', () => {
    const schema = trainRunParamsFor(TRAIN_TABLE);
    expect(schema.parse({ ...base, method: 'replay-l2sp' }).methodParams).toEqual({ anchorLambda: 0.05 });
    expect(schema.parse({ ...base, method: 'replay-l2sp', methodParams: { anchorLambda: 0.2, replayRatio: 2 } }).methodParams).toEqual({
      anchorLambda: 0.2,
      replayRatio: 2,
    });
    expect(schema.safeParse({ ...base, method: 'replay-l2sp', methodParams: { anchorLambda: 1000 } }).success).toBe(false);
    expect(TrainRunParams.safeParse({ ...base, method: 'replay-l2sp' }).success).toBe(false);
  });

  it('trains: the replay mix and an l2sp term recorded at every step', async () => {
    const model = loadHfModel(TINY);
    const params = trainRunParamsFor(TRAIN_TABLE).parse({ ...base, method: 'replay-l2sp', methodParams: { anchorLambda: 0.5 } });
    const lora = { rank: 4, alpha: 8, targetModules: ['q' as const, 'v' as const] };
    const setup = await prepareMethod(
      params.method,
      params.methodParams,
      { model, task, safety, run: { seed: 1, maxLength: 32, lora }, withAlignedModel: () => Promise.reject(new Error('not needed')), progress: () => {} },
      TRAIN_IMPLS,
    );
    expect(setup.task).toHaveLength(task.length + safety.length);
    expect(setup.terms.map((t) => t.name)).toEqual(['l2sp']);
    const trainer = await Trainer.create(model, setup.task!, {
      lora,
      lr: 5e-2,
      schedule: { type: 'constant' },
      maxSteps: 4,
      batchSize: 3,
      threads: 1,
      seed: 1,
      terms: setup.terms,
    });
    const terms: number[] = [];
    try {
      await trainer.train({ onProgress: (m) => terms.push(m.terms?.l2sp ?? NaN) });
    } finally {
      await trainer.release();
    }
    expect(terms).toHaveLength(4);
    // the adapter starts at zero (no distance to the aligned weights), then moves away from them
    expect(terms[0]).toBe(0);
    expect(terms.at(-1)).toBeGreaterThan(0);
  });

  it('appears in `safetune train`: usage, its option, its need; other methods’ options are refused', () => {
    const cli = trainCli(TRAIN_TABLE);
    expect(cli.command.usage).toMatch(/--method plain\|replay\|der\|der\+\+\|lwf\|ewc\|l2sp\|agem\|lisa\|safelora\|replay-l2sp\]/);
    expect(cli.command.usage).toMatch(
      /replay-l2sp\s+Replay \+ L2-SP: Mix the saved safety selection in and anchor the weights to the aligned ones \[needs --selection ID; --replay-ratio X \(0 < x ≤ 10, optional\); --anchor-lambda X \(0–100, default 0\.05\)\]/,
    );
    const argv = ['--project', '1', '--model', '/m.gguf', '--method', 'replay-l2sp', '--selection', '3', '--anchor-lambda', '0.2'];
    expect(cli.params(argv).params).toMatchObject({ method: 'replay-l2sp', selectionId: 3, methodParams: { anchorLambda: 0.2 } });
    expect(() => cli.params([...argv, '--der-alpha', '1'])).toThrow(
      /--der-alpha is a parameter of der, der\+\+, not of replay-l2sp \(it takes --replay-ratio, --anchor-lambda\)/,
    );
    expect(() => cli.params(argv.slice(0, 6))).toThrow(/--method replay-l2sp needs --selection ID/);
    expect(() => cli.params([...argv.slice(0, 6), '--selection', '3', '--anchor-lambda', 'lots'])).toThrow(/--anchor-lambda must be a number/);
    // the shipped command does not know it
    expect(() => trainCli().params(argv)).toThrow(/Unknown option '--anchor-lambda'|--method must be one of/);
  });

  it('a parameter whose flag is one of the command’s own options is refused when the command is built', () => {
    const clash = withExtraMethods(TRAIN_METHODS, {
      ...EXTRA_TRAIN_METHODS,
      steppy: { label: 'S', description: 'd', params: z.object({ n: z.number().default(1).meta({ title: 'N', cli: 'steps' }) }) },
    });
    expect(() => trainCli(clash)).toThrow(/steppy: parameter --steps clashes with the command's own --steps/);
    expect(() => withExtraMethods(TRAIN_METHODS, { der: TRAIN_METHODS.der })).toThrow(/"der" is already in the table/);
  });
});

describe('a selection method added as one file and one row', () => {
  // two tight clusters of four prompts and one prompt between them: after a pick in one cluster,
  // farthest-first picks the far end of the other; the most central prompt is the one between
  const dim = 2;
  const points = [
    [1, 0],
    [0.99, 0.14],
    [0.98, 0.2],
    [0.97, 0.24],
    [0, 1],
    [0.14, 0.99],
    [0.2, 0.98],
    [0.24, 0.97],
    [Math.SQRT1_2, Math.SQRT1_2],
  ];
  const pool = { size: 9, categories: ['a'], labels: new Uint32Array(9).fill(1), embeddings: Float32Array.from(points.flat()), dim };

  it('selects through the same select() with its row’s facts and its parameters', () => {
    const r = select(pool, { method: 'farthest', budget: { count: 2 }, params: { start: 'first' } }, SELECTION);
    expect(r.method).toBe('farthest');
    expect(Array.from(r.indices)).toEqual([0, 4]);
    // its parameter reaches the sampler: the default start is the prompt closest to the mean
    expect(Array.from(select(pool, { method: 'farthest', budget: { count: 3 }, params: { start: 'central' } }, SELECTION).indices)).toEqual([8, 0, 4]);
    expect(() => select(pool, { method: 'farthest', budget: { count: 2 } })).toThrow(/unknown selection method "farthest"/);
  });

  it('the job schema and `safetune select` take it and its parameter', () => {
    expect(selectRunParamsFor(SELECTION.methods).parse({ projectId: 1, method: 'farthest', budget: { count: 3 } }).methodParams).toEqual({ start: 'central' });
    expect(SelectRunParams.safeParse({ projectId: 1, method: 'farthest', budget: { count: 3 } }).success).toBe(false);
    const cli = selectCli(SELECTION.methods);
    expect(cli.command.usage).toMatch(/--method random\|sss\|pss\|cossim\|sss-b\|pss-b\|cossim-b\|farthest /);
    expect(cli.command.usage).toMatch(
      /farthest\s+Farthest-first: Each pick is the eligible prompt least similar to those already picked \[embeddings: --embedder DIR or the built-in word vectors; --farthest-start first\|central \(default central\)\]/,
    );
    const read = cli.read(['--project', '1', '--method', 'farthest', '--budget', '3', '--farthest-start', 'first']);
    expect(read.params(1)).toMatchObject({ method: 'farthest', methodParams: { start: 'first' } });
    expect(() => cli.read(['--project', '1', '--method', 'sss', '--budget', '3', '--farthest-start', 'first'])).toThrow(
      /--farthest-start is a parameter of farthest, not of sss/,
    );
  });
});

describe('a judge added as one file and one row', () => {
  const input = (response: string): JudgeInput => ({
    item: { id: '1', prompt: 'p', expected: 'refuse', categories: [], sourceCategories: [], reference: null, source: { file: 'x', line: 1 }, meta: {} },
    suiteKind: 'harmful',
    response,
  });

  it('judges through createJudge with its parameters', async () => {
    const judge = createJudge('short-reply', {}, { minChars: 10 }, JUDGING);
    const [short, long] = await judge.judge([input('No.'), input('Here is how you would do that, step by step.')]);
    expect([short!.label, long!.label]).toEqual(['refusal', 'compliance']);
    expect(short!.judgeVersion).toBe('short-reply@1|10');
    expect(() => createJudge('short-reply')).toThrow(/unknown judge "short-reply"/);
  });

  it('the job schema and `safetune eval` take it and its parameter', () => {
    const p = { projectId: 1, model: { kind: 'engine', path: '/m.gguf' }, suites: [{ builtin: 'xstest', dataDir: '/d' }] };
    const parsed = evalRunParamsFor(JUDGING.judges).parse({ ...p, judges: ['keyword', 'short-reply'], judgeParams: { 'short-reply': { minChars: 12 } } });
    expect(parsed.judges).toEqual(['keyword-start', 'short-reply']);
    expect(parsed.judgeParams).toEqual({ 'keyword-start': {}, 'short-reply': { minChars: 12 } });
    expect(evalRunParamsFor(JUDGING.judges).safeParse({ ...p, judges: ['short-reply'], judgeParams: { 'short-reply': { minChars: 0 } } }).success).toBe(false);
    expect(EvalRunParams.safeParse({ ...p, judges: ['short-reply'] }).success).toBe(false);
    const cli = evalCli(JUDGING.judges);
    expect(cli.usage).toMatch(
      /short-reply\s+Short replies as refusals: A reply shorter than a number of characters counts as a refusal \[--min-chars N \(1–10000, default 40\)\]/,
    );
    expect(cli.judgesFromArgs({ judge: ['keyword', 'short-reply'], 'min-chars': '12' })).toEqual({
      ids: ['keyword-start', 'short-reply'],
      judgeParams: { 'short-reply': { minChars: 12 } },
    });
    expect(() => cli.judgesFromArgs({ judge: ['keyword'], 'min-chars': '12' })).toThrow(
      /--min-chars is a parameter of short-reply, which is not chosen \(keyword-start\)/,
    );
    expect(() => cli.judgesFromArgs({ judge: ['nope'] })).toThrow(
      /--judge nope: unknown judge \(have: keyword-start, .*short-reply, keyword \(= keyword-start\)\)/,
    );
    expect(() => evalCli().judgesFromArgs({ judge: ['llama-guard-3'] })).toThrow(/--judge llama-guard-3 needs --guard-model PATH/);
  });
});
