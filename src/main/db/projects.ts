import { AppError } from '../../shared/errors';
import type { Project } from '../../shared/domain';
import { nowIso, type Db } from './database';

interface ProjectRow {
  id: number;
  name: string;
  created_at: string;
  updated_at: string;
}

const toProject = (r: ProjectRow): Project => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** Projects: named containers for data, selections, runs and evaluations. */
export class ProjectStore {
  constructor(private readonly db: Db) {}

  list(): Project[] {
    const rows = this.db.prepare('SELECT * FROM projects ORDER BY created_at DESC, id DESC').all() as ProjectRow[];
    return rows.map(toProject);
  }

  get(id: number): Project {
    const row = this.db.prepare('SELECT * FROM projects WHERE id = ?').get(id) as ProjectRow | undefined;
    if (!row) throw new AppError('not_found', `Project ${id} does not exist`, { id });
    return toProject(row);
  }

  create(name: string): Project {
    this.assertNameFree(name);
    const now = nowIso();
    const info = this.db.prepare('INSERT INTO projects (name, created_at, updated_at) VALUES (?, ?, ?)').run(name, now, now);
    return this.get(Number(info.lastInsertRowid));
  }

  rename(id: number, name: string): Project {
    this.get(id);
    this.assertNameFree(name, id);
    this.db.prepare('UPDATE projects SET name = ?, updated_at = ? WHERE id = ?').run(name, nowIso(), id);
    return this.get(id);
  }

  delete(id: number): void {
    this.get(id);
    this.db.prepare('DELETE FROM projects WHERE id = ?').run(id);
  }

  private assertNameFree(name: string, exceptId?: number): void {
    const row = this.db.prepare('SELECT id FROM projects WHERE name = ? COLLATE NOCASE').get(name) as { id: number } | undefined;
    if (row && row.id !== exceptId) {
      throw new AppError('conflict', `A project named "${name}" already exists`, { name });
    }
  }
}
