import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getHarmTaxonomy } from '../../../src/main/data/taxonomy';
import { compareRuns, runWithMetrics } from '../../../src/main/app/evaluations';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { calls } from '../../../src/shared/contract';
import { sharedDir, sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedDir() ? sharedPath('data') : null;

let s: Services;
let projectId: number;
let cleanup: () => void;

describe.skipIf(!stories || !data)('eval.run job on stories260K (a non-aligned baseline)', () => {
  beforeAll(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    s = testServices(t.dir);
    projectId = s.projects.create('eval').id;
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });
  const params = (extra: Record<string, unknown> = {}) => ({
    projectId,
    model: { kind: 'engine', path: stories },
    suites: [
      { builtin: 'advbench', dataDir: data },
      { builtin: 'xstest', dataDir: data },
    ],
    limit: 12,
    judges: ['keyword'],
    sampling: { maxNewTokens: 24, temperature: 0 },
    promptFormat: 'raw',
    ...extra,
  });

  it('evaluates, stores every response with its verdict, and the metrics match the stored verdicts', async () => {
    const job = s.jobs.enqueue('eval.run', params(), projectId);
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ done: 24, skipped: 0, total: 24 });
    const runId = (done.result as { runId: number }).runId;
    const run = runWithMetrics(s, runId);
    expect(calls['eval.get'].output.safeParse(run).success).toBe(true);
    expect(run.results).toBe(24);
    const records = s.evaluations.records(runId);
    const adv = records.filter((r) => r.suiteId === 'advbench');
    const refused = adv.filter((r) => r.verdicts.find((v) => v.judgeId === 'keyword-start')!.label === 'refusal').length;
    const m = run.metrics.find((x) => x.suiteId === 'advbench' && x.judgeId === 'keyword-start')!;
    expect(m.records).toBe(12);
    expect(m.attackSuccess).toMatchObject({ k: 12 - refused, n: 12 });
    // stories260K tells stories: it complies with (almost) everything.
    expect(m.attackSuccess!.rate!).toBeGreaterThan(0.8);
    const x = run.metrics.find((y) => y.suiteId === 'xstest' && y.judgeId === 'keyword-start')!;
    expect(x.overRefusal!.n + x.unsafeContrastRefusal!.n).toBe(12);
    expect(records.every((r) => r.response.length > 0 || r.verdicts[0]!.label === 'empty')).toBe(true);
    expect(run.suites).toHaveLength(1);
  });

  it('gives AdvBench prompts harm categories of the taxonomy, and XSTest prompt types, not categories', async () => {
    const runId = s.evaluations.runs(projectId)[0]!.id;
    const run = runWithMetrics(s, runId);
    const taxonomy = getHarmTaxonomy().ids;
    const adv = s.evaluations.records(runId, 'advbench');
    // inferred from reference/beavertails-unsafe-prompts under the data folder
    expect(adv.every((r) => r.categories.length > 0 && r.categories.every((c) => taxonomy.includes(c)))).toBe(true);
    const m = run.metrics.find((x) => x.suiteId === 'advbench' && x.judgeId === 'keyword-start')!;
    expect(m.perCategory.length).toBeGreaterThan(1);
    expect(m.perCategory.map((c) => c.category).every((c) => taxonomy.includes(c))).toBe(true);
    expect(m.perCategory.reduce((n, c) => n + c.items, 0)).toBeGreaterThanOrEqual(12);
    const x = run.metrics.find((y) => y.suiteId === 'xstest' && y.judgeId === 'keyword-start')!;
    expect(x.perCategory).toEqual([]);
    const xsTypes = new Set(s.evaluations.records(runId, 'xstest').flatMap((r) => r.sourceCategories));
    expect(x.perPromptType.map((t) => t.promptType).sort()).toEqual([...xsTypes].sort());
    expect(x.perPromptType.reduce((n, t) => n + t.items, 0)).toBe(12);
    const described = JSON.stringify(run.suites);
    expect(described).toMatch(/harm categories of 12 item\(s\) inferred/);
    // Compare: the run's attack success per harm category, the same counts as the suite's.
    const [row] = compareRuns(s, [runId]);
    expect(row!.perCategory).toEqual(m.perCategory.map((c) => ({ category: c.category, attackSuccess: c.attackSuccess })));
  });

  it('applies a correction to the metrics, and removing it restores them', async () => {
    const runId = s.evaluations.runs(projectId)[0]!.id;
    const before = runWithMetrics(s, runId).metrics.find((m) => m.suiteId === 'advbench')!.attackSuccess!;
    const target = s.evaluations.records(runId, 'advbench').find((r) => r.verdicts[0]!.label === 'compliance')!;
    s.evaluations.correct(runId, { suiteId: 'advbench', itemId: target.itemId, judgeId: 'keyword-start', label: 'refusal' });
    const after = runWithMetrics(s, runId).metrics.find((m) => m.suiteId === 'advbench')!;
    expect(after.attackSuccess!.k).toBe(before.k - 1);
    expect(after.corrected).toBe(1);
    s.evaluations.removeCorrection(runId, 'advbench', target.itemId, 'keyword-start');
    expect(runWithMetrics(s, runId).metrics.find((m) => m.suiteId === 'advbench')!.attackSuccess!.k).toBe(before.k);
  });

  it('resumes a cancelled run without regenerating stored examples', async () => {
    const job = s.jobs.enqueue('eval.run', params({ limit: 40, batchSize: 4, sampling: { maxNewTokens: 48, temperature: 0 } }), projectId);
    const runs = () => s.evaluations.runs(projectId);
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const r = runs()[0]!;
      if (r.jobId === job.id && s.evaluations.count(r.id) >= 8) break;
      await new Promise((res) => setTimeout(res, 20));
    }
    s.jobs.cancel(job.id);
    expect((await s.jobs.waitFor(job.id, 60_000)).state).toBe('cancelled');
    const runId = runs()[0]!.id;
    const stored = s.evaluations.count(runId);
    expect(stored).toBeGreaterThanOrEqual(8);
    expect(stored).toBeLessThan(80);
    s.jobs.resume(job.id);
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ runId, skipped: stored, total: 80 });
    expect(s.evaluations.count(runId)).toBe(80);
    const rows = compareRuns(
      s,
      s.evaluations.runs(projectId).map((r) => r.id),
    );
    expect(rows).toHaveLength(2);
    expect(rows.every((r) => r.attackSuccess.n > 0 && r.overRefusal.n > 0)).toBe(true);
  });

  it('fails clearly, naming the server, when an HTTP backend is unreachable', async () => {
    const job = s.jobs.enqueue('eval.run', params({ model: { kind: 'http', baseUrl: 'http://127.0.0.1:9', model: 'none' }, limit: 2 }), projectId);
    const done = await s.jobs.waitFor(job.id, 120_000);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/127\.0\.0\.1:9/);
  });

  it('records "unparseable" when the Llama Guard judge model is not a classifier, and keeps those out of its rates', async () => {
    const job = s.jobs.enqueue('eval.run', params({ limit: 3, guardModel: { kind: 'engine', path: stories } }), projectId);
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.error).toBeNull();
    const runId = (done.result as { runId: number }).runId;
    const guard = runWithMetrics(s, runId).metrics.filter((m) => m.judgeId === 'llama-guard-3');
    expect(guard).toHaveLength(2);
    for (const m of guard) {
      expect(m.judgeKind).toBe('harm');
      expect((m.counts.unparseable ?? 0) + (m.counts.safe ?? 0) + (m.counts.unsafe ?? 0) + (m.counts.empty ?? 0)).toBe(m.records);
      expect(m.excluded).toBe(m.counts.unparseable ?? 0);
    }
    const v = s.evaluations.records(runId)[0]!.verdicts.find((x) => x.judgeId === 'llama-guard-3')!;
    // A story model writes stories, not "safe"/"unsafe".
    expect(['unparseable', 'empty']).toContain(v.label);
  });

  it('names the file and column of a suite it cannot read', async () => {
    const job = s.jobs.enqueue('eval.run', params({ suites: [{ file: stories, kind: 'harmful' }] }), projectId);
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/stories260K\.gguf/);
  });

  it('says so when a data folder has no reference prompts to infer AdvBench categories from', async () => {
    const t = tempDir();
    try {
      mkdirSync(join(t.dir, 'harmful'));
      copyFileSync(join(data!, 'harmful', 'advbench_harmful_behaviors.csv'), join(t.dir, 'harmful', 'advbench_harmful_behaviors.csv'));
      const job = s.jobs.enqueue('eval.run', params({ suites: [{ builtin: 'advbench', dataDir: t.dir }], limit: 2 }), projectId);
      const done = await s.jobs.waitFor(job.id, 300_000);
      expect(done.error).toBeNull();
      const run = runWithMetrics(s, (done.result as { runId: number }).runId);
      expect(run.metrics[0]!.perCategory.map((c) => c.category)).toEqual(['uncategorised']);
      expect(JSON.stringify(run.suites)).toMatch(/2 prompt\(s\) have no harm category and none were inferred/);
    } finally {
      t.cleanup();
    }
  });

  it('runs imported evaluation data sets and a Safety-Tuned LLaMAs file as suites; a suite that fails fails alone', async () => {
    const cona = join(data!, 'harmful', 'stl_I-CoNa.json');
    const imported = s.jobs.enqueue('data.import', { projectId, path: cona, role: 'harmful_eval' }, projectId);
    const ds = (await s.jobs.waitFor(imported.id, 120_000)).result as { datasetId: number; accepted: number };
    expect(ds.accepted).toBeGreaterThan(100);
    const suites = [{ dataset: ds.datasetId }, { file: cona, kind: 'harmful' }, { file: stories, kind: 'harmful' }];
    const job = s.jobs.enqueue('eval.run', params({ suites, limit: 3 }), projectId);
    expect(job.title).toBe('Evaluate stories260K (base, no adapter) on stl_I-CoNa.json, stl_I-CoNa.json, stories260K.gguf');
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    const result = done.result as { runId: number; total: number; failedSuites: { suite: string; error: string }[] };
    expect(result.total).toBe(6);
    expect(result.failedSuites).toHaveLength(1);
    expect(result.failedSuites[0]!.suite).toBe('stories260K.gguf');
    const run = runWithMetrics(s, result.runId);
    expect(calls['eval.get'].output.safeParse(run).success).toBe(true);
    expect(run.name).toBe('stories260K (base, no adapter) · stl_I-CoNa.json, stl_I-CoNa.json, stories260K.gguf');
    expect(run.failedSuites).toEqual(result.failedSuites);
    const bySuite = run.metrics.filter((m) => m.judgeId === 'keyword-start').map((m) => [m.suiteId, m.suiteKind, m.records]);
    expect(bySuite.sort()).toEqual([
      ['stl-I-CoNa', 'harmful', 3],
      ['stl_I-CoNa.json', 'harmful', 3],
    ]);
    // imported harmful prompts are expected to be refused, as the file read directly
    const fromData = s.evaluations.records(result.runId, 'stl_I-CoNa.json');
    const fromFile = s.evaluations.records(result.runId, 'stl-I-CoNa');
    expect([...fromData, ...fromFile].every((r) => r.expected === 'refuse' && r.prompt.length > 0)).toBe(true);
  });

  it('deletes a run whose every suite failed (no results)', async () => {
    const job = s.jobs.enqueue('eval.run', params({ suites: [{ file: stories, kind: 'harmful' }] }), projectId);
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state).toBe('failed');
    const empty = s.evaluations.runs(projectId).find((r) => r.jobId === job.id)!;
    expect(runWithMetrics(s, empty.id).results).toBe(0);
    expect(createHandlers(s)['eval.delete']({ id: empty.id })).toEqual({ id: empty.id });
    expect(s.evaluations.runs(projectId).some((r) => r.id === empty.id)).toBe(false);
  });
});
