import { AppError } from '../../shared/errors';
import type { MergeSweepRequest } from '../../shared/merge';
import { nowIso, type Db } from './database';

/** A sweep as stored: the request as resolved (models, method, eval settings). */
export interface SweepRow {
  id: number;
  projectId: number;
  name: string;
  params: StoredSweepParams;
  outDir: string;
  createdAt: string;
}

/** What a sweep stores of its request, with the source resolved to two models. */
export type StoredSweepParams = Omit<MergeSweepRequest, 'source' | 'name' | 'projectId'> & {
  aligned: { modelPath: string; adapterPath?: string | undefined };
  fineTuned: { modelPath: string; adapterPath?: string | undefined };
  trainJobId: number | null;
};

export interface SweepPointRow {
  sweepId: number;
  position: number;
  alpha: number;
  modelPath: string;
  mergeJobId: number | null;
  inspectJobId: number | null;
  evalJobId: number | null;
}

export type SweepStep = 'merge' | 'inspect' | 'eval';

const STEP_COLUMN: Record<SweepStep, string> = { merge: 'merge_job_id', inspect: 'inspect_job_id', eval: 'eval_job_id' };

interface Row {
  id: number;
  project_id: number;
  name: string;
  params: string;
  out_dir: string;
  created_at: string;
}
interface PointRow {
  sweep_id: number;
  position: number;
  alpha: number;
  model_path: string;
  merge_job_id: number | null;
  inspect_job_id: number | null;
  eval_job_id: number | null;
}

const toSweep = (r: Row): SweepRow => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  params: JSON.parse(r.params) as StoredSweepParams,
  outDir: r.out_dir,
  createdAt: r.created_at,
});
const toPoint = (r: PointRow): SweepPointRow => ({
  sweepId: r.sweep_id,
  position: r.position,
  alpha: r.alpha,
  modelPath: r.model_path,
  mergeJobId: r.merge_job_id,
  inspectJobId: r.inspect_job_id,
  evalJobId: r.eval_job_id,
});

/** Coefficient sweeps and the jobs of each of their points. */
export class SweepStore {
  constructor(private readonly db: Db) {}

  create(projectId: number, name: string, params: StoredSweepParams, outDir: string, points: readonly { alpha: number; modelPath: string }[]): SweepRow {
    const id = this.db.transaction(() => {
      const info = this.db
        .prepare('INSERT INTO merge_sweeps (project_id, name, params, out_dir, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(projectId, name, JSON.stringify(params), outDir, nowIso());
      const sweepId = Number(info.lastInsertRowid);
      const insert = this.db.prepare('INSERT INTO merge_sweep_points (sweep_id, position, alpha, model_path) VALUES (?, ?, ?, ?)');
      points.forEach((p, i) => insert.run(sweepId, i, p.alpha, p.modelPath));
      return sweepId;
    })();
    return this.get(id);
  }

  get(id: number): SweepRow {
    const row = this.db.prepare('SELECT * FROM merge_sweeps WHERE id = ?').get(id) as Row | undefined;
    if (!row) throw new AppError('not_found', `Sweep ${id} does not exist`, { id });
    return toSweep(row);
  }

  list(projectId: number): SweepRow[] {
    return (this.db.prepare('SELECT * FROM merge_sweeps WHERE project_id = ? ORDER BY id DESC').all(projectId) as Row[]).map(toSweep);
  }

  /** Sweeps with a point whose merge, registration or evaluation has not been queued yet. */
  unfinished(): SweepRow[] {
    return (
      this.db
        .prepare(
          'SELECT * FROM merge_sweeps WHERE id IN (SELECT sweep_id FROM merge_sweep_points WHERE inspect_job_id IS NULL OR eval_job_id IS NULL) ORDER BY id',
        )
        .all() as Row[]
    ).map(toSweep);
  }

  points(sweepId: number): SweepPointRow[] {
    return (this.db.prepare('SELECT * FROM merge_sweep_points WHERE sweep_id = ? ORDER BY position').all(sweepId) as PointRow[]).map(toPoint);
  }

  /** The sweep a job belongs to (as any point's merge, registration or evaluation), if any. */
  sweepOfJob(jobId: number): number | null {
    const row = this.db
      .prepare('SELECT sweep_id FROM merge_sweep_points WHERE merge_job_id = ? OR inspect_job_id = ? OR eval_job_id = ? LIMIT 1')
      .get(jobId, jobId, jobId) as { sweep_id: number } | undefined;
    return row?.sweep_id ?? null;
  }

  setJob(sweepId: number, position: number, step: SweepStep, jobId: number): void {
    this.db.prepare(`UPDATE merge_sweep_points SET ${STEP_COLUMN[step]} = ? WHERE sweep_id = ? AND position = ?`).run(jobId, sweepId, position);
  }

  /** The Models list entry of a path, and the evaluation run a job writes. */
  modelIdOf(path: string): number | null {
    return (this.db.prepare('SELECT id FROM models WHERE path = ?').get(path) as { id: number } | undefined)?.id ?? null;
  }

  evalRunOfJob(jobId: number): number | null {
    return (this.db.prepare('SELECT id FROM eval_runs WHERE job_id = ? ORDER BY id DESC LIMIT 1').get(jobId) as { id: number } | undefined)?.id ?? null;
  }
}
