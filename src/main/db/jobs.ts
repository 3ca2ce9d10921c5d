import { AppError } from '../../shared/errors';
import { FINISHED_JOB_STATES, type Job, type JobEvent, type JobFailure, type JobState } from '../../shared/domain';
import { nowIso, type Db } from './database';

export interface JobRow {
  id: number;
  project_id: number | null;
  type: string;
  title: string;
  state: JobState;
  params: string;
  progress_fraction: number | null;
  progress_message: string;
  result: string | null;
  error: string | null;
  failure: JobFailure | null;
  checkpoint: string | null;
  attempts: number;
  elapsed_ms: number;
  created_at: string;
  started_at: string | null;
  run_started_at: string | null;
  finished_at: string | null;
  updated_at: string;
}

/** Live timing of a running attempt, kept by the runner (not persisted). */
export interface LiveTiming {
  etaSeconds: number | null;
}

const RESUMABLE_STATES: readonly JobState[] = ['interrupted', 'failed', 'cancelled'];

/** Why `jobs.resume` refuses this job now, in words for the user; null when it may be resumed. */
export function resumeRefusal(r: Pick<JobRow, 'id' | 'state' | 'failure'>): string | null {
  if (!RESUMABLE_STATES.includes(r.state)) return `Job ${r.id} is ${r.state}; only interrupted, failed or cancelled jobs can be resumed`;
  if (r.state !== 'failed') return null;
  if (r.failure === 'out_of_memory')
    return `Job ${r.id} ran out of memory and would again if resumed: start a new job (with a higher SAFETUNE_JOB_HEAP_MB, or on smaller input)`;
  if (r.failure === 'invalid_input')
    return `Job ${r.id} failed on input that cannot be used, and would fail the same way if resumed: fix the input and start a new job`;
  return null;
}

export function rowToJob(r: JobRow, live?: LiveTiming): Job {
  const runningMs = r.state === 'running' && r.run_started_at ? Math.max(0, Date.now() - Date.parse(r.run_started_at)) : 0;
  return {
    id: r.id,
    projectId: r.project_id,
    type: r.type,
    title: r.title,
    state: r.state,
    params: JSON.parse(r.params) as unknown,
    progress: { fraction: r.progress_fraction, message: r.progress_message },
    result: r.result === null ? null : (JSON.parse(r.result) as unknown),
    error: r.error,
    failure: r.state === 'failed' ? (r.failure ?? 'error') : null,
    resumable: resumeRefusal(r) === null,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    updatedAt: r.updated_at,
    elapsedSeconds: (r.elapsed_ms + runningMs) / 1000,
    etaSeconds: r.state === 'running' ? (live?.etaSeconds ?? null) : null,
    attempts: r.attempts,
  };
}

export interface NewJob {
  projectId: number | null;
  type: string;
  title: string;
  params: unknown;
}

/** Persistence of job rows and their event log. The runner is the only writer of state. */
export class JobStore {
  constructor(private readonly db: Db) {}

  insert(job: NewJob): JobRow {
    const now = nowIso();
    const info = this.db
      .prepare(
        `INSERT INTO jobs (project_id, type, title, state, params, created_at, updated_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?)`,
      )
      .run(job.projectId, job.type, job.title, JSON.stringify(job.params), now, now);
    const id = Number(info.lastInsertRowid);
    this.event(id, 'state', 'queued');
    return this.row(id);
  }

  row(id: number): JobRow {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
    if (!row) throw new AppError('not_found', `Job ${id} does not exist`, { id });
    return row;
  }

  find(id: number): JobRow | undefined {
    return this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as JobRow | undefined;
  }

