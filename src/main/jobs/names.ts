/**
 * What a job's parameters point at by id or path, named for its title and its run's name (see
 * src/shared/naming): a data set's file, a saved selection, the training run that wrote an adapter.
 */
import type { TrainRunFacts } from '../../shared/naming';
import type { Db } from '../db/database';

export interface JobNames {
  /** The data set's name (its file name unless renamed). */
  dataset(id: number): string | undefined;
  selection(id: number): { name: string; method: string } | undefined;
  /** The training run whose adapter is at `path`, when the workbench trained it. */
  trainRunForAdapter(path: string): TrainRunFacts | undefined;
  /** A training run by its job id. */
  trainRun(jobId: number): TrainRunFacts | undefined;
}

/** Names that know nothing (a title made without a store). */
export const NO_NAMES: JobNames = { dataset: () => undefined, selection: () => undefined, trainRunForAdapter: () => undefined, trainRun: () => undefined };

interface TrainJobRow {
  id: number;
  params: string;
  result: string | null;
}

/** Names read from a workspace's store. */
export function storeNames(db: Db): JobNames {
  const facts = (row: TrainJobRow | undefined): TrainRunFacts | undefined => {
    if (!row) return undefined;
    const p = JSON.parse(row.params) as { modelPath: string; method: string; selectionId?: number; maxSteps: number; epochs?: number; mode?: 'lora' | 'full' };
    const selection = p.selectionId ? (names.selection(p.selectionId) ?? null) : null;
    return {
      jobId: row.id,
      modelPath: p.modelPath,
      method: p.method,
      selection,
      maxSteps: p.maxSteps,
      ...(p.epochs !== undefined ? { epochs: p.epochs } : {}),
      ...(p.mode ? { mode: p.mode } : {}),
    };
  };
  const names: JobNames = {
    dataset: (id) => (db.prepare('SELECT name FROM datasets WHERE id = ?').get(id) as { name: string } | undefined)?.name,
    selection: (id) => db.prepare('SELECT name, method FROM selections WHERE id = ?').get(id) as { name: string; method: string } | undefined,
    trainRunForAdapter: (path) =>
      facts(
        db
          .prepare(`SELECT id, params, result FROM jobs WHERE type = 'train.run' AND json_extract(result, '$.adapterPath') = ? ORDER BY id DESC LIMIT 1`)
          .get(path) as TrainJobRow | undefined,
      ),
    trainRun: (jobId) => facts(db.prepare(`SELECT id, params, result FROM jobs WHERE type = 'train.run' AND id = ?`).get(jobId) as TrainJobRow | undefined),
  };
  return names;
}
