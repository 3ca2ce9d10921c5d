import type { Migration } from './types';

/** Evaluation runs, every generated response with its verdicts, and people's corrections. */
export const evaluations: Migration = {
  version: 4,
  name: 'eval_runs, eval_results, eval_corrections',
  up(db) {
    db.exec(`
      CREATE TABLE eval_runs (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        params      TEXT NOT NULL,
        generator   TEXT,
        suites      TEXT NOT NULL DEFAULT '[]',
        job_id      INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        created_at  TEXT NOT NULL
      );
      CREATE INDEX eval_runs_by_project ON eval_runs(project_id, id);

      CREATE TABLE eval_results (
        run_id       INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        suite_id     TEXT NOT NULL,
        item_id      TEXT NOT NULL,
        position     INTEGER NOT NULL,
        record       TEXT NOT NULL,
        PRIMARY KEY (run_id, suite_id, item_id)
      ) WITHOUT ROWID;

      CREATE TABLE eval_corrections (
        run_id      INTEGER NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
        suite_id    TEXT NOT NULL,
        item_id     TEXT NOT NULL,
        judge_id    TEXT NOT NULL,
        label       TEXT NOT NULL,
        note        TEXT,
        at          TEXT NOT NULL,
        PRIMARY KEY (run_id, suite_id, item_id, judge_id)
      ) WITHOUT ROWID;
    `);
  },
};
