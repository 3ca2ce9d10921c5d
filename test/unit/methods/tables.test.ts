import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainCli } from '../../../src/main/cli/commands/train';
import { JUDGE_IMPLS } from '../../../src/main/eval/judges';
import { trainRunJob } from '../../../src/main/jobs/types/trainRun';
import { SELECTION_SAMPLERS } from '../../../src/main/select';
import { TRAIN_METHOD_IMPLS } from '../../../src/main/train-methods';
import { EvalRunParams, JUDGES } from '../../../src/shared/eval';
import { JobSpec } from '../../../src/shared/jobs';
import { paramFields, type MethodTable } from '../../../src/shared/methods/table';
import { SELECTION_METHODS, Selection, SelectRunParams } from '../../../src/shared/select';
import { TRAIN_METHODS, TrainRunParams } from '../../../src/shared/train';
import { repoRoot } from '../../helpers/shared';

const tables: [string, MethodTable][] = [
  ['training methods', TRAIN_METHODS],
  ['selection methods', SELECTION_METHODS],
  ['judges', JUDGES],
];
const base = { projectId: 1, modelPath: '/m.gguf' };
const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  (r.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`).join('\n');

describe('method tables', () => {
  it.each(tables)('every row of the %s has a label, a one-line description and parameters that parse to their defaults', (_, table) => {
    expect(Object.keys(table).length).toBeGreaterThan(0);
    for (const [id, row] of Object.entries(table)) {
      expect(row.label.trim(), id).not.toBe('');
      expect(row.description.trim(), id).not.toBe('');
      expect(row.description, id).not.toMatch(/\n/);
      expect(row.params.safeParse({}).success, id).toBe(true);
      for (const f of paramFields(row.params)) expect(f.title, `${id}.${f.key} has a title`).not.toBe(f.key);
    }
  });

  it('every row has an implementation (the satisfies checks, seen at run time)', () => {
    expect(Object.keys(TRAIN_METHOD_IMPLS)).toEqual(Object.keys(TRAIN_METHODS));
    expect(Object.keys(SELECTION_SAMPLERS)).toEqual(Object.keys(SELECTION_METHODS));
    expect(Object.keys(JUDGE_IMPLS)).toEqual(Object.keys(JUDGES));
  });

  it('the parameter fields read defaults, ranges and the CLI flag from the schemas', () => {
    const [alpha, beta, topK] = paramFields(TRAIN_METHODS['der++'].params);
    expect(alpha).toMatchObject({ key: 'alpha', kind: 'number', min: 0, default: 0.5, cli: 'der-alpha', optional: false });
    expect(beta).toMatchObject({ key: 'beta', cli: 'der-beta', default: 0.5 });
    expect(topK).toMatchObject({ key: 'topK', kind: 'integer', min: 1, max: 64, default: 16, cli: 'top-k' });
    const [ratio] = paramFields(TRAIN_METHODS.replay.params);
    expect(ratio).toMatchObject({ key: 'replayRatio', min: 0, exclusiveMin: true, max: 10, optional: true });
    expect(ratio!.default).toBeUndefined();
  });

  it('SafeInstr is replay at a ratio: one row says so (no duplicate row), and the CLI usage shows it', () => {
    expect(Object.keys(TRAIN_METHODS).filter((id) => /safe-?instr/i.test(id))).toEqual([]);
    expect(TRAIN_METHODS.replay.label).toMatch(/SafeInstr/);
    expect(TRAIN_METHODS.replay.description).toMatch(/with a ratio this is SafeInstr/);
    expect(TRAIN_METHODS.replay.reference).toBe('https://arxiv.org/abs/2309.07875');
    expect(TrainRunParams.parse({ ...base, method: 'replay', methodParams: { replayRatio: 0.03 } }).methodParams).toEqual({
      replayRatio: 0.03,
      shuffleMix: false,
    });
    expect(trainCli().command.usage).toMatch(
      /replay\s+Replay \(SafeInstr\): Mix the saved safety selection into the task data; with a ratio this is SafeInstr .*--replay-ratio X/,
    );
  });

  it('the hidden defaults of the old if/else are the rows’ defaults (λ 1 / 1000 / 0.1, k = 16, DER’s buffer batch 4)', () => {
    const parsed = (method: string) => TrainRunParams.parse({ ...base, method }).methodParams;
    expect(parsed('lwf')).toEqual({ lambda: 1, topK: 16 });
    expect(parsed('ewc')).toEqual({ lambda: 1000 });
    expect(parsed('l2sp')).toEqual({ lambda: 0.1 });
    expect(parsed('der')).toEqual({ alpha: 0.5, topK: 16, bufferBatch: 4 });
    expect(parsed('der++')).toEqual({ alpha: 0.5, beta: 0.5, topK: 16, bufferBatch: 4 });
    expect(parsed('plain')).toEqual({});
  });

  it('a method’s parameters are checked against its own row, naming the method and what it takes', () => {
    expect(TrainRunParams.parse({ ...base, method: 'ewc', methodParams: { lambda: 50 } }).methodParams).toEqual({ lambda: 50 });
    const wrong = TrainRunParams.safeParse({ ...base, method: 'ewc', methodParams: { alpha: 1 } });
    expect(issues(wrong)).toMatch(/^methodParams: alpha is not a parameter of ewc; it takes lambda$/);
    expect(issues(TrainRunParams.safeParse({ ...base, method: 'l2sp', methodParams: { lambda: -1 } }))).toMatch(/^methodParams\.lambda: l2sp: /);
    expect(issues(TrainRunParams.safeParse({ ...base, method: 'agem', methodParams: { k: 3 } }))).toMatch(/k is not a parameter of agem; it takes none/);
    expect(issues(TrainRunParams.safeParse({ ...base, method: 'magic' }))).toMatch(/plain.*replay.*agem/);
    const sel = SelectRunParams.safeParse({ projectId: 1, method: 'sss', budget: { count: 5 }, methodParams: { k: 1 } });
    expect(issues(sel)).toMatch(/k is not a parameter of sss; it takes none/);
  });

  it('train jobs stored before the table (alpha, beta, lambda, replayRatio at the top level) resume with the settings they were started with', () => {
    // rows as older versions stored them: every default written out, the method's parameters beside the run's
    const old = (method: string, extra: Record<string, unknown>) => ({
      ...base,
      method,
      template: 'alpaca',
      lr: 3e-4,
      maxSteps: 10,
      alpha: 0.5,
      beta: 0.5,
      ...extra,
    });
    const resumed = (row: Record<string, unknown>) => {
      const spec = JobSpec.parse({ type: 'train.run', params: row });
      // the worker parses the stored row again with the job's own schema
      const p = trainRunJob.params.parse(row);
      expect(spec.params).toEqual(p);
      expect(p).not.toHaveProperty('alpha');
      return p.methodParams;
    };
    expect(resumed(old('der', { alpha: 0.7 }))).toEqual({ alpha: 0.7, topK: 16, bufferBatch: 4 });
    expect(resumed(old('der++', { beta: 0.25 }))).toEqual({ alpha: 0.5, beta: 0.25, topK: 16, bufferBatch: 4 });
    expect(resumed(old('ewc', { lambda: 5000 }))).toEqual({ lambda: 5000 });
    expect(resumed(old('lwf', {}))).toEqual({ lambda: 1, topK: 16 });
    expect(resumed(old('l2sp', { lambda: 0.3 }))).toEqual({ lambda: 0.3 });
    expect(resumed(old('replay', { replayRatio: 2 }))).toEqual({ replayRatio: 2, shuffleMix: false });
    expect(resumed(old('replay', {}))).toEqual({ shuffleMix: false });
    // a row stored by this version parses to itself
    const now = TrainRunParams.parse({ ...base, method: 'ewc', methodParams: { lambda: 7 } });
    expect(TrainRunParams.parse(now)).toEqual(now);
  });

  it('eval runs stored before the table: "keyword" is the start-of-reply rule, a bare guardModel adds the reply judge', () => {
    const p = { projectId: 1, model: { kind: 'engine', path: '/m.gguf' }, suites: [{ builtin: 'xstest', dataDir: '/d' }] };
    const guard = { kind: 'engine', path: '/guard.gguf' };
    expect(EvalRunParams.parse(p).judges).toEqual(['keyword-start']);
    expect(EvalRunParams.parse({ ...p, judges: ['keyword'] }).judges).toEqual(['keyword-start']);
    expect(EvalRunParams.parse({ ...p, judges: ['keyword'], guardModel: guard }).judges).toEqual(['keyword-start', 'llama-guard-3']);
    expect(EvalRunParams.parse({ ...p, judges: ['llama-guard-3-prompt'], guardModel: guard }).judges).toEqual(['llama-guard-3-prompt']);
    expect(issues(EvalRunParams.safeParse({ ...p, judges: ['llama-guard-3'] }))).toMatch(/^guardModel: judge llama-guard-3 needs a Llama Guard 3 model/);
    expect(issues(EvalRunParams.safeParse({ ...p, judges: ['gpt'] }))).toMatch(/unknown judge "gpt" \(have: keyword-start, keyword-anywhere/);
    expect(issues(EvalRunParams.safeParse({ ...p, judgeParams: { task: {} } }))).toMatch(
      /^judgeParams\.task: parameters for task, which is not among the judges/,
    );
  });

  it('selections saved before the table still read', () => {
    const stored = { projectId: 1, method: 'random', budget: { count: 50 }, seed: 0, cossimReference: 'categories' };
    expect(SelectRunParams.parse(stored)).toEqual({ ...stored, methodParams: {} });
    const sel = {
      id: 1,
      projectId: 1,
      name: 'x',
      method: 'sss-b',
      params: { ...stored, method: 'sss-b' },
      summary: { budget: 50, selected: 50, eligible: 60, shortfall: 0, poolSize: 99, perCategory: {}, perBehaviour: {}, embedder: null },
      saved: true,
      createdAt: 'now',
    };
    expect(Selection.parse(sel).params.methodParams).toEqual({});
  });

  it('no code tests method ids by their spelling: the tables’ facts say what a method is', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.tsx?$/.test(name)) files.push(p);
      }
    };
    walk(join(repoRoot, 'src'));
    const spelled =
      /(startsWith|endsWith)\(['"](cossim|pss|sss|der|keyword|llama-guard|-b)|\/\^\((pss|cossim)|\.includes\(['"](refusal-classifier|replay|der|ewc|agem)['"]\)|\[['"]replay['"], ['"]der['"]/;
    const hits = files
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => [f, i + 1, line] as const),
      )
      .filter(([, , line]) => spelled.test(line));
    expect(hits.map(([f, n, l]) => `${f.slice(repoRoot.length + 1)}:${n}: ${l.trim()}`)).toEqual([]);
  });
});
