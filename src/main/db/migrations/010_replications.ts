import type { Migration } from './types';

/**
 * Starts of the miniature replication: the request, the set-up steps (the task data and the safety
 * pool, each a data set already there or its `data.import` job; the model's `model.inspect` job
 * when it is not listed yet) and, once they have all succeeded, the grid and the aligned model's
 * evaluation it started (`started_at` set: a start is followed until then).
 */
export const replications: Migration = {
  version: 10,
  name: 'replications',
  up(db) {
    db.exec(`
      CREATE TABLE replications (
        id                  INTEGER PRIMARY KEY,
        project_id          INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        params              TEXT NOT NULL,
        task_dataset_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        task_job_id         INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        pool_dataset_id     INTEGER REFERENCES datasets(id) ON DELETE SET NULL,
        pool_job_id         INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        model_job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        experiment_id       INTEGER REFERENCES experiments(id) ON DELETE SET NULL,
        aligned_eval_job_id INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        created_at          TEXT NOT NULL,
        started_at          TEXT
      );
      CREATE INDEX replications_by_task_job ON replications(task_job_id);
      CREATE INDEX replications_by_pool_job ON replications(pool_job_id);
      CREATE INDEX replications_by_model_job ON replications(model_job_id);
    `);
  },
};
