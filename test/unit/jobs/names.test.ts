/** Job titles and run names say what a run is: the data set's file, model + adapter run + method + selection + steps. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRuns } from '../../../src/main/app/evaluations';
import type { Services } from '../../../src/main/app/services';
import { toCsv } from '../../../src/renderer/src/project/compare/compareCsv';
import { JobStore } from '../../../src/main/db/jobs';
import { storeNames } from '../../../src/main/jobs/names';
import { dataAnalyseJob } from '../../../src/main/jobs/types/dataAnalyse';
import { evalRunJob } from '../../../src/main/jobs/types/evalRun';
import { modelMergeJob } from '../../../src/main/jobs/types/modelMerge';
import { trainRunJob } from '../../../src/main/jobs/types/trainRun';
import { EvalRunParams } from '../../../src/shared/eval';
import { DataAnalyseParams } from '../../../src/shared/select';
import { TrainRunParams } from '../../../src/shared/train';
import { evaluatedModelName, trainRunName } from '../../../src/shared/naming';
import { tempDir, testServices } from '../../helpers/services';

let s: Services;
let cleanup: () => void;
let projectId: number;

describe('names that say what a run is', () => {
  beforeAll(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    s = testServices(t.dir, { runJobs: false });
    projectId = s.projects.create('names').id;
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });

  it('names the analysed data set by its file, not its number', () => {
    const ds = s.datasets.create({
      projectId,
      role: 'task',
      name: 'gsm8k_train.jsonl',
      sourcePath: '/data/task/gsm8k_train.jsonl',
      fileDigest: 'x',
      sizeBytes: 1,
      jobId: null,
    });
    const p = DataAnalyseParams.parse({ projectId, datasetId: ds.id });
    expect(dataAnalyseJob.title(p, storeNames(s.db))).toBe('Analyse gsm8k_train.jsonl');
  });

  it('names a training run by model, method, selection and steps, and evaluations of its adapter by that run', () => {
    const names = storeNames(s.db);
    const selectionId = s.selections.create({ projectId, method: 'sss-b', params: {}, summary: {} }, []);
    s.selections.save(selectionId, 'pool 40');
    const params = TrainRunParams.parse({ projectId, modelPath: '/models/stories260K.gguf', method: 'der', selectionId, maxSteps: 20 });
    expect(trainRunJob.title(params, names)).toBe('Fine-tune stories260K (DER · SSS-B "pool 40" · 20 steps)');
    const jobs = new JobStore(s.db);
    const job = jobs.insert({ projectId, type: 'train.run', title: 't', params });
    s.db
      .prepare('UPDATE jobs SET state = ?, result = ? WHERE id = ?')
      .run('succeeded', JSON.stringify({ adapterPath: `/ws/runs/train-${job.id}/adapter` }), job.id);
    const run = names.trainRunForAdapter(`/ws/runs/train-${job.id}/adapter`)!;
    expect(trainRunName(run)).toBe(`stories260K + LoRA run #${job.id} (DER · SSS-B "pool 40" · 20 steps)`);
    const withAdapter = EvalRunParams.parse({
      projectId,
      model: { kind: 'engine', path: '/models/stories260K.gguf', adapterPath: `/ws/runs/train-${job.id}/adapter` },
      suites: [{ builtin: 'advbench', dataDir: '/data' }],
    });
    expect(evalRunJob.title(withAdapter, names)).toBe(`Evaluate stories260K + LoRA run #${job.id} (DER · SSS-B "pool 40" · 20 steps) on advbench`);
    const base = EvalRunParams.parse({ ...withAdapter, model: { kind: 'engine', path: '/models/stories260K.gguf' } });
    expect(evalRunJob.title(base, names)).toBe('Evaluate stories260K (base, no adapter) on advbench');
    expect(modelMergeJob.title({ modelPath: '/models/stories260K.gguf', adapterPath: `/ws/runs/train-${job.id}/adapter` } as never, names)).toBe(
      `Merge the adapter of stories260K + LoRA run #${job.id} (DER · SSS-B "pool 40" · 20 steps) into its base`,
    );
  });

  it('tells runs with and without an adapter apart in Compare rows (and so in its CSV)', () => {
    const names = storeNames(s.db);
    const run = s.db.prepare(`SELECT id FROM jobs WHERE type = 'train.run' ORDER BY id DESC`).get() as { id: number };
    const adapterPath = `/ws/runs/train-${run.id}/adapter`;
    const base = s.evaluations.createRun(projectId, 'mine', { model: { kind: 'engine', path: '/models/stories260K.gguf' } }, null);
    const tuned = s.evaluations.createRun(projectId, 'mine', { model: { kind: 'engine', path: '/models/stories260K.gguf', adapterPath } }, null);
    const rows = compareRuns(s, [base.id, tuned.id]);
    expect(rows.map((r) => [r.name, r.model, r.adapter])).toEqual([
      ['mine', 'stories260K (base, no adapter)', null],
      ['mine', trainRunName(names.trainRun(run.id)!), adapterPath],
    ]);
    const csv = toCsv(rows).split('\n');
    expect(csv[0]).toMatch(/^run_id,name,model,adapter,generator,/);
    expect(csv[2]).toContain(`,${adapterPath},`);
  });

  it('tells an adapter from elsewhere apart from the base model', () => {
    expect(evaluatedModelName('/m/llama-3-8b', { path: '/elsewhere/exp7/adapter', run: null })).toBe('llama-3-8b + adapter exp7/adapter');
    expect(evaluatedModelName('/m/llama-3-8b', null)).toBe('llama-3-8b (base, no adapter)');
    // a full-parameter run (no adapter) is said so
    expect(trainRunName({ jobId: 9, modelPath: '/m/llama-3-8b', method: 'ewc', selection: null, maxSteps: 100, mode: 'full' })).toBe(
      'llama-3-8b fully fine-tuned run #9 (EWC · no safety examples · 100 steps)',
    );
  });
});
