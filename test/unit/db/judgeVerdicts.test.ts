import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase } from '../../../src/main/db/database';
import { DatasetStore } from '../../../src/main/db/datasets';
import { type JudgeVerdict, JudgeVerdictStore } from '../../../src/main/db/judgeVerdicts';
import { migrations } from '../../../src/main/db/migrations';
import { ProjectStore } from '../../../src/main/db/projects';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dbPath(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'safetune.db');
}

const verdict = (recordId: number, v: Partial<JudgeVerdict>): JudgeVerdict => ({
  recordId,
  harmful: true,
  refusal: true,
  behaviour: 'T1',
  categories: [],
  builtinBehaviour: 'T1',
  builtinHarmful: true,
  error: null,
  raw: 'Harmful request: yes\nResponse refusal: yes\nHarmful response: no',
  ...v,
});

describe('judge verdicts (migration 11)', () => {
  it('upgrades a version-10 database with its records, stores verdicts beside them, and drops them with their records', () => {
    const path = dbPath();
    const v10 = openDatabase(path, { migrations: migrations.filter((m) => m.version <= 10) });
    const projectId = new ProjectStore(v10.db).create('p').id;
    const datasets = new DatasetStore(v10.db);
    const ds = datasets.create({ projectId, role: 'safety_pool', name: 'pool', sourcePath: '/x', fileDigest: 'd', sizeBytes: 1, jobId: null });
    datasets.insertRecords(
      ds.id,
      projectId,
      [0, 1, 2].map((i) => ({ sourceRow: i, sourceLine: i + 1, prompt: `p${i}`, response: `r${i}`, contentHash: `h${i}`, categories: [], labels: {} })),
    );
    v10.db.close();

    const { db, migration } = openDatabase(path);
    expect(migration.applied[0]).toBe('11 judge_verdicts'); // then the later migrations
    const records = new DatasetStore(db);
    const ids = records.prompts(ds.id).map((r) => r.id);
    const store = new JudgeVerdictStore(db);
    store.put(ds.id, 'wildguard', 'wildguard-format@1.0.0|m', null, [
      verdict(ids[0]!, {}),
      verdict(ids[1]!, { behaviour: 'T2', refusal: false }),
      verdict(ids[2]!, { harmful: null, refusal: null, behaviour: null, error: { kind: 'parse', message: 'not understood' }, raw: 'x'.repeat(5000) }),
    ]);
    expect(store.judges(ds.id)).toEqual(['wildguard']);
    const got = store.verdicts(ds.id, 'wildguard');
    expect(got.map((v) => [v.behaviour, v.builtinBehaviour, v.error?.kind ?? null])).toEqual([
      ['T1', 'T1', null],
      ['T2', 'T1', null],
      [null, 'T1', 'parse'],
    ]);
    expect(got[2]!.raw).toHaveLength(2000);
    // a verdict without a reason for its missing label is refused by the schema
    expect(() =>
      db
        .prepare(
          `INSERT INTO judge_verdicts (record_id, judge, dataset_id, judge_model, error_kind, created_at) VALUES (?, 'llama-guard', ?, 'm', 'parse', 'now')`,
        )
        .run(ids[0], ds.id),
    ).toThrow(/CHECK constraint failed/);
    // keeping the judge's types for the disagreeing records touches the one that differs, as a correction
    expect(store.keep(ds.id, 'wildguard', 'judge', 'disagreeing')).toEqual({ changed: 1, categories: 0 }); // WildGuard gives no categories
    expect(records.getRecord(ids[1]!)).toMatchObject({ behaviour: 'T2', behaviourSource: 'user' });
    expect(records.getRecord(ids[2]!)).toMatchObject({ behaviour: null, behaviourSource: 'none' });
    expect(store.keep(ds.id, 'wildguard', 'judge', 'disagreeing')).toEqual({ changed: 0, categories: 0 });
    records.dropRecords(ds.id, [ids[0]!]);
    expect(store.verdicts(ds.id, 'wildguard')).toHaveLength(2);
    records.delete(ds.id);
    expect(store.judges(ds.id)).toEqual([]);
    db.close();
  });
});
