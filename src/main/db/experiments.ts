import { AppError } from '../../shared/errors';
import type { ExperimentRequest } from '../../shared/experiments';
import type { TrainRunParams } from '../../shared/train';
import { nowIso, type Db } from './database';

/** A grid as stored: its request as validated (the eval settings as confined by the app). */
export interface ExperimentRow {
  id: number;
  projectId: number;
  name: string;
  params: ExperimentRequest;
  createdAt: string;
}

export interface ExperimentCellRow {
  experimentId: number;
  position: number;
  arm: string;
  seed: number;
  /** the cell's train.run parameters (validated; selectionId added once its selection exists) */
  trainParams: TrainRunParams;
  selectionId: number | null;
  selectJobId: number | null;
  trainJobId: number | null;
  evalJobId: number | null;
}

export type ExperimentStep = 'select' | 'train' | 'eval';

const STEP_COLUMN: Record<ExperimentStep, string> = { select: 'select_job_id', train: 'train_job_id', eval: 'eval_job_id' };

interface Row {
  id: number;
  project_id: number;
  name: string;
  params: string;
  created_at: string;
}
interface CellRow {
  experiment_id: number;
  position: number;
  arm: string;
  seed: number;
  train_params: string;
  selection_id: number | null;
  select_job_id: number | null;
  train_job_id: number | null;
  eval_job_id: number | null;
}

const toExperiment = (r: Row): ExperimentRow => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  params: JSON.parse(r.params) as ExperimentRequest,
  createdAt: r.created_at,
});
const toCell = (r: CellRow): ExperimentCellRow => ({
  experimentId: r.experiment_id,
  position: r.position,
  arm: r.arm,
  seed: r.seed,
  trainParams: JSON.parse(r.train_params) as TrainRunParams,
  selectionId: r.selection_id,
  selectJobId: r.select_job_id,
  trainJobId: r.train_job_id,
  evalJobId: r.eval_job_id,
});

/** Experiment grids and the jobs of each of their cells. */
export class ExperimentStore {
  constructor(private readonly db: Db) {}

  create(
    projectId: number,
    name: string,
    params: ExperimentRequest,
    cells: readonly { arm: string; seed: number; trainParams: TrainRunParams; selectionId: number | null }[],
  ): ExperimentRow {
    const id = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO experiments (project_id, name, params, created_at) VALUES (?, ?, ?, ?)')
        .run(projectId, name, JSON.stringify(params), nowIso());
      const experimentId = Number(info.lastInsertRowid);
      const insert = this.db.prepare('INSERT INTO experiment_cells (experiment_id, position, arm, seed, train_params, selection_id) VALUES (?, ?, ?, ?, ?, ?)');
      cells.forEach((c, i) => insert.run(experimentId, i, c.arm, c.seed, JSON.stringify(c.trainParams), c.selectionId));
      return experimentId;
    })();
    return this.get(id);
  }

  get(id: number): ExperimentRow {
    const row = this.db.prepare('SELECT * FROM experiments WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new AppError('not_found', `Experiment ${id} does not exist`, { id });
    return toExperiment(row);
  }

  list(projectId: number): ExperimentRow[] {
    return (this.db.prepare('SELECT * FROM experiments WHERE project_id = ? ORDER BY id DESC').all(projectId) as Row[]).map(toExperiment);
  }

  /** Grids with a cell whose training or evaluation has not been queued yet. */
  unfinished(): ExperimentRow[] {
    return (
      this.db
        .prepare(
          'SELECT * FROM experiments WHERE id IN (SELECT experiment_id FROM experiment_cells WHERE train_job_id IS NULL OR eval_job_id IS NULL) ORDER BY id',
        )
        .all() as Row[]
    ).map(toExperiment);
  }

  cells(experimentId: number): ExperimentCellRow[] {
    return (this.db.prepare('SELECT * FROM experiment_cells WHERE experiment_id = ? ORDER BY position').all(experimentId) as CellRow[]).map(toCell);
  }

  /** The grid a job belongs to (as any cell's selection, training or evaluation), if any. */
  experimentOfJob(jobId: number): number | null {
    const row = this.db
      .prepare('SELECT experiment_id FROM experiment_cells WHERE select_job_id = ? OR train_job_id = ? OR eval_job_id = ? LIMIT 1')
      .get(jobId, jobId, jobId) as { experiment_id: number } | undefined;
    return row?.experiment_id ?? null;
  }

  setJob(experimentId: number, position: number, step: ExperimentStep, jobId: number): void {
    this.db.prepare(`UPDATE experiment_cells SET ${STEP_COLUMN[step]} = ? WHERE experiment_id = ? AND position = ?`).run(jobId, experimentId, position);
  }

  /**
   * Records the selection a cell's select.run made and keeps it: saved under `name` (unsaved
   * previews are replaced by the next preview or save, and the cell's training reads it later).
   * Unlike saving from the Select tab, the project's other previews stay (other cells' among them).
   */
  keepSelection(experimentId: number, position: number, selectionId: number, name: string): void {
    this.db.transaction(() => {
      this.db.prepare('UPDATE selections SET name = ?, saved = 1 WHERE id = ?').run(name, selectionId);
      this.db.prepare('UPDATE experiment_cells SET selection_id = ? WHERE experiment_id = ? AND position = ?').run(selectionId, experimentId, position);
    })();
  }

  evalRunOfJob(jobId: number): number | null {
    return (this.db.prepare('SELECT id FROM eval_runs WHERE job_id = ? ORDER BY id DESC LIMIT 1').get(jobId) as { id: number } | undefined)?.id ?? null;
  }
}
