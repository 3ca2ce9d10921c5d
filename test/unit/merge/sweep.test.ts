/**
 * Coefficient sweeps through the contract: per α a merge.run of aligned + α·(fine-tuned − aligned)
 * into the workspace's models/, a model.inspect that lists it, an eval.run on tiny suites — all as
 * jobs, found again as one sweep with α, model, evaluation run and headline metrics per point.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatch } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { JobStore } from '../../../src/main/db/jobs';
import { forwardLogits, loadModel, openModel } from '../../../src/main/engine';
import { canonicalPath } from '../../../src/main/access/paths';
import { calls } from '../../../src/shared/contract';
import type { CallResult } from '../../../src/shared/errors';
import { MergeSweepRequest, type MergeSweep } from '../../../src/shared/merge';
import { writeRandomAdapter } from '../../helpers/lora';
import { tempDir, testServices } from '../../helpers/services';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedPath('data');

const ok = <T>(r: CallResult<unknown>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};
const err = (r: CallResult<unknown>) => {
  if (r.ok) throw new Error('expected the call to fail');
  return r.error;
};

describe('sweep requests', () => {
  const base = {
    projectId: 1,
    source: { aligned: { modelPath: '/m/a.gguf' }, fineTuned: { modelPath: '/m/a.gguf', adapterPath: '/r/adapter' } },
    alphas: [0, 0.5],
  };
  it('refuse repeated or out-of-range α, no α, and a density for methods that do not trim', () => {
    expect(MergeSweepRequest.safeParse(base).success).toBe(true);
    expect(MergeSweepRequest.safeParse({ ...base, alphas: [0.5, 0.5] }).error?.issues[0]?.message).toBe('each α once');
    expect(MergeSweepRequest.safeParse({ ...base, alphas: [] }).error?.issues[0]?.message).toBe('list at least one α');
    expect(MergeSweepRequest.safeParse({ ...base, alphas: [11] }).error?.issues[0]?.message).toBe('α must be in [-10, 10]');
    expect(MergeSweepRequest.safeParse({ ...base, density: 0.3 }).error?.issues[0]?.message).toBe('density applies to ties only, not task_arithmetic');
    expect(MergeSweepRequest.safeParse({ ...base, method: 'ties', density: 0.3 }).success).toBe(true);
    expect(MergeSweepRequest.safeParse({ ...base, method: 'ties', density: 0 }).success).toBe(false);
  });

  it('parse the eval settings once, as eval.run parses them: the judge a guard model adds, judge parameters with defaults, errors under eval', () => {
    const suites = [{ builtin: 'advbench', dataDir: '/d' }];
    const guardModel = { kind: 'engine', path: '/m/guard.gguf' } as const;
    const r = MergeSweepRequest.parse({ ...base, eval: { suites, guardModel } });
    expect(r.eval?.judges).toEqual(['keyword-start', 'llama-guard-3']);
    expect(Object.keys(r.eval?.judgeParams ?? {})).toEqual(['keyword-start', 'llama-guard-3']);
    expect(r.eval).not.toHaveProperty('projectId');
    expect(r.eval).not.toHaveProperty('model');
    const bad = MergeSweepRequest.safeParse({ ...base, eval: { suites, judges: ['llama-guard-3'] } });
    expect(bad.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['eval.guardModel', 'judge llama-guard-3 needs a Llama Guard 3 model (guardModel)'],
    ]);
  });
});

describe('starting a sweep through the contract', () => {
  let t: { dir: string; cleanup: () => void };
  let s: Services;
  let dispatch: Dispatch;
  let projectId: number;
  let outside: string;
  beforeEach(async () => {
    t = tempDir('safetune-sweep-');
    s = testServices(join(t.dir, 'workspace'));
    dispatch = createDispatcher(createHandlers(s), () => {});
    projectId = ok<{ id: number }>(await dispatch('projects.create', { name: 'Sweeps' })).id;
    outside = join(canonicalPath(t.dir), 'outside');
    mkdirSync(outside);
  });
  afterEach(async () => {
    await s.close();
    t.cleanup();
  });

  it('refuses models outside the readable folders and queues nothing', async () => {
    const model = join(outside, 'a.gguf');
    writeFileSync(model, 'x');
    const e = err(
      await dispatch('merge.startSweep', {
        projectId,
        source: { aligned: { modelPath: model }, fineTuned: { modelPath: model, adapterPath: join(outside, 'adapter') } },
        alphas: [0.5],
      }),
    );
    expect(e.code).toBe('forbidden');
    expect(e.message).toMatch(/a\.gguf .*outside the folders this workspace may read \(the model to merge \(base\)\)/);
    expect(ok<unknown[]>(await dispatch('jobs.list', {}))).toEqual([]);
    expect(existsSync(join(s.workspace, 'models'))).toBe(false);
  });

  it('takes the base model and adapter of a finished training run, and refuses one that has not finished', async () => {
    const store = new JobStore(s.db);
    // rows written directly (the runner never sees them queued): a finished and a failed training run
    const train = (state: string, result: unknown) => {
      const row = store.insert({ projectId, type: 'train.run', title: 'train', params: { modelPath: join(outside, 'base.gguf') } });
      s.db.prepare('UPDATE jobs SET state = ?, result = ? WHERE id = ?').run(state, JSON.stringify(result), row.id);
      return row.id;
    };
    const failed = train('failed', null);
    const e = err(await dispatch('merge.startSweep', { projectId, source: { trainJobId: failed }, alphas: [0.5] }));
    expect(e).toMatchObject({ code: 'invalid_input' });
    expect(e.message).toMatch(new RegExp(`Training run ${failed} has not finished \\(failed\\)`));
    const done = train('succeeded', { adapterPath: join(s.workspace, 'runs', `train-9`, 'adapter') });
    // its base model is read through the access policy too
    const refused = err(await dispatch('merge.startSweep', { projectId, source: { trainJobId: done }, alphas: [0.5] }));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toMatch(/base\.gguf/);
    ok(await dispatch('access.grant', { path: outside }));
    const sweep = ok<MergeSweep>(await dispatch('merge.startSweep', { projectId, source: { trainJobId: done }, alphas: [0.5], method: 'ties', density: 0.5 }));
    expect(sweep).toMatchObject({
      trainJobId: done,
      method: 'ties',
      aligned: { modelPath: join(outside, 'base.gguf') },
      fineTuned: { modelPath: join(outside, 'base.gguf'), adapterPath: join(s.workspace, 'runs', 'train-9', 'adapter') },
    });
    expect(sweep.name).toBe('ties sweep of train-9');
    const merge = s.jobs.get(sweep.points[0]!.mergeJobId!);
    expect(merge.type).toBe('merge.run');
    expect(merge.params).toMatchObject({ config: { method: 'ties', parameters: { lambda: 0.5 }, models: [{ parameters: { weight: 1, density: 0.5 } }] } });
    const other = ok<{ id: number }>(await dispatch('projects.create', { name: 'Other' })).id;
    expect(err(await dispatch('merge.startSweep', { projectId: 9999, source: { trainJobId: done }, alphas: [1] })).code).toBe('not_found');
    expect(ok<MergeSweep[]>(await dispatch('merge.sweeps', { projectId: other }))).toEqual([]);

    // base.gguf is no model: the merge fails, and the point stops there (nothing else queued)
    expect((await s.jobs.waitFor(merge.id, 60_000)).state).toBe('failed');
    await new Promise((r) => setTimeout(r, 50));
    expect(ok<MergeSweep>(await dispatch('merge.sweep', { id: sweep.id })).points[0]).toMatchObject({
      stage: 'merge',
      state: 'failed',
      inspectJobId: null,
      evalJobId: null,
    });
    // a merge that succeeded while the app closed before queueing the next step: queued at the next start
    s.db.prepare("UPDATE jobs SET state = 'succeeded' WHERE id = ?").run(merge.id);
    await s.close();
    s = testServices(join(t.dir, 'workspace'));
    await new Promise((r) => setTimeout(r, 50));
    const point = s.sweeps.points(sweep.id)[0]!;
    expect(point.inspectJobId).not.toBeNull();
    expect(s.jobs.get(point.inspectJobId!)).toMatchObject({ type: 'model.inspect', params: { path: point.modelPath } });
  });
});

describe.skipIf(!stories || !data)(
  `a sweep of 2 α on stories260K, merged, listed and evaluated as jobs${stories && data ? '' : ` — ${SHARED_MISSING}`}`,
  () => {
    let t: { dir: string; cleanup: () => void };
    let s: Services;
    let dispatch: Dispatch;
    let projectId: number;
    const seen: string[] = [];
    beforeAll(async () => {
      t = tempDir('safetune-sweep-stories-');
      s = testServices(join(t.dir, 'workspace'));
      dispatch = createDispatcher(createHandlers(s), () => {});
      s.events.on('merge.sweepChanged', (e) => seen.push(`sweep ${e.sweepId}`));
      s.events.on('models.changed', () => seen.push('models'));
      projectId = ok<{ id: number }>(await dispatch('projects.create', { name: 'Sweep' })).id;
    });
    afterAll(async () => {
      await s?.close();
      t?.cleanup();
    });

    async function logits(path: string, lora?: string): Promise<Float32Array> {
      const rt = await openModel(path, { threads: 1, ...(lora ? { lora, loraMode: 'unmerged' as const } : {}) });
      try {
        return (await forwardLogits(rt, [[1, 403, 407, 261, 378]])).logits;
      } finally {
        await rt.release();
      }
    }
    const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

    it('merges each α into models/, adds it to the Models list, evaluates it, and finds it all again as the sweep', async () => {
      ok(await dispatch('access.grant', { path: dirname(stories!) }));
      ok(await dispatch('access.grant', { path: data! }));
      const adapter = join(s.workspace, 'runs', 'train-1', 'adapter');
      mkdirSync(dirname(adapter), { recursive: true });
      writeRandomAdapter(adapter, loadModel(stories!), ['q_proj', 'v_proj'], 4, 8, 5);
      const taskFile = join(s.workspace, 'task.jsonl');
      writeFileSync(taskFile, ['{"prompt":"Once upon a time","reference":"there"}', '{"prompt":"The cat","reference":"sat"}'].join('\n'));
      const request = {
        projectId,
        name: 'half and whole',
        source: { aligned: { modelPath: stories! }, fineTuned: { modelPath: stories!, adapterPath: adapter } },
        alphas: [0, 1],
        eval: {
          suites: [
            { builtin: 'advbench', dataDir: data! },
            { builtin: 'xstest', dataDir: data! },
            { file: taskFile, kind: 'task' as const },
          ],
          limit: 2,
          sampling: { maxNewTokens: 6, temperature: 0 },
          promptFormat: 'raw' as const,
        },
      };
      const started = ok<MergeSweep>(await dispatch('merge.startSweep', request));
      expect(calls['merge.sweep'].output.safeParse(started).success).toBe(true);
      expect(started.outDir).toBe(join(s.workspace, 'models', 'sweep-half_and_whole'));
      expect(started.points.map((p) => [p.alpha, p.stage, p.modelPath])).toEqual([
        [0, 'merge', join(started.outDir, 'lambda-0.gguf')],
        [1, 'merge', join(started.outDir, 'lambda-1.gguf')],
      ]);

      let sweep = started;
      const deadline = Date.now() + 480_000;
      while (sweep.points.some((p) => p.stage !== 'done') && Date.now() < deadline) {
        const stuck = sweep.points.find((p) => ['failed', 'cancelled', 'interrupted'].includes(p.state));
        if (stuck) {
          const id = stuck.stage === 'merge' ? stuck.mergeJobId : stuck.stage === 'register' ? stuck.inspectJobId : stuck.evalJobId;
          throw new Error(`α = ${stuck.alpha} ${stuck.stage} ${stuck.state}: ${s.jobs.get(id!).error}`);
        }
        await new Promise((r) => setTimeout(r, 250));
        sweep = ok<MergeSweep>(await dispatch('merge.sweep', { id: started.id }));
      }
      expect(sweep.points.map((p) => [p.alpha, p.stage, p.state])).toEqual([
        [0, 'done', 'succeeded'],
        [1, 'done', 'succeeded'],
      ]);

      // the merged models are in the Models list, and each was evaluated
      const models = ok<{ id: number; path: string }[]>(await dispatch('models.list', {}));
      for (const p of sweep.points) {
        expect(models.find((m) => m.path === p.modelPath)?.id).toBe(p.modelId);
        const run = s.evaluations.run(p.evalRunId!);
        expect(run.jobId).toBe(p.evalJobId);
        expect(run.name).toBe(`half and whole · α = ${p.alpha}`);
        expect(run.params).toMatchObject({ model: { kind: 'engine', path: p.modelPath } });
        expect(p.summary).toMatchObject({ attackSuccess: { n: 2 }, task: { n: 2 } });
        expect(s.jobs.get(p.mergeJobId!).state).toBe('succeeded');
      }
      // α scales the task vector: 0 is the aligned model, 1 the aligned model with the adapter
      const [zero, one] = sweep.points;
      expect(maxDiff(await logits(zero!.modelPath), await logits(stories!))).toBeLessThan(1e-5);
      expect(maxDiff(await logits(one!.modelPath), await logits(stories!, adapter))).toBeLessThan(1e-3);
      expect(maxDiff(await logits(one!.modelPath), await logits(stories!))).toBeGreaterThan(1e-2);

      // the sweep is found again by project, and Compare takes its runs
      expect(ok<MergeSweep[]>(await dispatch('merge.sweeps', { projectId })).map((x) => x.id)).toEqual([started.id]);
      const rows = ok<{ runId: number; attackSuccess: { n: number } }[]>(await dispatch('eval.compare', { ids: sweep.points.map((p) => p.evalRunId!) }));
      expect(rows.map((r) => r.attackSuccess.n)).toEqual([2, 2]);
      expect(seen).toContain(`sweep ${started.id}`);
      expect(seen).toContain('models');
      expect(readdirSync(started.outDir).sort()).toEqual(['lambda-0.gguf', 'lambda-1.gguf']);
    }, 600_000);
  },
);
