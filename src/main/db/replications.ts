import { AppError } from '../../shared/errors';
import type { ReplicationRequest } from '../../shared/replication';
import { nowIso, type Db } from './database';

/** A start of the miniature replication: what was asked, where the shipped replication was read from. */
export interface ReplicationParams extends ReplicationRequest {
  /** the shipped replication's folder (its data/ and model/) */
  dir: string;
}

/** A set-up step's product or its job: a data set already there, or the job that makes it. */
export interface ReplicationRow {
  id: number;
  projectId: number;
  params: ReplicationParams;
  taskDatasetId: number | null;
  taskJobId: number | null;
  poolDatasetId: number | null;
  poolJobId: number | null;
  modelJobId: number | null;
  experimentId: number | null;
  alignedEvalJobId: number | null;
  createdAt: string;
  /** when its grid was started (null while it is being set up) */
  startedAt: string | null;
  /** why it stopped for good before its grid started (what it waits on was deleted); null otherwise */
  error: string | null;
}

interface Row {
  id: number;
  project_id: number;
  params: string;
  task_dataset_id: number | null;
  task_job_id: number | null;
  pool_dataset_id: number | null;
  pool_job_id: number | null;
  model_job_id: number | null;
  experiment_id: number | null;
  aligned_eval_job_id: number | null;
  created_at: string;
  started_at: string | null;
  error: string | null;
}

const toReplication = (r: Row): ReplicationRow => ({
  id: r.id,
  projectId: r.project_id,
  params: JSON.parse(r.params) as ReplicationParams,
  taskDatasetId: r.task_dataset_id,
  taskJobId: r.task_job_id,
  poolDatasetId: r.pool_dataset_id,
  poolJobId: r.pool_job_id,
  modelJobId: r.model_job_id,
  experimentId: r.experiment_id,
  alignedEvalJobId: r.aligned_eval_job_id,
  createdAt: r.created_at,
  startedAt: r.started_at,
  error: r.error,
});

/** Starts of the miniature replication and their set-up steps. */
export class ReplicationStore {
  constructor(private readonly db: Db) {}

  create(r: Pick<ReplicationRow, 'projectId' | 'params' | 'taskDatasetId' | 'taskJobId' | 'poolDatasetId' | 'poolJobId' | 'modelJobId'>): ReplicationRow {
    const info = this.db
      .prepare(
        `INSERT INTO replications (project_id, params, task_dataset_id, task_job_id, pool_dataset_id, pool_job_id, model_job_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(r.projectId, JSON.stringify(r.params), r.taskDatasetId, r.taskJobId, r.poolDatasetId, r.poolJobId, r.modelJobId, nowIso());
    return this.get(Number(info.lastInsertRowid));
  }

  get(id: number): ReplicationRow {
    const row = this.db.prepare('SELECT * FROM replications WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new AppError('not_found', `Replication start ${id} does not exist`, { id });
    return toReplication(row);
  }

  /** Records the grid and the aligned model's evaluation a start queued once its set-up succeeded. */
  setStarted(id: number, experimentId: number, alignedEvalJobId: number): void {
    this.db
      .prepare('UPDATE replications SET experiment_id = ?, aligned_eval_job_id = ?, started_at = ? WHERE id = ? AND started_at IS NULL')
      .run(experimentId, alignedEvalJobId, nowIso(), id);
  }

  /** Stops a start that cannot go on, with why; it is no longer followed. */
  setFailed(id: number, error: string): void {
    this.db.prepare('UPDATE replications SET error = ? WHERE id = ? AND started_at IS NULL AND error IS NULL').run(error, id);
  }

  /** The start a set-up job belongs to (the newest, when a later start reuses a queued job), or null. */
  replicationOfJob(jobId: number): number | null {
    const row = this.db
      .prepare('SELECT MAX(id) AS id FROM replications WHERE task_job_id = ? OR pool_job_id = ? OR model_job_id = ?')
      .get(jobId, jobId, jobId) as { id: number | null };
    return row.id;
  }

  /** Starts still being set up (their grid not started, not stopped for good), oldest first. */
  unfinished(projectId?: number): ReplicationRow[] {
    const rows =
      projectId === undefined
        ? this.db.prepare('SELECT * FROM replications WHERE started_at IS NULL AND error IS NULL ORDER BY id').all()
        : this.db.prepare('SELECT * FROM replications WHERE started_at IS NULL AND error IS NULL AND project_id = ? ORDER BY id').all(projectId);
    return (rows as Row[]).map(toReplication);
  }
}
