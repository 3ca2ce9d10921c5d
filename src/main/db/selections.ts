import { AppError } from '../../shared/errors';
import type { Selection } from '../../shared/select';
import { nowIso, type Db } from './database';

interface SelectionRow {
  id: number;
  project_id: number;
  name: string;
  method: Selection['method'];
  params: string;
  summary: string;
  saved: number;
  created_at: string;
}

const toSelection = (r: SelectionRow): Selection => ({
  id: r.id,
  projectId: r.project_id,
  name: r.name,
  method: r.method,
  params: JSON.parse(r.params),
  summary: JSON.parse(r.summary),
  saved: r.saved === 1,
  createdAt: r.created_at,
});

/** Safety-data selections: previews (unsaved) and named, saved ones. */
export class SelectionStore {
  constructor(private readonly db: Db) {}

  create(
    s: { projectId: number; method: string; params: unknown; summary: unknown },
    items: readonly { recordId: number; category: string | null; score: number | null }[],
  ): number {
    return this.db.transaction(() => {
      const info = this.db
        .prepare(`INSERT INTO selections (project_id, name, method, params, summary, saved, created_at) VALUES (?, 'Preview', ?, ?, ?, 0, ?)`)
        .run(s.projectId, s.method, JSON.stringify(s.params), JSON.stringify(s.summary), nowIso());
      const id = Number(info.lastInsertRowid);
      const put = this.db.prepare('INSERT INTO selection_items (selection_id, rank, record_id, category, score) VALUES (?, ?, ?, ?, ?)');
      items.forEach((it, rank) => put.run(id, rank, it.recordId, it.category, it.score));
      return id;
    })();
  }

  get(id: number): Selection {
    const row = this.db.prepare('SELECT * FROM selections WHERE id = ?').get(id) as SelectionRow | undefined;
    if (!row) throw new AppError('not_found', `Selection ${id} does not exist`, { id });
    return toSelection(row);
  }

  list(projectId: number): Selection[] {
    return (this.db.prepare('SELECT * FROM selections WHERE project_id = ? AND saved = 1 ORDER BY id DESC').all(projectId) as SelectionRow[]).map(toSelection);
  }

  items(id: number) {
    const rows = this.db
      .prepare(
        `SELECT i.rank, i.record_id, i.category, i.score, r.prompt, r.response, r.categories, r.behaviour
         FROM selection_items i JOIN records r ON r.id = i.record_id WHERE i.selection_id = ? ORDER BY i.rank`,
      )
      .all(id) as {
      rank: number;
      record_id: number;
      category: string | null;
      score: number | null;
      prompt: string;
      response: string;
      categories: string;
      behaviour: 'T1' | 'T2' | 'T3' | 'T4' | null;
    }[];
    return rows.map((r) => ({
      rank: r.rank,
      recordId: r.record_id,
      prompt: r.prompt,
      response: r.response,
      categories: JSON.parse(r.categories) as string[],
      behaviour: r.behaviour,
      takenFor: r.category,
      score: r.score,
    }));
  }

  save(id: number, name: string): Selection {
    const sel = this.get(id);
    const clash = this.db.prepare('SELECT id FROM selections WHERE project_id = ? AND saved = 1 AND name = ? AND id != ?').get(sel.projectId, name, id);
    if (clash) throw new AppError('conflict', `A selection named "${name}" already exists in this project`, { name });
    this.db.prepare('UPDATE selections SET name = ?, saved = 1 WHERE id = ?').run(name, id);
    // Unsaved previews of the project are superseded.
    this.db.prepare('DELETE FROM selections WHERE project_id = ? AND saved = 0').run(sel.projectId);
    return this.get(id);
  }

  delete(id: number): void {
    this.get(id);
    this.db.prepare('DELETE FROM selections WHERE id = ?').run(id);
  }
}
