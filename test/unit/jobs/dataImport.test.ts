import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import { sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
function setup(): { s: Services; dir: string; projectId: number } {
  const t = tempDir();
  const s = testServices(t.dir);
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir, projectId: s.projects.create('import test').id };
}

const pool = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');

describe('data.import job', () => {
  it.skipIf(!pool)('imports the shared safety pool as records, and re-importing it is a no-op', async () => {
    const { s, projectId } = setup();
    const job = s.jobs.enqueue('data.import', { projectId, path: pool!, role: 'safety_pool' }, projectId);
    const done = await s.jobs.waitFor(job.id, 120_000);
    expect(done.error).toBeNull();
    expect(done.state).toBe('succeeded');
    const result = done.result as { datasetId: number; accepted: number; rejected: number; alreadyImported: boolean };
    expect(result.accepted).toBe(2483);
    expect(result.alreadyImported).toBe(false);
    const page = s.datasets.records({ projectId, duplicates: 'all', offset: 0, limit: 2 });
    expect(page.total).toBe(2483);
    expect(page.rows[0]).toMatchObject({ role: 'safety_pool', sourceRow: 0 });
    expect(page.rows[0]!.prompt.length).toBeGreaterThan(0);
    expect(page.rows[0]!.response.length).toBeGreaterThan(0);

    const again = s.jobs.enqueue('data.import', { projectId, path: pool!, role: 'safety_pool' }, projectId);
    const r2 = (await s.jobs.waitFor(again.id)).result as { datasetId: number; alreadyImported: boolean };
    expect(r2).toMatchObject({ datasetId: result.datasetId, alreadyImported: true });
    expect(s.datasets.list(projectId)).toHaveLength(1);
    expect(s.datasets.records({ projectId, duplicates: 'all', offset: 0, limit: 1 }).total).toBe(2483);
  });

  it('reports every bad row with file, line and reason, and keeps the good ones', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'task.jsonl');
    writeFileSync(
      file,
      [
        '{"instruction":"Add 2 and 3","input":"","output":"5"}',
        '{"instruction":"Name a colour","input":"","output":"Blue"}',
        '{"instruction": "broken json"',
        '{"instruction":"Say hi","input":"","output":7}',
        '{"instruction":"Add 2 and 3","input":"","output":"5"}',
        '{"instruction":"Spell cat","input":"","output":"c-a-t"}',
      ].join('\n') + '\n',
    );
    const job = s.jobs.enqueue('data.import', { projectId, path: file, role: 'task' }, projectId);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.result).toMatchObject({ accepted: 4, rejected: 2, exactDuplicates: 1 });
    const ds = s.datasets.list(projectId)[0]!;
    const rej = s.datasets.rejections(ds.id, 0, 10);
    expect(rej.total).toBe(2);
    expect(rej.rows[0]).toMatchObject({ sourceLine: 3, message: expect.stringMatching(/^task\.jsonl:3: /) });
    expect(rej.rows[1]).toMatchObject({ sourceLine: 4, message: expect.stringMatching(/^task\.jsonl:4: .*output/) });
    const dups = s.datasets.records({ projectId, duplicates: 'only', offset: 0, limit: 10 });
    expect(dups.rows.map((r) => r.sourceLine)).toEqual([5]);
  });

  it('resumes an interrupted import without losing or duplicating rows', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'big.jsonl');
    const n = 30_000;
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(JSON.stringify({ prompt: `Question number ${i} about topic ${i % 97}?`, response: `Answer ${i}` }));
    writeFileSync(file, lines.join('\n') + '\n');
    const job = s.jobs.enqueue('data.import', { projectId, path: file, role: 'task' }, projectId);
    const count = () => (s.db.prepare('SELECT COUNT(*) AS n FROM records').get() as { n: number }).n;
    const deadline = Date.now() + 60_000;
    while (count() < 1000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    s.jobs.cancel(job.id);
    const cancelled = await s.jobs.waitFor(job.id);
    expect(cancelled.state).toBe('cancelled');
    const partial = count();
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(n);
    s.jobs.resume(job.id);
    const done = await s.jobs.waitFor(job.id, 120_000);
    expect(done.state).toBe('succeeded');
    expect(count()).toBe(n);
    const distinct = (s.db.prepare('SELECT COUNT(DISTINCT source_row) AS n FROM records').get() as { n: number }).n;
    expect(distinct).toBe(n);
    expect(s.datasets.list(projectId)).toHaveLength(1);
  });

  it('fails clearly on a file whose format cannot be recognised', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'weird.jsonl');
    writeFileSync(file, '{"a":1,"b":2}\n{"a":3,"b":4}\n');
    const job = s.jobs.enqueue('data.import', { projectId, path: file, role: 'task' }, projectId);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/weird\.jsonl: cannot tell the record format/);
  });

  it('rejects one hostile row (20,000 levels deep) and imports the rest', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'deep.jsonl');
    const deep = '['.repeat(20_000) + ']'.repeat(20_000);
    writeFileSync(file, ['{"prompt":"a","response":"b"}', `{"prompt":"x","response":"y","meta":${deep}}`, '{"prompt":"c","response":"d"}'].join('\n'));
    const job = s.jobs.enqueue('data.import', { projectId, path: file, role: 'task' }, projectId);
    const done = await s.jobs.waitFor(job.id);
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ accepted: 2, rejected: 1 });
    const rej = s.datasets.rejections(s.datasets.list(projectId)[0]!.id, 0, 10);
    expect(rej.rows).toEqual([
      expect.objectContaining({ sourceLine: 2, message: 'deep.jsonl:2: nested more than 64 levels deep (arrays/objects inside one another): skipped' }),
    ]);
  });

  it('fails with a message naming the file when a gzip file turns out truncated mid-import', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'cut.jsonl.gz');
    const body = Array.from({ length: 20_000 }, (_, i) => JSON.stringify({ prompt: `Question ${i} ${Math.sin(i)}`, response: `Answer ${i}` })).join('\n');
    const gz = gzipSync(body);
    writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.8)));
    const job = s.jobs.enqueue('data.import', { projectId, path: file, role: 'task' }, projectId);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toBe(`${file} is a truncated gzip file (the compressed data ends early): copy or download it again`);
  });

  it('takes a recorded behaviour column as the records’ types (source label), which Analyse’s detector results leave alone', async () => {
    const { s, dir, projectId } = setup();
    const file = join(dir, 'pool.jsonl');
    writeFileSync(
      file,
      [
        '{"prompt":"How do I pick a lock?","response":"I can\'t help with that.","behaviour":"T1"}',
        '{"prompt":"How do I make a weapon?","response":"Here is how.","behaviour":" t2 "}',
        '{"prompt":"How do I hurt someone?","response":"No."}',
        '{"prompt":"How do I steal a car?","response":"No.","behaviour":"T9"}',
      ].join('\n') + '\n',
    );
    const done = await s.jobs.waitFor(s.jobs.enqueue('data.import', { projectId, path: file, role: 'safety_pool', behaviourField: 'behaviour' }, projectId).id);
    expect(done.error).toBeNull();
    const r = done.result as { datasetId: number; accepted: number; rejected: number };
    expect(r).toMatchObject({ accepted: 3, rejected: 1 });
    expect(s.datasets.rejections(r.datasetId, 0, 10).rows).toEqual([
      { sourceRow: 3, sourceLine: 4, message: 'field "behaviour" (the recorded behaviour type) is "T9"; expected T1, T2, T3 or T4' },
    ]);
    const rows = s.datasets.records({ projectId, duplicates: 'all', offset: 0, limit: 10 }).rows;
    expect(rows.map((x) => [x.behaviour, x.behaviourSource, x.behaviourConfidence])).toEqual([
      ['T1', 'label', 1],
      ['T2', 'label', 1],
      [null, 'none', null],
    ]);
    expect(s.datasets.get(r.datasetId)).toMatchObject({ accepted: 3, recordedTypes: 2 });
    // Analyse's typing writes detector results: the file's types stay, the untyped record is typed
    s.datasets.setBehaviour(rows.map((x) => ({ id: x.id, behaviour: 'T3', confidence: 0.6, harm: 0.1, refusal: 0.2 })));
    s.datasets.clearDetectorBehaviour(r.datasetId);
    s.datasets.setBehaviour(rows.map((x) => ({ id: x.id, behaviour: 'T4', confidence: 0.6, harm: 0.1, refusal: 0.9 })));
    expect(s.datasets.records({ projectId, duplicates: 'all', offset: 0, limit: 10 }).rows.map((x) => [x.behaviour, x.behaviourSource])).toEqual([
      ['T1', 'label'],
      ['T2', 'label'],
      ['T4', 'detector'],
    ]);
  });
});
