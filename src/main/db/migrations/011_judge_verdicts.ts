import type { Migration } from './types';

/**
 * Model-judge verdicts per record, beside the built-in labels: one row per record and judge
 * (WildGuard, Llama Guard 3) from the latest Analyse with that judge — the judge's prompt harm,
 * refusal, behaviour type and categories, the built-in detectors' type and prompt harm for the
 * same record in the same run (the agreement view compares the two), and, when the judge gave no
 * verdict, why (an answer out of format, a failed call, "n/a") with its raw answer.
 */
export const judgeVerdicts: Migration = {
  version: 11,
  name: 'judge_verdicts',
  up(db) {
    db.exec(`
      CREATE TABLE judge_verdicts (
        record_id         INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        judge             TEXT NOT NULL,
        dataset_id        INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        judge_model       TEXT NOT NULL,
        job_id            INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        harmful           INTEGER CHECK (harmful IN (0, 1)),
        refusal           INTEGER CHECK (refusal IN (0, 1)),
        behaviour         TEXT CHECK (behaviour IN ('T1','T2','T3','T4')),
        categories        TEXT NOT NULL DEFAULT '[]',
        builtin_behaviour TEXT CHECK (builtin_behaviour IN ('T1','T2','T3','T4')),
        builtin_harmful   INTEGER CHECK (builtin_harmful IN (0, 1)),
        error_kind        TEXT CHECK (error_kind IN ('parse','failure','no-verdict')),
        error             TEXT,
        raw               TEXT,
        created_at        TEXT NOT NULL,
        PRIMARY KEY (record_id, judge),
        CHECK ((error_kind IS NULL) = (error IS NULL))
      ) WITHOUT ROWID;
      CREATE INDEX judge_verdicts_by_dataset ON judge_verdicts(dataset_id, judge);
    `);
  },
};
