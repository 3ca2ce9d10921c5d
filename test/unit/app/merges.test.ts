/**
 * Single merges from the app (the Merge tab): merge.start writes into a new folder of models/ in the
 * chosen format and the app adds the merged model to the Models list once written; a merge.run
 * queued without that mark is not listed. merge.plan: the tab's size preview, which is what the merge
 * writes. merge.toYaml / merge.fromYaml: the tab's YAML export and import.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatch } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { loadModel } from '../../../src/main/engine';
import type { Job } from '../../../src/shared/domain';
import type { CallResult } from '../../../src/shared/errors';
import type { MergeConfig, MergePlanSummary } from '../../../src/shared/merge';
import { writeRandomAdapter } from '../../helpers/lora';
import { tempDir, testServices } from '../../helpers/services';
import { sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');

const ok = <T>(r: CallResult<unknown>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};

describe('single merges through the contract', () => {
  let t: { dir: string; cleanup: () => void };
  let s: Services;
  let dispatch: Dispatch;
  let projectId: number;
  beforeEach(async () => {
    t = tempDir('safetune-merges-');
    s = testServices(join(t.dir, 'workspace'));
    dispatch = createDispatcher(createHandlers(s), () => {});
    projectId = ok<{ id: number }>(await dispatch('projects.create', { name: 'Merges' })).id;
  });
  afterEach(async () => {
    await s.close();
    t.cleanup();
  });

  async function settled(id: number): Promise<Job> {
    for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      const j = s.jobs.get(id);
      if (!['queued', 'running'].includes(j.state)) return j;
    }
    throw new Error(`job ${id} did not finish`);
  }

  it.skipIf(!stories)(
    'merge.start writes a new folder of models/ and adds the merged model to the Models list; a plain merge.run is not listed',
    async () => {
      ok(await dispatch('access.grant', { path: dirname(stories!) }));
      const adapter = join(s.workspace, 'runs', 'train-1', 'adapter');
      mkdirSync(dirname(adapter), { recursive: true });
      writeRandomAdapter(adapter, loadModel(stories!), ['q_proj', 'v_proj'], 4, 8, 5);
      const config = {
        method: 'task_arithmetic' as const,
        base: { modelPath: stories! },
        models: [{ model: { modelPath: stories!, adapterPath: adapter }, parameters: { weight: 1 } }],
        parameters: { lambda: 0.5 },
      };

      const job = ok<Job>(await dispatch('merge.start', { projectId, run: { config, name: 'half back' } }));
      expect(job.projectId).toBe(projectId);
      expect(job.params).toMatchObject({
        addToModels: true,
        name: 'half back',
        outPath: join(s.workspace, 'models', 'task_arithmetic+stories260K', 'merged.gguf'),
      });
      const done = await settled(job.id);
      expect(done.state, done.error ?? '').toBe('succeeded');
      const outPath = (done.result as { outPath: string }).outPath;
      expect(existsSync(outPath)).toBe(true);
      let listed: { path: string }[] = [];
      for (
        const deadline = Date.now() + 60_000;
        Date.now() < deadline && !listed.some((m) => m.path === outPath);
        await new Promise((r) => setTimeout(r, 100))
      ) {
        listed = ok<{ path: string }[]>(await dispatch('models.list', {}));
      }
      expect(listed.map((m) => m.path)).toContain(outPath);

      // the same merge queued as a plain merge.run (as the CLI's callers do) writes the model but does not list it
      const plain = ok<Job>(await dispatch('jobs.start', { projectId, spec: { type: 'merge.run', params: { config } } }));
      const plainDone = await settled(plain.id);
      expect(plainDone.state, plainDone.error ?? '').toBe('succeeded');
      await new Promise((r) => setTimeout(r, 500));
      expect(
        s.jobs
          .list({ limit: 100 })
          .filter((j) => j.type === 'model.inspect')
          .map((j) => (j.params as { path: string }).path),
      ).toEqual([outPath]);
    },
    180_000,
  );

  it.skipIf(!stories)(
    'merge.start writes the chosen format: a Hugging Face folder from a GGUF base is refused by the merge, naming why',
    async () => {
      ok(await dispatch('access.grant', { path: dirname(stories!) }));
      const config = { method: 'linear' as const, models: [{ model: { modelPath: stories! }, parameters: { weight: 1 } }] };
      const job = ok<Job>(await dispatch('merge.start', { projectId, run: { config }, format: 'hf' }));
      expect((job.params as { outPath: string }).outPath).toBe(join(s.workspace, 'models', 'linear+stories260K', 'merged'));
      const done = await settled(job.id);
      expect(done.state).toBe('failed');
      expect(done.error).toMatch(/is a GGUF file, so the merged model is one too/);
    },
    120_000,
  );

  it.skipIf(!stories)(
    'merge.plan previews the size merge.start then writes, the peak memory and the free disk; it reads only granted models',
    async () => {
      const adapter = join(s.workspace, 'runs', 'train-1', 'adapter');
      mkdirSync(dirname(adapter), { recursive: true });
      writeRandomAdapter(adapter, loadModel(stories!), ['q_proj', 'v_proj'], 4, 8, 5);
      const config = {
        method: 'ties' as const,
        base: { modelPath: stories! },
        models: [{ model: { modelPath: stories!, adapterPath: adapter }, parameters: { weight: 1, density: 0.5 } }],
        parameters: { lambda: 0.5 },
      };
      const denied = await dispatch('merge.plan', { run: { config } });
      expect(denied).toMatchObject({ ok: false, error: { code: 'forbidden' } });
      ok(await dispatch('access.grant', { path: dirname(stories!) }));
      const plan = ok<MergePlanSummary>(await dispatch('merge.plan', { run: { config, threads: 1 } }));
      expect(plan).toMatchObject({ format: 'gguf', threads: 1 });
      expect(plan.peakMemoryBytes).toBeGreaterThan(plan.bufferBytes);
      expect(plan.freeBytes).toBeGreaterThan(plan.outputBytes);
      expect(existsSync(join(s.workspace, 'models', 'merge-preview'))).toBe(false);
      const job = ok<Job>(await dispatch('merge.start', { projectId, run: { config, threads: 1 } }));
      const done = await settled(job.id);
      expect(done.state, done.error ?? '').toBe('succeeded');
      expect(statSync((done.result as { outPath: string }).outPath).size).toBe(plan.outputBytes);
      // a folder output from a GGUF base is refused by the plan as the merge would refuse it
      const bad = await dispatch('merge.plan', { run: { config }, format: 'hf' });
      expect(bad).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
      if (!bad.ok) expect(bad.error.message).toMatch(/is a GGUF file, so the merged model is one too/);
    },
    120_000,
  );

  it('exports a config as mergekit YAML and imports it back; an unknown key is named with its line', async () => {
    const config: MergeConfig = {
      method: 'ties',
      base: { modelPath: '/m/base.gguf' },
      models: [{ model: { modelPath: '/m/base.gguf', adapterPath: '/r/adapter' }, parameters: { weight: 1, density: 0.2 } }],
      parameters: { lambda: 0.5 },
      dtype: 'float16',
    };
    const { yaml } = ok<{ yaml: string }>(await dispatch('merge.toYaml', { config }));
    expect(yaml).toContain('merge_method: ties');
    expect(yaml).toContain('model: /m/base.gguf+/r/adapter');
    expect(ok<MergeConfig>(await dispatch('merge.fromYaml', { yaml, file: 'ties.yml' }))).toEqual(config);
    const bad = await dispatch('merge.fromYaml', { yaml: `${yaml}weights_only: true\n`, file: 'ties.yml' });
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.error.code).toBe('invalid_input');
      expect(bad.error.message).toMatch(/^ties\.yml:\d+: weights_only: unknown key weights_only/);
    }
  });
});
