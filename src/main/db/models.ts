import { AppError } from '../../shared/errors';
import type { ModelInfo, RegisteredModel } from '../../shared/models';
import { nowIso, type Db } from './database';

interface ModelRow {
  id: number;
  path: string;
  info: string;
  added_at: string;
}

const toModel = (r: ModelRow): RegisteredModel => ({ id: r.id, path: r.path, info: JSON.parse(r.info) as ModelInfo, addedAt: r.added_at });

/** The Models list: local model files/folders and what inspecting them found. */
export class ModelStore {
  constructor(private readonly db: Db) {}

  list(): RegisteredModel[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY id').all() as ModelRow[]).map(toModel);
  }

  get(id: number): RegisteredModel {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    if (!row) throw new AppError('not_found', `Model ${id} is not in the Models list`, { id });
    return toModel(row);
  }

  /** Adds or refreshes a model (the same path is updated in place). */
  upsert(path: string, info: ModelInfo): RegisteredModel {
    this.db
      .prepare(
        `INSERT INTO models (path, info, added_at) VALUES (?, ?, ?)
         ON CONFLICT(path) DO UPDATE SET info = excluded.info`,
      )
      .run(path, JSON.stringify(info), nowIso());
    const row = this.db.prepare('SELECT * FROM models WHERE path = ?').get(path) as ModelRow;
    return toModel(row);
  }

  remove(id: number): void {
    this.get(id);
    this.db.prepare('DELETE FROM models WHERE id = ?').run(id);
  }
}
