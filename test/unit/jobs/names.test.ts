/** Job titles and run names say what a run is: the data set's file, model + adapter run + method + selection + steps. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
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
    const ds = s.datasets.create({ projectId, role: 'task', name: 'gsm8k_train.jsonl', sourcePath: '/data/task/gsm8k_train.jsonl', fileDigest: 'x', sizeBytes: 1, jobId: null });
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
    s.db.prepare('UPDATE jobs SET state = ?, result = ? WHERE id = ?').run('succeeded', JSON.stringify({ adapterPath: `/ws/runs/train-${job.id}/adapter` }), job.id);
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

  it('tells an adapter from elsewhere apart from the base model', () => {
    expect(evaluatedModelName('/m/llama-3-8b', { path: '/elsewhere/exp7/adapter', run: null })).toBe('llama-3-8b + adapter exp7/adapter');
    expect(evaluatedModelName('/m/llama-3-8b', null)).toBe('llama-3-8b (base, no adapter)');
  });
});