  list(filter: { projectId?: number | null; states?: JobState[]; limit: number }): JobRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.projectId !== undefined) {
      if (filter.projectId === null) where.push('project_id IS NULL');
      else {
        where.push('project_id = ?');
        args.push(filter.projectId);
      }
    }
    if (filter.states && filter.states.length > 0) {
      where.push(`state IN (${filter.states.map(() => '?').join(',')})`);
      args.push(...filter.states);
    }
    const sql = `SELECT * FROM jobs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, filter.limit) as JobRow[];
  }

  /**
   * Deletes finished jobs (succeeded, failed, cancelled) with their event logs, of one project when
   * `projectId` is given (null: jobs of no project); queued, running and interrupted jobs stay.
   * Rows that name a job (data sets, evaluation runs) keep their data and lose the link. Returns the
   * deleted ids.
   */
  deleteFinished(projectId?: number | null): number[] {
    const where = [`state IN (${FINISHED_JOB_STATES.map(() => '?').join(',')})`];
    const args: unknown[] = [...FINISHED_JOB_STATES];
    if (projectId === null) where.push('project_id IS NULL');
    else if (projectId !== undefined) {
      where.push('project_id = ?');
      args.push(projectId);
    }
    const rows = this.db.prepare(`DELETE FROM jobs WHERE ${where.join(' AND ')} RETURNING id`).all(...args) as { id: number }[];
    return rows.map((r) => r.id).sort((a, b) => a - b);
  }

  /** Queued jobs in the order they were queued. */
  queued(): JobRow[] {
    return this.db.prepare(`SELECT * FROM jobs WHERE state = 'queued' ORDER BY id`).all() as JobRow[];
  }

  markRunning(id: number): void {
    const now = nowIso();
    this.db
      .prepare(
        `UPDATE jobs SET state = 'running', attempts = attempts + 1, error = NULL, failure = NULL,
           started_at = COALESCE(started_at, ?), run_started_at = ?, finished_at = NULL, updated_at = ?
         WHERE id = ?`,
      )
      .run(now, now, now, id);
    this.event(id, 'state', 'running');
  }

  progress(id: number, fraction: number | null, message: string): void {
    this.db.prepare('UPDATE jobs SET progress_fraction = ?, progress_message = ?, updated_at = ? WHERE id = ?').run(fraction, message, nowIso(), id);
  }

  /** Ends the current attempt: accumulates its running time and sets the new state. */
  finishAttempt(
    id: number,
    state: Exclude<JobState, 'running' | 'queued'>,
    fields: { result?: unknown; error?: string | null; failure?: JobFailure; message?: string },
  ): void {
    const row = this.row(id);
    const now = nowIso();
    const attemptMs = row.run_started_at ? Math.max(0, Date.parse(now) - Date.parse(row.run_started_at)) : 0;
    this.db
      .prepare(
        `UPDATE jobs SET state = ?, result = ?, error = ?, failure = ?, elapsed_ms = elapsed_ms + ?, run_started_at = NULL,
           finished_at = ?, updated_at = ?,
           progress_fraction = CASE WHEN ? = 'succeeded' THEN 1 ELSE progress_fraction END,
           progress_message = COALESCE(?, progress_message)
         WHERE id = ?`,
      )
      .run(
        state,
        fields.result === undefined ? row.result : JSON.stringify(fields.result),
        fields.error ?? null,
        state === 'failed' ? (fields.failure ?? 'error') : null,
        attemptMs,
        state === 'interrupted' ? null : now,
        now,
        state,
        fields.message ?? null,
        id,
      );
    this.event(id, 'state', fields.error ? `${state}: ${fields.error}` : state);
  }

  /** A cancelled queued job never ran: no attempt to close. */
  cancelQueued(id: number): void {
    const now = nowIso();
    this.db.prepare(`UPDATE jobs SET state = 'cancelled', finished_at = ?, updated_at = ? WHERE id = ? AND state = 'queued'`).run(now, now, id);
    this.event(id, 'state', 'cancelled');
  }

  requeue(id: number): void {
    this.db.prepare(`UPDATE jobs SET state = 'queued', error = NULL, failure = NULL, finished_at = NULL, updated_at = ? WHERE id = ?`).run(nowIso(), id);
    this.event(id, 'state', 'queued (resume)');
  }

  /** Start-up: whatever was running when the process died is now interrupted. */
  interruptOrphans(): number[] {
    const ids = (this.db.prepare(`SELECT id FROM jobs WHERE state = 'running'`).all() as { id: number }[]).map((r) => r.id);
    const mark = this.db.transaction(() => {
      for (const id of ids) {
        this.db.prepare(`UPDATE jobs SET state = 'interrupted', run_started_at = NULL, updated_at = ? WHERE id = ?`).run(nowIso(), id);
        this.event(id, 'state', 'interrupted: the app stopped while this job was running');
      }
    });
    mark();
    return ids;
  }

  /** Persists the running attempt's elapsed time so a crash loses at most one update interval. */
  flushElapsed(id: number): void {
    const row = this.find(id);
    if (!row || row.state !== 'running' || !row.run_started_at) return;
    const now = nowIso();
    const ms = Math.max(0, Date.parse(now) - Date.parse(row.run_started_at));
    this.db.prepare('UPDATE jobs SET elapsed_ms = elapsed_ms + ?, run_started_at = ?, updated_at = ? WHERE id = ?').run(ms, now, now, id);
  }

  checkpoint(id: number): unknown {
    const row = this.row(id);
    return row.checkpoint === null ? null : (JSON.parse(row.checkpoint) as unknown);
  }

  event(jobId: number, kind: string, message: string): void {
    this.db.prepare('INSERT INTO job_events (job_id, at, kind, message) VALUES (?, ?, ?, ?)').run(jobId, nowIso(), kind, message);
  }

  events(jobId: number, limit: number): JobEvent[] {
    const rows = this.db.prepare('SELECT * FROM (SELECT * FROM job_events WHERE job_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id').all(jobId, limit) as {
      id: number;
      job_id: number;
      at: string;
      kind: string;
      message: string;
    }[];
    return rows.map((r) => ({ id: r.id, jobId: r.job_id, at: r.at, kind: r.kind, message: r.message }));
  }
}

/** Writes a job's checkpoint; job workers call it (often inside their own transaction). */
export function saveCheckpoint(db: Db, jobId: number, state: unknown): void {
  db.prepare('UPDATE jobs SET checkpoint = ?, updated_at = ? WHERE id = ?').run(JSON.stringify(state), nowIso(), jobId);
}
