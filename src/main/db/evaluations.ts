import { AppError } from '../../shared/errors';
import type { VerdictLabel } from '../../shared/eval';
import type { EvalRecord, VerdictCorrection } from '../../shared/evalRecords';
import { nowIso, type Db } from './database';

interface RunRow {
  id: number;
  project_id: number;
  name: string;
  params: string;
  generator: string | null;
  suites: string;
  job_id: number | null;
  created_at: string;
}

export interface EvalRunRow {
  id: number;
  projectId: number;
  name: string;
  params: unknown;
  generator: string | null;
  /** Suites as run: id, kind, title, loader version, item count, issues. */
  suites: unknown[];
  jobId: number | null;
  createdAt: string;
}

const toRun = (r: RunRow): EvalRunRow => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  params: JSON.parse(r.params),
  generator: r.generator,
  suites: JSON.parse(r.suites),
  jobId: r.job_id,
  createdAt: r.created_at,
});

/** Evaluation runs, their per-example records (stored as they finish) and corrections. */
export class EvalStore {
  constructor(private readonly db: Db) {}

  createRun(projectId: number, name: string, params: unknown, jobId: number | null): EvalRunRow {
    const info = this.db
      .prepare('INSERT INTO eval_runs (project_id, name, params, job_id, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(projectId, name, JSON.stringify(params), jobId, nowIso());
    return this.run(Number(info.lastInsertRowid));
  }

  run(id: number): EvalRunRow {
    const row = this.db.prepare('SELECT * FROM eval_runs WHERE id = ?').get(id) as RunRow | undefined;
    if (!row) throw new AppError('not_found', `Evaluation run ${id} does not exist`, { id });
    return toRun(row);
  }

  findRun(id: number): EvalRunRow | undefined {
    const row = this.db.prepare('SELECT * FROM eval_runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toRun(row) : undefined;
  }

  runs(projectId: number): EvalRunRow[] {
    return (this.db.prepare('SELECT * FROM eval_runs WHERE project_id = ? ORDER BY id DESC').all(projectId) as RunRow[]).map(toRun);
  }

  describe(id: number, generator: string, suites: unknown[]): void {
    this.db.prepare('UPDATE eval_runs SET generator = ?, suites = ? WHERE id = ?').run(generator, JSON.stringify(suites), id);
  }

  rename(id: number, name: string): EvalRunRow {
    this.run(id);
    this.db.prepare('UPDATE eval_runs SET name = ? WHERE id = ?').run(name, id);
    return this.run(id);
  }

  deleteRun(id: number): void {
    this.run(id);
    this.db.prepare('DELETE FROM eval_runs WHERE id = ?').run(id);
  }

  /** `${suiteId}\u0000${itemId}` of every stored record: a resumed run skips them. */
  doneKeys(runId: number): Set<string> {
    const rows = this.db.prepare('SELECT suite_id, item_id FROM eval_results WHERE run_id = ?').all(runId) as { suite_id: string; item_id: string }[];
    return new Set(rows.map((r) => `${r.suite_id}\u0000${r.item_id}`));
  }

  /** Stores finished records; a record already stored is never written twice. */
  insertRecords(runId: number, records: readonly { position: number; record: EvalRecord }[]): void {
    const put = this.db.prepare('INSERT OR IGNORE INTO eval_results (run_id, suite_id, item_id, position, record) VALUES (?, ?, ?, ?, ?)');
    this.db.transaction(() => {
      for (const { position, record } of records) put.run(runId, record.suiteId, record.itemId, position, JSON.stringify(record));
    })();
  }

  records(runId: number, suiteId?: string): EvalRecord[] {
    const rows = (
      suiteId
        ? this.db.prepare('SELECT record FROM eval_results WHERE run_id = ? AND suite_id = ? ORDER BY position').all(runId, suiteId)
        : this.db.prepare('SELECT record FROM eval_results WHERE run_id = ? ORDER BY suite_id, position').all(runId)
    ) as { record: string }[];
    return rows.map((r) => JSON.parse(r.record) as EvalRecord);
  }

  count(runId: number): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM eval_results WHERE run_id = ?').get(runId) as { n: number }).n;
  }

  correct(runId: number, c: VerdictCorrection): void {
    const exists = this.db.prepare('SELECT 1 FROM eval_results WHERE run_id = ? AND suite_id = ? AND item_id = ?').get(runId, c.suiteId, c.itemId);
    if (!exists) throw new AppError('not_found', `Run ${runId} has no result for ${c.suiteId}/${c.itemId}`);
    this.db
      .prepare(
        `INSERT INTO eval_corrections (run_id, suite_id, item_id, judge_id, label, note, at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(run_id, suite_id, item_id, judge_id) DO UPDATE SET label = excluded.label, note = excluded.note, at = excluded.at`,
      )
      .run(runId, c.suiteId, c.itemId, c.judgeId, c.label, c.note ?? null, nowIso());
  }

  removeCorrection(runId: number, suiteId: string, itemId: string, judgeId: string): void {
    this.db.prepare('DELETE FROM eval_corrections WHERE run_id = ? AND suite_id = ? AND item_id = ? AND judge_id = ?').run(runId, suiteId, itemId, judgeId);
  }

  corrections(runId: number): VerdictCorrection[] {
    const rows = this.db.prepare('SELECT suite_id, item_id, judge_id, label, note FROM eval_corrections WHERE run_id = ?').all(runId) as {
      suite_id: string;
      item_id: string;
      judge_id: string;
      label: VerdictLabel;
      note: string | null;
    }[];
    return rows.map((r) => ({ suiteId: r.suite_id, itemId: r.item_id, judgeId: r.judge_id, label: r.label, ...(r.note ? { note: r.note } : {}) }));
  }
}
