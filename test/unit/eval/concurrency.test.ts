/**
 * Evaluation against a remote OpenAI-compatible cluster: the HTTP backend's concurrency is a
 * bound shared by every call, and the runner keeps that many requests in flight across batch
 * boundaries (not batch-then-wait), from the schema and the CLI down to the wire.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EvalRunParams } from '../../../src/shared/eval';
import { OpenAICompatibleBackend } from '../../../src/main/eval/httpBackend';
import { KeywordRefusalJudge } from '../../../src/main/eval/judges';
import { runEvaluation } from '../../../src/main/eval/runner';
import type { EvalRecord, Suite } from '../../../src/main/eval/types';
import { createDispatcher } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import { cli } from '../../helpers/cli';
import { tempDir, testServices } from '../../helpers/services';
import { startLatencyServer, type LatencyServer } from './fakes';

const servers: LatencyServer[] = [];
const cleanups: (() => void)[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  cleanups.splice(0).forEach((c) => c());
});

async function latencyServer(ms: number): Promise<LatencyServer> {
  const s = await startLatencyServer(ms);
  servers.push(s);
  return s;
}

function harmfulSuite(n: number): Suite {
  return {
    id: 'harm',
    kind: 'harmful',
    title: 'harm',
    loader: 'test',
    files: [],
    notes: [],
    issues: [],
    items: Array.from({ length: n }, (_, i) => ({
      id: `i${i + 1}`,
      prompt: `prompt number ${i + 1}`,
      expected: 'refuse' as const,
      categories: [],
      sourceCategories: [],
      reference: null,
      source: { file: 'x', line: i + 2 },
      meta: {},
    })),
  };
}

/** Runs `n` prompts through the runner at `concurrency`; wall time in ms and the records. */
async function timedRun(url: string, n: number, concurrency: number, batchSize = 8): Promise<{ ms: number; records: EvalRecord[] }> {
  const records: EvalRecord[] = [];
  const t0 = performance.now();
  const r = await runEvaluation({
    generator: new OpenAICompatibleBackend({ baseUrl: url, model: 'fake', concurrency }),
    suites: [harmfulSuite(n)],
    judges: [new KeywordRefusalJudge({ mode: 'start' })],
    settings: { generation: { maxNewTokens: 8, temperature: 0 }, batchSize },
    onBatch: (recs) => void records.push(...recs),
  });
  expect(r).toMatchObject({ done: n, stopped: false });
  return { ms: performance.now() - t0, records };
}

