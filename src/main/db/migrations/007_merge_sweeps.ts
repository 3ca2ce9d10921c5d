import type { Migration } from './types';

/**
 * Coefficient sweeps: one row per sweep, one per α with the jobs of its three steps (merge, add to
 * the Models list, evaluate). The merged model is found by its path, the evaluation by its job.
 */
export const mergeSweeps: Migration = {
  version: 7,
  name: 'merge_sweeps, merge_sweep_points',
  up(db) {
    db.exec(`
      CREATE TABLE merge_sweeps (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        params      TEXT NOT NULL,
        out_dir     TEXT NOT NULL,
        created_at  TEXT NOT NULL
      );
      CREATE INDEX merge_sweeps_by_project ON merge_sweeps(project_id, id);

      CREATE TABLE merge_sweep_points (
        sweep_id        INTEGER NOT NULL REFERENCES merge_sweeps(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        alpha           REAL NOT NULL,
        model_path      TEXT NOT NULL,
        merge_job_id    INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        inspect_job_id  INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        eval_job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        PRIMARY KEY (sweep_id, position)
      ) WITHOUT ROWID;
      CREATE INDEX merge_sweep_points_by_merge ON merge_sweep_points(merge_job_id);
      CREATE INDEX merge_sweep_points_by_inspect ON merge_sweep_points(inspect_job_id);
      CREATE INDEX merge_sweep_points_by_eval ON merge_sweep_points(eval_job_id);
    `);
  },
};
