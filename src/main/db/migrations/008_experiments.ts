import type { Migration } from './types';

/**
 * Experiment grids: one row per grid (its request), one per cell (arm × seed) with the cell's
 * train.run parameters and the jobs of its three steps (select, train, evaluate) and the selection
 * it trains with. The evaluation run is found by its job.
 */
export const experiments: Migration = {
  version: 8,
  name: 'experiments, experiment_cells',
  up(db) {
    db.exec(`
      CREATE TABLE experiments (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        params      TEXT NOT NULL,
        created_at  TEXT NOT NULL
      );
      CREATE INDEX experiments_by_project ON experiments(project_id, id);

      CREATE TABLE experiment_cells (
        experiment_id   INTEGER NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
        position        INTEGER NOT NULL,
        arm             TEXT NOT NULL,
        seed            INTEGER NOT NULL,
        train_params    TEXT NOT NULL,
        selection_id    INTEGER REFERENCES selections(id) ON DELETE SET NULL,
        select_job_id   INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        train_job_id    INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        eval_job_id     INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        PRIMARY KEY (experiment_id, position)
      ) WITHOUT ROWID;
      CREATE INDEX experiment_cells_by_select ON experiment_cells(select_job_id);
      CREATE INDEX experiment_cells_by_train ON experiment_cells(train_job_id);
      CREATE INDEX experiment_cells_by_eval ON experiment_cells(eval_job_id);
    `);
  },
};
