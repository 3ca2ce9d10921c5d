/**
 * The miniature replication as product jobs: the recipe's arms mapped onto experiment arms
 * (train.run parameters as FINETUNE says, the selection at the arm's budget), the presets' seeds,
 * and the set-up — run as jobs (the call returns at once): the shipped task and safety pool imported
 * once (the pool's recorded behaviour types taken at import, source label), the aligned model
 * registered, then the grid queued; a failed step stops it; a later start reuses everything.
 */
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import { cancelExperiment } from '../../../src/main/app/experiments';
import { advanceReplication, replicationArm, replicationDir, replicationGrid, replicationView, startReplication } from '../../../src/main/app/replication';
import type { Services } from '../../../src/main/app/services';
import { ARMS, FINETUNE, PRESETS } from '../../../src/main/replicate/recipe';
import type { CallResult } from '../../../src/shared/errors';
import { ExperimentRequest } from '../../../src/shared/experiments';
import type { ReplicationStarted } from '../../../src/shared/replication';
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
  });
  afterEach(async () => {
    await s.close();
    t.cleanup();
  });

  /** Waits until every set-up job of a start has ended (and its grid, if any, is queued). */
  async function settled(id: number): Promise<ReplicationStarted> {
    for (const until = Date.now() + 90_000; Date.now() < until; await new Promise((r) => setTimeout(r, 100))) {
      const v = replicationView(s, id);
      if (v.state !== 'setting-up' && v.steps.every((x) => x.state !== 'queued' && x.state !== 'running')) return v;
    }
    throw new Error(`replication ${id} still setting up after 90 s`);
  }

  it('returns at once with the set-up queued as jobs, imports nothing in the call, and a second start reuses the queued jobs', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 0, maxLightJobs: 0 }); // queued, not run
    const first = await startReplication(s, { preset: 'smoke' });
    expect(s.projects.get(first.projectId).name).toBe('Miniature replication');
    expect(first).toMatchObject({ state: 'setting-up', experiment: null, alignedEvalJobId: null });
    expect(first.steps.map((x) => [x.step, x.state])).toEqual([
      ['task', 'queued'],
      ['pool', 'queued'],
      ['model', 'queued'],
    ]);
    // nothing read into the store on the caller's thread: the jobs do it
    expect(s.datasets.list(first.projectId)).toEqual([]);
    expect(s.models.list()).toEqual([]);
    const job = (i: number) => s.jobs.get(first.steps[i]!.jobId!);
    expect([job(0).type, job(1).type, job(2).type]).toEqual(['data.import', 'data.import', 'model.inspect']);
    expect(job(0).params).toMatchObject({ role: 'task', path: join(s.workspace, 'replication', 'sst2_task_pairs.jsonl') });
    expect(job(1).params).toMatchObject({ role: 'safety_pool', path: join(DIR, 'data', 'train', 'safety_pool.jsonl'), behaviourField: 'behaviour' });
    expect(job(2).params).toEqual({ path: join(DIR, 'model') });

    const second = await startReplication(s, { preset: 'smoke', seed: 2 });
    expect(second.id).not.toBe(first.id);
    expect(second.steps.map((x) => x.jobId)).toEqual(first.steps.map((x) => x.jobId));
    expect(s.jobs.list({ limit: 1000 }).map((j) => j.type)).toHaveLength(3);
  });

  it('runs the set-up jobs, then queues the grid and the aligned evaluation; the pool keeps its recorded types, and a later start re-types nothing', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 1, maxLightJobs: 1 });
    const changed: number[] = [];
    s.events.on('replication.changed', (e) => changed.push(e.replicationId));
    const started = await startReplication(s, { preset: 'smoke', steps: 1, limit: 1 });
    const done = await settled(started.id);
    expect(done.steps.map((x) => [x.step, x.state, x.error])).toEqual([
      ['task', 'succeeded', null],
      ['pool', 'succeeded', null],
      ['model', 'succeeded', null],
    ]);
    expect(done.state).toBe('started');
    expect(changed).toContain(started.id);
    const experiment = done.experiment!;
    await cancelExperiment(s, experiment.id); // the grid's own jobs are not this test's subject
    await s.jobs.cancel(done.alignedEvalJobId!);

    const sets = s.datasets.list(done.projectId);
    expect(sets.map((d) => [d.role, d.accepted])).toEqual([
      ['task', 1000],
      ['safety_pool', 1240],
    ]);
    const [task, pool] = sets;
    // the pool's shipped behaviour types and categories, record for record, from the file
    const shipped = readFileSync(join(DIR, 'data', 'train', 'safety_pool.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { behaviour: string; categories: string[] });
    expect(s.datasets.behaviourCounts(pool!.id)).toEqual({
      T1: shipped.filter((r) => r.behaviour === 'T1').length,
      T2: shipped.filter((r) => r.behaviour === 'T2').length,
    });
    const first = s.datasets.records({ projectId: done.projectId, datasetId: pool!.id, duplicates: 'all', offset: 0, limit: 1 }).rows[0]!;
    expect(first).toMatchObject({ behaviour: shipped[0]!.behaviour, behaviourSource: 'label', categories: shipped[0]!.categories });
    expect(s.datasets.roleRecords(done.projectId, 'task')[0]!.response).toMatch(/^(positive|negative)$/);
    expect(s.models.list().map((m) => m.path)).toEqual([join(DIR, 'model')]);

    // the grid: the smoke arms on the aligned model, trained on the imported task data
    expect(experiment.cells.map((c) => [c.arm, c.seed])).toEqual([
      ['plain', 1],
      ['sss-b-1%', 1],
    ]);
    expect(s.jobs.get(experiment.cells[0]!.trainJobId!).params).toMatchObject({
      mode: 'full',
      maxSteps: 1,
      modelPath: join(DIR, 'model'),
      taskDatasetIds: [task!.id],
    });
    expect(s.jobs.get(done.alignedEvalJobId!).params).toMatchObject({
      model: { kind: 'engine', path: join(DIR, 'model') },
      suites: ['advbench', 'xstest', 'sst2'].map((builtin) => ({ builtin, dataDir: join(DIR, 'data') })),
      limit: 1,
      promptFormat: 'chat',
    });

    // a person corrects a type; a later start sets nothing up again and keeps the correction
    const flipped = first.behaviour === 'T1' ? 'T2' : 'T1';
    s.datasets.correctRecord(first.id, { behaviour: flipped });
    const jobsBefore = s.jobs.list({ limit: 1000 }).length;
    const again = await startReplication(s, { preset: 'smoke', seed: 2, steps: 1, limit: 1 });
    expect(again.steps.map((x) => [x.jobId, x.state])).toEqual([
      [null, 'done'],
      [null, 'done'],
      [null, 'done'],
    ]);
    expect(again.state).toBe('started');
    expect(again.experiment!.seeds).toEqual([2]);
    await cancelExperiment(s, again.experiment!.id);
    await s.jobs.cancel(again.alignedEvalJobId!);
    expect(s.jobs.list({ limit: 1000 }).filter((j) => j.type === 'data.import' || j.type === 'model.inspect')).toHaveLength(3);
    expect(s.jobs.list({ limit: 1000 }).length).toBeGreaterThan(jobsBefore);
    expect(s.datasets.getRecord(first.id)).toMatchObject({ behaviour: flipped, behaviourSource: 'user' });
    expect(s.datasets.list(done.projectId)).toHaveLength(2);
    expect(s.projects.list().filter((p) => p.name === 'Miniature replication')).toHaveLength(1);
  }, 120_000);

  it('stops with the failed step and its error, and queues no grid', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 1, maxLightJobs: 1 });
    const dir = join(t.dir, 'replication');
    cpSync(join(DIR, 'data'), join(dir, 'data'), { recursive: true });
    rmSync(join(dir, 'data', 'train', 'safety_pool.jsonl'));
    const done = await settled((await startReplication(s, { preset: 'smoke' }, dir)).id);
    expect(done.state).toBe('stopped');
    const pool = done.steps.find((x) => x.step === 'pool')!;
    expect(pool.state).toBe('failed');
    expect(pool.error).toMatch(/safety_pool\.jsonl/);
    expect(done.steps.find((x) => x.step === 'model')).toMatchObject({ state: 'failed', error: expect.stringMatching(/model/) });
    expect(done.experiment).toBeNull();
    expect(
      s.jobs
        .list({ limit: 1000 })
        .map((j) => j.type)
        .sort(),
    ).toEqual(['data.import', 'data.import', 'model.inspect']);
  }, 120_000);

  it('stops with why when its set-up jobs are cleared before they made anything, instead of setting up forever', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 0, maxLightJobs: 0 });
    const started = await startReplication(s, { preset: 'smoke' });
    for (const x of started.steps) await s.jobs.cancel(x.jobId!);
    expect(replicationView(s, started.id).state).toBe('stopped');
    s.jobs.clearFinished(); // cleared behind the app's back: the view says why, and only reads
    const v = replicationView(s, started.id);
    expect(v.state).toBe('stopped');
    expect(v.error).toMatch(/task data set "SST-2 task \(miniature replication\)" was deleted .*start the miniature replication again/);
    expect(s.replications.get(started.id).error).toBeNull();
    // the Jobs panel's Clear finished: the follower stores why, with no job event left to advance the start
    const changed: number[] = [];
    s.events.on('replication.changed', (e) => changed.push(e.replicationId));
    const cleared = (await createDispatcher(createHandlers(s), () => {})('jobs.clearFinished', {})) as CallResult<unknown>;
    expect(cleared.ok).toBe(true);
    expect(s.replications.get(started.id).error).toBe(v.error);
    expect(s.replications.unfinished()).toEqual([]);
    expect(changed).toContain(started.id);
  });

  it('stops with why when a data set or the model it waits on is deleted before its grid starts; a new start sets them up again', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 1, maxLightJobs: 1 });
    const modelJob = await s.jobs.waitFor(s.jobs.enqueue('model.inspect', { path: join(DIR, 'model') }).id, 60_000);
    expect(modelJob.error).toBeNull();
    const projectId = s.projects.create('Miniature replication').id;
    const made = (role: 'task' | 'safety_pool', name: string) => {
      const d = s.datasets.create({ projectId, role, name, sourcePath: `/d/${role}`, fileDigest: role, sizeBytes: 1, jobId: null });
      s.datasets.insertRecords(d.id, projectId, [
        { sourceRow: 0, sourceLine: 1, prompt: 'p', response: 'r', contentHash: `${role}-h`, categories: [], labels: {}, behaviour: 'T1' },
      ]);
      s.datasets.finish(d.id, 'ready');
      return d.id;
    };
    const taskDatasetId = made('task', 'SST-2 task (miniature replication)');
    const poolDatasetId = made('safety_pool', 'Safety pool (miniature replication)');
    const row = (params: object = {}) =>
      s.replications.create({
        projectId,
        params: { preset: 'smoke', dir: DIR, ...params },
        taskDatasetId,
        taskJobId: null,
        poolDatasetId,
        poolJobId: null,
        modelJobId: null,
      }).id;
    // the set-up had ended (everything there), then the pool was deleted before the follower ran
    const poolGone = row();
    const modelGone = row({ seed: 3 });
    s.datasets.delete(poolDatasetId);
    expect(replicationView(s, poolGone).state).toBe('stopped');
    expect(s.replications.get(poolGone).error).toBeNull(); // the view only reads
    expect(advanceReplication(s, poolGone)).toBe(false);
    expect(replicationView(s, poolGone)).toMatchObject({
      state: 'stopped',
      experiment: null,
      error: expect.stringMatching(/safety pool "Safety pool \(miniature replication\)" was deleted/),
    });
    // the model removed from the Models list (the pool put back under its name)
    made('safety_pool', 'Safety pool (miniature replication)');
    // through the Models list's Remove: the follower stops the start, no job event needed
    const removed = (await createDispatcher(createHandlers(s), () => {})('models.remove', { id: s.models.list()[0]!.id })) as CallResult<unknown>;
    expect(removed.ok).toBe(true);
    expect(s.replications.get(modelGone).error).toMatch(/aligned model .*model was removed from the Models list/);
    expect(advanceReplication(s, modelGone)).toBe(false);
    expect(replicationView(s, modelGone).error).toMatch(/aligned model .*model was removed from the Models list/);
    expect(s.replications.unfinished()).toEqual([]);
    expect(s.experiments.list(projectId)).toEqual([]);

    // a new start sets up what is missing; the stopped ones stay stopped
    const again = await startReplication(s, { preset: 'smoke' });
    expect(again.state).toBe('setting-up');
    expect(again.error).toBeNull();
    expect(again.steps.map((x) => [x.step, x.jobId === null])).toEqual([
      ['task', true],
      ['pool', true],
      ['model', false],
    ]);
    const done = await settled(again.id);
    expect(done.state).toBe('started');
    await cancelExperiment(s, done.experiment!.id);
    await s.jobs.cancel(done.alignedEvalJobId!);
    expect(s.experiments.list(projectId)).toHaveLength(1);
    expect([replicationView(s, poolGone).state, replicationView(s, modelGone).state]).toEqual(['stopped', 'stopped']);
  }, 120_000);

  it('re-imports a ready pool that has no recorded types, so the column is applied to its records', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 1, maxLightJobs: 1 });
    const projectId = s.projects.create('Miniature replication').id;
    const path = join(DIR, 'data', 'train', 'safety_pool.jsonl');
    const plain = await s.jobs.waitFor(
      s.jobs.enqueue('data.import', { projectId, path, role: 'safety_pool', name: 'Safety pool (miniature replication)' }, projectId).id,
      60_000,
    );
    const poolId = (plain.result as { datasetId: number }).datasetId;
    expect(s.datasets.get(poolId).recordedTypes).toBe(0);
    const started = await startReplication(s, { preset: 'smoke', steps: 1, limit: 1 });
    const pool = started.steps.find((x) => x.step === 'pool')!;
    expect(pool.jobId).not.toBeNull();
    const job = await s.jobs.waitFor(pool.jobId!, 60_000);
    expect(job.result).toMatchObject({ datasetId: poolId, alreadyImported: true });
    const done = await settled(started.id);
    if (done.experiment) await cancelExperiment(s, done.experiment.id);
    if (done.alignedEvalJobId) await s.jobs.cancel(done.alignedEvalJobId);
    expect(done.state).toBe('started');
    expect(s.datasets.get(poolId).recordedTypes).toBe(1240);
    expect(s.datasets.list(projectId).filter((d) => d.role === 'safety_pool')).toHaveLength(1);
  }, 120_000);

  it('starts through replicate.start at once, granting the shipped folder so its jobs can be resumed from the app', async () => {
    s = testServices(join(t.dir, 'ws'), { maxHeavyJobs: 0, maxLightJobs: 0 });
    const dispatch = createDispatcher(createHandlers(s), () => {});
    const bad = (await dispatch('replicate.start', { preset: 'huge' })) as CallResult<unknown>;
    expect(bad.ok).toBe(false);
    const r = (await dispatch('replicate.start', { preset: 'smoke', steps: 1 })) as CallResult<ReplicationStarted>;
    if (!r.ok) throw new Error(r.error.message);
    expect(s.projects.get(r.value.projectId).name).toBe('Miniature replication');
    expect(r.value).toMatchObject({ state: 'setting-up', experiment: null });
    const got = (await dispatch('replicate.get', { id: r.value.id })) as CallResult<ReplicationStarted>;
    expect(got.ok && got.value.steps).toEqual(r.value.steps);
    const folders = (await dispatch('access.folders', {})) as CallResult<{ grants: { path: string }[] }>;
    if (!folders.ok) throw new Error(folders.error.message);
    expect(folders.value.grants.map((g) => g.path)).toEqual([DIR]);
    // each set-up job passes the access check a resume makes
    for (const step of r.value.steps) {
      await s.jobs.cancel(step.jobId!);
      const resumed = (await dispatch('jobs.resume', { id: step.jobId! })) as CallResult<unknown>;
      expect(resumed.ok ? 'ok' : resumed.error.message).toBe('ok');
    }
  });
});
