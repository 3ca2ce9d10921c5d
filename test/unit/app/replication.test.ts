/**
 * The miniature replication as product jobs: the recipe's arms mapped onto experiment arms
 * (train.run parameters as FINETUNE says, the selection at the arm's budget), the presets' seeds,
 * and the set-up — the shipped task and safety pool imported once (the pool's recorded behaviour
 * types and categories kept), the aligned model registered, a second start reusing the project.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import { replicationArm, replicationDir, replicationGrid, startReplication } from '../../../src/main/app/replication';
import type { Services } from '../../../src/main/app/services';
import { ARMS, FINETUNE, PRESETS } from '../../../src/main/replicate/recipe';
import type { CallResult } from '../../../src/shared/errors';
import { ExperimentRequest, type Experiment } from '../../../src/shared/experiments';
import { TrainRunParams } from '../../../src/shared/train';
import { tempDir, testServices } from '../../helpers/services';
import { repoRoot } from '../../helpers/shared';

const DIR = join(repoRoot, 'resources', 'replication');

describe('the recipe as an experiment grid', () => {
  it('finds the shipped replication from the module', () => {
    expect(replicationDir()).toBe(DIR);
  });

  it('maps every arm onto train.run parameters equal to the recipe’s', () => {
    const arms = ARMS.map((a) => replicationArm(a, FINETUNE, undefined));
    expect(arms.map((a) => a.name)).toEqual(ARMS.map((a) => a.id));
    for (const a of arms) {
      const p = TrainRunParams.parse({ ...a.train, projectId: 1, modelPath: '/m' });
      expect(p).toMatchObject({
        mode: 'full',
        template: 'chat',
        schedule: 'cosine',
        minLrRatio: 0.1,
        epochs: FINETUNE.epochs,
        lr: FINETUNE.lr,
        weightDecay: FINETUNE.weightDecay,
        warmupSteps: FINETUNE.warmupSteps,
        batchSize: FINETUNE.batchSize,
        maxLength: FINETUNE.maxLength,
      });
    }
    const byName = Object.fromEntries(arms.map((a) => [a.name, a]));
    expect(byName['plain']).toMatchObject({ train: { method: 'plain' } });
    expect(byName['plain']!.selection).toBeUndefined();
    expect(byName['sss-b-1%']).toMatchObject({
      train: { method: 'replay', methodParams: { shuffleMix: true } },
      selection: { method: 'sss-b', budget: { fraction: 0.01 } },
    });
    expect(byName['random-5%']).toMatchObject({ train: { method: 'replay' }, selection: { method: 'random', budget: { fraction: 0.05 } } });
    const der = ARMS.find((a) => a.kind === 'der')!;
    if (der.kind !== 'der') throw new Error('the recipe has a DER arm');
    expect(byName['der']).toMatchObject({
      train: { method: 'der', methodParams: { alpha: der.alpha, topK: der.k, bufferBatch: der.bufferBatch } },
      selection: { method: der.method, budget: { fraction: der.budget } },
    });
  });

  it('gives each preset its arms and seeds (shifted to --seed) and a checked request', () => {
    const full = replicationGrid({ preset: 'full', seed: 10, projectId: 1, modelPath: '/m', dataDir: '/d' });
    expect(full.seeds).toEqual([10, 11, 12, 13, 14]);
    expect(full.arms).toHaveLength(ARMS.length);
    expect(full.eval.suites).toEqual(['advbench', 'xstest', 'sst2'].map((builtin) => ({ builtin, dataDir: '/d' })));
    expect(full.eval).toMatchObject({ sampling: { maxNewTokens: 24, temperature: 0 }, promptFormat: 'chat' });
    expect(full.eval.limit).toBeUndefined();
    expect(ExperimentRequest.safeParse(full).success).toBe(true);

    const smoke = replicationGrid({ preset: 'smoke', projectId: 1, modelPath: '/m', dataDir: '/d', taskDatasetId: 4 });
    expect(smoke.arms.map((a) => a.name)).toEqual(PRESETS.smoke.arms.map((a) => a.id));
    expect(smoke.seeds).toEqual([1]);
    expect(smoke.arms[0]!.train).toMatchObject({ maxSteps: 2, warmupSteps: 1, taskDatasetIds: [4] });
    expect(smoke.arms[0]!.train).not.toHaveProperty('epochs');
    expect(smoke.eval.limit).toBe(8);
    expect(replicationGrid({ preset: 'smoke', steps: 1, projectId: 1, modelPath: '/m', dataDir: '/d' }).arms[0]!.train).toMatchObject({
      maxSteps: 1,
      warmupSteps: 0,
    });
  });
});

describe('setting the replication up', () => {
  let t: { dir: string; cleanup: () => void };
  let s: Services;
  beforeEach(() => {
    t = tempDir('safetune-replication-');
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 0, maxLightJobs: 0 }); // queued, not run
  });
  afterEach(async () => {
    await s.close();
    t.cleanup();
  });

  it('imports the data once, keeps the pool’s recorded types, registers the model and reuses the project', async () => {
    const first = await startReplication(s, { preset: 'smoke' });
    const { setup } = first;
    expect(s.projects.get(setup.projectId).name).toBe('Miniature replication');
    const sets = s.datasets.list(setup.projectId);
    expect(sets.map((d) => [d.role, d.accepted])).toEqual([
      ['task', 1000],
      ['safety_pool', 1240],
    ]);
    // the pool's shipped behaviour types and categories, record for record
    const shipped = readFileSync(join(DIR, 'data', 'train', 'safety_pool.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { behaviour: string; categories: string[] });
    expect(setup.typedPoolRecords).toBe(1240);
    expect(s.datasets.behaviourCounts(setup.poolDatasetId)).toEqual({
      T1: shipped.filter((r) => r.behaviour === 'T1').length,
      T2: shipped.filter((r) => r.behaviour === 'T2').length,
    });
    const rows = s.datasets.mapRows(setup.poolDatasetId);
    expect(rows[0]).toMatchObject({ behaviour: shipped[0]!.behaviour, categories: shipped[0]!.categories });
    // the task pairs: SST-2's prompt template and the label word
    const task = s.datasets.roleRecords(setup.projectId, 'task');
    expect(task[0]!.response).toMatch(/^(positive|negative)$/);
    expect(s.models.list().map((m) => m.path)).toEqual([join(DIR, 'model')]);
    // the smoke grid: 2 arms, one seed; plain trains at once, sss-b selects first
    expect(first.experiment.cells.map((c) => [c.arm, c.seed, c.stage, c.state])).toEqual([
      ['plain', 1, 'train', 'queued'],
      ['sss-b-1%', 1, 'select', 'queued'],
    ]);
    const plainJob = s.jobs.get(first.experiment.cells[0]!.trainJobId!);
    expect(plainJob.params).toMatchObject({
      mode: 'full',
      template: 'chat',
      maxSteps: 2,
      modelPath: join(DIR, 'model'),
      taskDatasetIds: [setup.taskDatasetId],
      seed: 1,
    });
    expect(s.jobs.get(first.experiment.cells[1]!.selectJobId!).params).toMatchObject({
      method: 'sss-b',
      budget: { fraction: 0.01 },
      seed: 1,
      projectId: setup.projectId,
    });

    // the aligned model evaluated beside the grid with the grid's settings (the reference row)
    expect(s.jobs.get(first.alignedEvalJobId).params).toMatchObject({
      model: { kind: 'engine', path: join(DIR, 'model') },
      suites: ['advbench', 'xstest', 'sst2'].map((builtin) => ({ builtin, dataDir: join(DIR, 'data') })),
      limit: 8,
      promptFormat: 'chat',
    });

    const second = await startReplication(s, { preset: 'smoke', seed: 2 });
    expect(second.setup).toEqual(setup);
    expect(s.projects.list().filter((p) => p.name === 'Miniature replication')).toHaveLength(1);
    expect(s.datasets.list(setup.projectId)).toHaveLength(2);
    expect(s.models.list()).toHaveLength(1);
    expect(second.experiment.id).not.toBe(first.experiment.id);
    expect(second.experiment.seeds).toEqual([2]);
  });

  it('starts through replicate.start, granting the shipped folder so its jobs can be resumed from the app', async () => {
    const dispatch = createDispatcher(createHandlers(s), () => {});
    const bad = (await dispatch('replicate.start', { preset: 'huge' })) as CallResult<unknown>;
    expect(bad.ok).toBe(false);
    const r = (await dispatch('replicate.start', { preset: 'smoke', steps: 1 })) as CallResult<{ projectId: number; experiment: Experiment }>;
    if (!r.ok) throw new Error(r.error.message);
    expect(s.projects.get(r.value.projectId).name).toBe('Miniature replication');
    expect(r.value.experiment.cells).toHaveLength(2);
    expect(s.jobs.get(r.value.experiment.cells[0]!.trainJobId!).params).toMatchObject({ maxSteps: 1 });
    const folders = (await dispatch('access.folders', {})) as CallResult<{ grants: { path: string }[] }>;
    if (!folders.ok) throw new Error(folders.error.message);
    expect(folders.value.grants.map((g) => g.path)).toEqual([DIR]);
    // a queued cell's training job passes the access check a resume makes
    await s.jobs.cancel(r.value.experiment.cells[0]!.trainJobId!);
    const resumed = (await dispatch('jobs.resume', { id: r.value.experiment.cells[0]!.trainJobId! })) as CallResult<unknown>;
    expect(resumed.ok ? 'ok' : resumed.error.message).toBe('ok');
  });
});