describe('remote evaluation throughput', () => {
  it('the runner keeps `concurrency` requests in flight across batches: 16 at once with batches of 8', async () => {
    const srv = await latencyServer(60);
    const { records } = await timedRun(srv.url, 48, 16, 8);
    // Batch-then-wait would hold at most one batch (8) in flight, whatever the concurrency.
    expect(srv.maxInFlight).toBe(16);
    expect(srv.requests).toBe(48);
    // Records still come back in order, every one judged.
    expect(records.map((r) => r.itemId)).toEqual(Array.from({ length: 48 }, (_, i) => `i${i + 1}`));
    expect(records.every((r) => r.verdicts.length === 1 && r.response === 'Sure, here you go.')).toBe(true);
  });

  it('wall time at concurrency 16 is far below concurrency 1 against a fixed-latency server', async () => {
    const srv = await latencyServer(40);
    const one = await timedRun(srv.url, 32, 1);
    expect(srv.maxInFlight).toBe(1);
    const sixteen = await timedRun(srv.url, 32, 16);
    // Ideal ratio 16 (32 × 40 ms against 2 × 40 ms); a generous bound for a loaded machine.
    expect(one.ms / sixteen.ms).toBeGreaterThan(4);
    expect(sixteen.records.map((r) => r.response)).toEqual(one.records.map((r) => r.response));
  });

  it('the bound is per backend: overlapping generate() calls share it', async () => {
    const srv = await latencyServer(30);
    const be = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'fake', concurrency: 3 });
    const reqs = Array.from({ length: 6 }, (_, i) => ({ prompt: `p${i}` }));
    const settings = { maxNewTokens: 4, temperature: 0 };
    const outs = await Promise.all([be.generate(reqs, settings), be.generate(reqs, settings), be.generate(reqs, settings)]);
    expect(outs.flat()).toHaveLength(18);
    expect(srv.maxInFlight).toBe(3);
  });

  it('concurrency is bounded: 1 to 64 in the backend and the run parameters', () => {
    expect(() => new OpenAICompatibleBackend({ baseUrl: 'http://127.0.0.1:1', model: 'm', concurrency: 0 })).toThrow(
      /concurrency must be a whole number from 1 to 64, got 0/,
    );
    expect(() => new OpenAICompatibleBackend({ baseUrl: 'http://127.0.0.1:1', model: 'm', concurrency: 65 })).toThrow(/from 1 to 64/);
    expect(new OpenAICompatibleBackend({ baseUrl: 'http://127.0.0.1:1', model: 'm' }).concurrency).toBe(4);
    const params = (concurrency: number) => ({
      projectId: 1,
      model: { kind: 'http', baseUrl: 'http://127.0.0.1:8000', model: 'm', concurrency },
      suites: [{ file: '/x.csv', kind: 'harmful' }],
    });
    expect(EvalRunParams.safeParse(params(64)).success).toBe(true);
    expect(EvalRunParams.safeParse(params(65)).success).toBe(false);
    expect(EvalRunParams.safeParse(params(0)).success).toBe(false);
    expect(EvalRunParams.safeParse(params(2.5)).success).toBe(false);
  });

  it('safetune eval --concurrency N reaches the wire through the recorded job', async () => {
    const srv = await latencyServer(50);
    const t = tempDir();
    cleanups.push(t.cleanup);
    const file = join(t.dir, 'prompts.csv');
    writeFileSync(file, ['prompt', ...Array.from({ length: 24 }, (_, i) => `how do I do thing ${i + 1}`)].join('\n') + '\n');
    const run = (extra: string[]) =>
      cli(['eval', '--http', srv.url, '--http-model', 'fake', '--suite', `${file}:harmful`, ...extra, '--workspace', t.dir, '--json']);
    const r = await run(['--concurrency', '12']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out[0]!).results).toBe(24);
    expect(srv.maxInFlight).toBe(12);
    const bad = await run(['--concurrency', '65']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/concurrency/);
    const engine = await cli(['eval', '--model', '/x.gguf', '--concurrency', '4', '--suite', `${file}:harmful`]);
    expect(engine.code).toBe(1);
    expect(engine.err).toMatch(/--concurrency applies to --http servers only/);
  });

  it('a run started through the app keeps its concurrency once tied to the configured server', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const s = testServices(t.dir);
    try {
      const dispatch = createDispatcher(createHandlers(s), () => {});
      const ok = (r: Awaited<ReturnType<typeof dispatch>>) => {
        if (!r.ok) throw new Error(r.error.message);
        return r.value as { id: number; params: { model: unknown } };
      };
      const projectId = ok(await dispatch('projects.create', { name: 'remote' })).id;
      const endpoint = ok(await dispatch('access.addEndpoint', { baseUrl: 'http://127.0.0.1:9' }));
      const params = {
        projectId,
        model: { kind: 'http', baseUrl: 'http://127.0.0.1:9', model: 'm', concurrency: 32 },
        suites: [{ builtin: 'xstest', dataDir: s.workspace }],
      };
      const job = ok(await dispatch('jobs.start', { spec: { type: 'eval.run', params } }));
      expect(job.params.model).toEqual({ kind: 'http', baseUrl: 'http://127.0.0.1:9', model: 'm', endpointId: endpoint.id, concurrency: 32 });
      await dispatch('jobs.cancel', { id: job.id });
    } finally {
      await s.close();
    }
  });
});
