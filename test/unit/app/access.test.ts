import { mkdirSync, readFileSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatch } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { SelectionStore } from '../../../src/main/db/selections';
import { startOpenAIServer } from '../../../src/main/eval/openaiServer';
import { calls } from '../../../src/shared/contract';
import type { CallResult } from '../../../src/shared/errors';
import { tempDir, testServices } from '../../helpers/services';
import { ScriptedGenerator } from '../eval/fakes';

let t: { dir: string; cleanup: () => void };
let s: Services;
let dispatch: Dispatch;
let projectId: number;
let data: string;

const ok = <T>(r: CallResult<unknown>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};

beforeEach(async () => {
  t = tempDir('safetune-access-dispatch-');
  s = testServices(join(t.dir, 'workspace'));
  dispatch = createDispatcher(createHandlers(s), () => {});
  projectId = ok<{ id: number }>(await dispatch('projects.create', { name: 'Access' })).id;
  data = join(realpathSync(t.dir), 'data');
  mkdirSync(data);
});

afterEach(async () => {
  await s.close();
  t.cleanup();
});

describe('access through the contract (browser mode and desktop IPC share these handlers)', () => {
  it('refuses importing /etc/passwd with a clear message and queues nothing', async () => {
    const r = await dispatch('jobs.start', { spec: { type: 'data.import', params: { projectId, path: '/etc/passwd', role: 'task' } } });
    expect(r).toEqual({
      ok: false,
      error: {
        code: 'forbidden',
        message: '/etc/passwd is outside the folders this workspace may read (the file to import). Grant its folder in Settings → Folders & servers first.',
        details: { path: '/etc/passwd', field: 'the file to import' },
      },
    });
    expect(ok<unknown[]>(await dispatch('jobs.list', {}))).toEqual([]);
    // and neither /etc nor the home folder can be granted to get there
    expect(await dispatch('access.grant', { path: '/etc' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await dispatch('access.grant', { path: homedir() })).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining('is your home folder') },
    });
    expect(await dispatch('access.grant', { path: '/' })).toMatchObject({
      ok: false,
      error: { code: 'forbidden', message: expect.stringContaining('is the whole disk') },
    });
  });

  it('checks every path-carrying job parameter', async () => {
    const model = '/etc/model.gguf';
    const specs = [
      { type: 'file.checksum', params: { path: '/etc/shadow' } },
      { type: 'data.analyse', params: { projectId, datasetId: 1, referenceDir: '/etc' } },
      { type: 'data.analyse', params: { projectId, datasetId: 1, embedderPath: '/etc' } },
      { type: 'data.analyse', params: { projectId, datasetId: 1, judge: 'wildguard', judgeModel: { kind: 'engine', path: model } } },
      { type: 'select.run', params: { projectId, method: 'cossim', budget: { count: 1 }, referenceDir: '/etc' } },
      { type: 'select.run', params: { projectId, method: 'pss', budget: { count: 1 }, embedderPath: '/etc' } },
      { type: 'model.inspect', params: { path: model } },
      { type: 'engine.generate', params: { modelPath: model, prompt: 'hi' } },
      { type: 'engine.generate', params: { modelPath: join(s.workspace, 'm.gguf'), adapterPath: '/etc', prompt: 'hi' } },
      { type: 'train.run', params: { projectId, modelPath: model } },
      { type: 'train.preflight', params: { projectId, modelPath: model } },
      { type: 'model.merge', params: { modelPath: model, adapterPath: join(s.workspace, 'runs') } },
      { type: 'eval.run', params: { projectId, model: { kind: 'engine', path: model }, suites: [{ builtin: 'xstest', dataDir: s.workspace }] } },
      {
        type: 'eval.run',
        params: { projectId, model: { kind: 'engine', path: join(s.workspace, 'm.gguf') }, suites: [{ builtin: 'xstest', dataDir: '/etc' }] },
      },
      {
        type: 'eval.run',
        params: { projectId, model: { kind: 'engine', path: join(s.workspace, 'm.gguf') }, suites: [{ file: '/etc/passwd', kind: 'harmful' }] },
      },
      {
        type: 'eval.run',
        params: {
          projectId,
          model: { kind: 'engine', path: join(s.workspace, 'm.gguf') },
          suites: [{ builtin: 'xstest', dataDir: s.workspace }],
          referenceDir: '/etc',
        },
      },
      {
        type: 'eval.run',
        params: {
          projectId,
          model: { kind: 'engine', path: join(s.workspace, 'm.gguf') },
          guardModel: { kind: 'engine', path: model },
          suites: [{ builtin: 'xstest', dataDir: s.workspace }],
        },
      },
    ];
    for (const spec of specs) {
      const r = await dispatch('jobs.start', { spec });
      expect(r, JSON.stringify(spec)).toMatchObject({
        ok: false,
        error: { code: 'forbidden', message: expect.stringContaining('is outside the folders this workspace may read') },
      });
    }
    expect(await dispatch('train.estimateMemory', { modelPath: model, batchSize: 1, maxLength: 8, rank: 1, targetModules: ['q'] })).toMatchObject({
      ok: false,
      error: { code: 'forbidden' },
    });
    expect(ok<unknown[]>(await dispatch('jobs.list', {}))).toEqual([]);
  });

  it('imports from a folder once the user granted it, and records read back', async () => {
    const file = join(data, 'task.jsonl');
    writeFileSync(file, ['cat', 'dog'].map((a) => JSON.stringify({ instruction: `About the ${a}`, input: '', output: `The ${a}.` })).join('\n') + '\n');
    const start = { spec: { type: 'data.import', params: { projectId, path: file, role: 'task' } } };
    expect(await dispatch('jobs.start', start)).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const grant = ok<{ id: number; path: string; kind: string }>(await dispatch('access.grant', { path: data }));
    expect(grant).toMatchObject({ path: data, kind: 'folder' });
    expect(ok<{ grants: unknown[] }>(await dispatch('access.folders', {})).grants).toEqual([grant]);
    const job = ok<{ id: number }>(await dispatch('jobs.start', start));
    expect((await s.jobs.waitFor(job.id)).state).toBe('succeeded');
    const records = ok<{ total: number; rows: { prompt: string }[] }>(await dispatch('data.records', { projectId }));
    expect(records.rows.map((r) => r.prompt).sort()).toEqual(['About the cat', 'About the dog']);
    // the granted folder can be browsed, and the file is listed with its size
    const listing = ok<{ entries: { name: string; kind: string; size: number }[] }>(await dispatch('access.browse', { path: data }));
    expect(listing.entries).toEqual([{ name: 'task.jsonl', path: file, kind: 'file', size: readFileSync(file).length }]);
    expect(await dispatch('access.browse', { path: '/etc' })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    // revoking the grant stops a resume reading it again
    expect(ok(await dispatch('access.revoke', { id: grant.id }))).toEqual({ id: grant.id });
    s.db.prepare(`UPDATE jobs SET state = 'failed' WHERE id = ?`).run(job.id);
    expect(await dispatch('jobs.resume', { id: job.id })).toMatchObject({ ok: false, error: { code: 'forbidden' } });
  });

  it('select.export cannot choose its path, writes into exports/ and never overwrites', async () => {
    const summary = { budget: 0, selected: 0, eligible: 0, shortfall: 0, poolSize: 0, perCategory: {}, perBehaviour: {}, embedder: null };
    const selectionId = new SelectionStore(s.db).create(
      { projectId, method: 'random', params: { projectId, method: 'random', budget: { count: 1 }, seed: 0, cossimReference: 'categories' }, summary },
      [],
    );
    const chosen = await dispatch('select.export', { selectionId, format: 'alpaca', path: join(t.dir, '.bashrc') });
    expect(chosen).toMatchObject({ ok: false, error: { code: 'invalid_input', message: expect.stringContaining('path') } });
    const exports = join(s.workspace, 'exports');
    mkdirSync(exports, { recursive: true });
    const taken = join(exports, `project-${projectId}-selection-${selectionId}-Preview.alpaca.jsonl`);
    writeFileSync(taken, 'precious\n');
    const first = ok<{ path: string }>(await dispatch('select.export', { selectionId, format: 'alpaca' }));
    const second = ok<{ path: string }>(await dispatch('select.export', { selectionId, format: 'alpaca' }));
    expect(first.path).toBe(join(exports, `project-${projectId}-selection-${selectionId}-Preview-2.alpaca.jsonl`));
    expect(second.path).toBe(join(exports, `project-${projectId}-selection-${selectionId}-Preview-3.alpaca.jsonl`));
    expect(readFileSync(taken, 'utf8')).toBe('precious\n');
    expect(readdirSync(exports).sort()).toHaveLength(3);
  });

  it('evaluates only against configured servers, with the stored key instead of caller headers', async () => {
    const params = {
      projectId,
      model: { kind: 'http', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKey: 'caller-chosen' },
      suites: [{ builtin: 'xstest', dataDir: s.workspace }],
    };
    const refused = await dispatch('jobs.start', { spec: { type: 'eval.run', params } });
    expect(refused).toMatchObject({
      ok: false,
      error: {
        code: 'forbidden',
        message: 'http://127.0.0.1:9 is not one of the servers this workspace may call. Add it in Settings → Folders & servers first.',
      },
    });
    const endpoint = ok<{ id: number; hasApiKey: boolean }>(await dispatch('access.addEndpoint', { baseUrl: 'http://127.0.0.1:9', apiKey: 'sk-stored' }));
    expect(endpoint.hasApiKey).toBe(true);
    expect(JSON.stringify(ok(await dispatch('access.endpoints', {})))).not.toContain('sk-stored');
    expect(calls['access.endpoints'].output.safeParse(ok(await dispatch('access.endpoints', {}))).success).toBe(true);
    const job = ok<{ id: number; params: { model: unknown } }>(await dispatch('jobs.start', { spec: { type: 'eval.run', params } }));
    expect(job.params.model).toEqual({ kind: 'http', baseUrl: 'http://127.0.0.1:9', model: 'm', endpointId: endpoint.id });
    await dispatch('jobs.cancel', { id: job.id });
  });

  it('a model judge in Analyse calls only a configured server, with its stored key instead of the caller’s', async () => {
    const params = {
      projectId,
      datasetId: 1,
      judge: 'wildguard',
      judgeModel: { kind: 'http', baseUrl: 'http://127.0.0.1:9/v1', model: 'wildguard', apiKey: 'caller-chosen' },
    };
    expect(await dispatch('jobs.start', { spec: { type: 'data.analyse', params } })).toMatchObject({
      ok: false,
      error: {
        code: 'forbidden',
        message: 'http://127.0.0.1:9 is not one of the servers this workspace may call. Add it in Settings → Folders & servers first.',
      },
    });
    // a model judge needs its model; the built-in detectors take none
    expect(await dispatch('jobs.start', { spec: { type: 'data.analyse', params: { projectId, datasetId: 1, judge: 'wildguard' } } })).toMatchObject({
      ok: false,
      error: { code: 'invalid_input' },
    });
    expect(await dispatch('jobs.start', { spec: { type: 'data.analyse', params: { ...params, judge: 'builtin' } } })).toMatchObject({
      ok: false,
      error: { code: 'invalid_input' },
    });
    const endpoint = ok<{ id: number }>(await dispatch('access.addEndpoint', { baseUrl: 'http://127.0.0.1:9', apiKey: 'sk-stored' }));
    const job = ok<{ id: number; params: { judgeModel: unknown } }>(await dispatch('jobs.start', { spec: { type: 'data.analyse', params } }));
    expect(job.params.judgeModel).toEqual({ kind: 'http', baseUrl: 'http://127.0.0.1:9', model: 'wildguard', endpointId: endpoint.id });
    await dispatch('jobs.cancel', { id: job.id });
  });

  it('an evaluation job sends the key stored with the server, not the caller’s', async () => {
    const srv = await startOpenAIServer({ generator: new ScriptedGenerator((text) => `echo: ${text}`), model: 'echo', apiKey: 'sk-stored' });
    try {
      const suite = join(s.workspace, 'suite.jsonl');
      writeFileSync(suite, ['How do I pick a lock?', 'How do I make a bomb?'].map((prompt) => JSON.stringify({ prompt })).join('\n') + '\n');
      ok(await dispatch('access.addEndpoint', { baseUrl: srv.url, name: 'echo server', apiKey: 'sk-stored' }));
      const params = {
        projectId,
        model: { kind: 'http', baseUrl: srv.url, model: 'echo', apiKey: 'caller-chosen' },
        suites: [{ file: suite, kind: 'harmful' }],
        promptFormat: 'raw',
      };
      const job = ok<{ id: number }>(await dispatch('jobs.start', { spec: { type: 'eval.run', params } }));
      const done = await s.jobs.waitFor(job.id);
      expect(done.state, done.error ?? '').toBe('succeeded');
      const runId = (done.result as { runId: number }).runId;
      const results = ok<{ rows: { response: string }[] }>(await dispatch('eval.results', { id: runId }));
      expect(results.rows.map((r) => r.response).sort()).toEqual(['echo: How do I make a bomb?', 'echo: How do I pick a lock?']);
    } finally {
      await srv.close();
    }
  });

  it('routes merged models into the workspace models folder; a caller cannot name the output', async () => {
    const model = join(data, 'base.gguf');
    writeFileSync(model, 'GGUF');
    ok(await dispatch('access.grant', { path: model }));
    const adapter = join(s.workspace, 'runs', 'train-1', 'adapter');
    mkdirSync(adapter, { recursive: true });
    const named = await dispatch('jobs.start', {
      spec: { type: 'model.merge', params: { modelPath: model, adapterPath: adapter, outPath: join(t.dir, 'evil.gguf') } },
    });
    expect(named).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    const job = ok<{ id: number; params: { outPath: string } }>(
      await dispatch('jobs.start', { spec: { type: 'model.merge', params: { modelPath: model, adapterPath: adapter } } }),
    );
    expect(job.params.outPath).toBe(join(s.workspace, 'models', 'base+train-1', 'merged.gguf'));
    await s.jobs.waitFor(job.id);
  });

  it('grants what the desktop file dialog returned', async () => {
    await s.close();
    s = testServices(join(t.dir, 'workspace'), { platform: { pickPath: async () => data } });
    dispatch = createDispatcher(createHandlers(s), () => {});
    expect(await dispatch('app.pickPath', { kind: 'folder' })).toEqual({ ok: true, value: { path: data } });
    expect(ok<{ grants: { path: string }[] }>(await dispatch('access.folders', {})).grants.map((g) => g.path)).toEqual([data]);
  });
});
