import type { Behaviour, DataRecord, Dataset, DatasetRole, RecordQuery } from '../../shared/data';
import { AppError } from '../../shared/errors';
import { nowIso, type Db } from './database';

interface DatasetRow {
  id: number;
  project_id: number;
  role: DatasetRole;
  name: string;
  source_path: string;
  file_digest: string;
  size_bytes: number;
  container: string | null;
  mapping: string | null;
  state: Dataset['state'];
  accepted: number;
  rejected: number;
  job_id: number | null;
  embedder_id: string | null;
  created_at: string;
  recorded_types: number;
}

interface RecordRow {
  id: number;
  dataset_id: number;
  role: DatasetRole;
  source_row: number;
  source_line: number | null;
  prompt: string;
  response: string;
  categories: string;
  category_source: DataRecord['categorySource'];
  behaviour: DataRecord['behaviour'];
  behaviour_confidence: number | null;
  behaviour_source: DataRecord['behaviourSource'];
  duplicate_of: number | null;
  near_duplicate_of: number | null;
}

const toDataset = (r: DatasetRow): Dataset => ({
  id: r.id,
  projectId: r.project_id,
  role: r.role,
  name: r.name,
  sourcePath: r.source_path,
  fileDigest: r.file_digest,
  sizeBytes: r.size_bytes,
  container: r.container,
  mapping: r.mapping ? JSON.parse(r.mapping) : null,
  state: r.state,
  accepted: r.accepted,
  rejected: r.rejected,
  jobId: r.job_id,
  embedderId: r.embedder_id,
  recordedTypes: r.recorded_types,
  createdAt: r.created_at,
});

/** A data set's columns and how many of its records have a recorded type (from the file or a person). */
const DATASET = `SELECT d.*, (SELECT COUNT(*) FROM records r WHERE r.dataset_id = d.id AND r.behaviour_source IN ('label', 'user')) AS recorded_types
  FROM datasets d`;

const toRecord = (r: RecordRow): DataRecord => ({
  id: r.id,
  datasetId: r.dataset_id,
  role: r.role,
  sourceRow: r.source_row,
  sourceLine: r.source_line,
  prompt: r.prompt,
  response: r.response,
  categories: JSON.parse(r.categories) as string[],
  categorySource: r.category_source,
  behaviour: r.behaviour,
  behaviourConfidence: r.behaviour_confidence,
  behaviourSource: r.behaviour_source,
  duplicateOf: r.duplicate_of,
  nearDuplicateOf: r.near_duplicate_of,
});

export interface NewRecord {
  sourceRow: number;
  sourceLine: number | null;
  prompt: string;
  response: string;
  contentHash: string;
  categories: string[];
  labels: Record<string, unknown>;
  /** the behaviour type recorded in the file (stored with source 'label'), when the import takes one */
  behaviour?: Behaviour;
}

/** Imported data sets, their records and rejected rows. */
export class DatasetStore {
  constructor(private readonly db: Db) {}

  list(projectId: number): Dataset[] {
    return (this.db.prepare(`${DATASET} WHERE d.project_id = ? ORDER BY d.id`).all(projectId) as DatasetRow[]).map(toDataset);
  }

  get(id: number): Dataset {
    const row = this.db.prepare(`${DATASET} WHERE d.id = ?`).get(id) as DatasetRow | undefined;
    if (!row) throw new AppError('not_found', `Dataset ${id} does not exist`, { id });
    return toDataset(row);
  }

  find(id: number): Dataset | undefined {
    const row = this.db.prepare(`${DATASET} WHERE d.id = ?`).get(id) as DatasetRow | undefined;
    return row ? toDataset(row) : undefined;
  }

  findByDigest(projectId: number, role: DatasetRole, digest: string): Dataset | undefined {
    const row = this.db.prepare(`${DATASET} WHERE d.project_id = ? AND d.role = ? AND d.file_digest = ?`).get(projectId, role, digest) as
      | DatasetRow
      | undefined;
    return row ? toDataset(row) : undefined;
  }

  create(d: { projectId: number; role: DatasetRole; name: string; sourcePath: string; fileDigest: string; sizeBytes: number; jobId: number | null }): Dataset {
    const now = nowIso();
    const info = this.db
      .prepare(
        `INSERT INTO datasets (project_id, role, name, source_path, file_digest, size_bytes, state, job_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'importing', ?, ?, ?)`,
      )
      .run(d.projectId, d.role, d.name, d.sourcePath, d.fileDigest, d.sizeBytes, d.jobId, now, now);
    return this.get(Number(info.lastInsertRowid));
  }

  setFormat(id: number, container: string, mapping: unknown): void {
    this.db.prepare('UPDATE datasets SET container = ?, mapping = ?, updated_at = ? WHERE id = ?').run(container, JSON.stringify(mapping), nowIso(), id);
  }

  finish(id: number, state: 'ready' | 'failed'): void {
    this.db
      .prepare(
        `UPDATE datasets SET state = ?, updated_at = ?,
           accepted = (SELECT COUNT(*) FROM records WHERE dataset_id = ?),
           rejected = (SELECT COUNT(*) FROM import_rejections WHERE dataset_id = ?)
         WHERE id = ?`,
      )
      .run(state, nowIso(), id, id, id);
  }

  setEmbedder(id: number, embedderId: string): void {
    this.db.prepare('UPDATE datasets SET embedder_id = ? WHERE id = ?').run(embedderId, id);
  }

  embedderOf(id: number): string | null {
    return (this.db.prepare('SELECT embedder_id FROM datasets WHERE id = ?').get(id) as { embedder_id: string | null } | undefined)?.embedder_id ?? null;
  }

  delete(id: number): void {
    this.get(id);
    this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id);
  }

  /**
   * Removes records of one data set (ids of other data sets are ignored) and recounts it; a record
   * that was the kept copy of exact duplicates hands that role to its next duplicate. Selections
   * holding a dropped record lose it (their items cascade).
   */
  dropRecords(datasetId: number, recordIds: readonly number[]): { dropped: number; remaining: number } {
    const drop = this.db.transaction(() => {
      let dropped = 0;
      const promote = this.db.prepare('UPDATE records SET duplicate_of = NULL WHERE id = (SELECT MIN(id) FROM records WHERE duplicate_of = ?)');
      const repoint = this.db.prepare(
        'UPDATE records SET duplicate_of = (SELECT MIN(id) FROM records WHERE duplicate_of = ?) WHERE duplicate_of = ? AND id != (SELECT MIN(id) FROM records WHERE duplicate_of = ?)',
      );
      const del = this.db.prepare('DELETE FROM records WHERE id = ? AND dataset_id = ?');
      const inSet = this.db.prepare('SELECT 1 FROM records WHERE id = ? AND dataset_id = ?');
      for (const id of recordIds) {
        if (!inSet.get(id, datasetId)) continue;
        repoint.run(id, id, id);
        promote.run(id);
        dropped += del.run(id, datasetId).changes;
      }
      this.db
        .prepare('UPDATE datasets SET accepted = (SELECT COUNT(*) FROM records WHERE dataset_id = ?), updated_at = ? WHERE id = ?')
        .run(datasetId, nowIso(), datasetId);
      return dropped;
    });
    const dropped = drop();
    return { dropped, remaining: this.get(datasetId).accepted };
  }

  /** Inserts records; a row already stored (same dataset and source row) is skipped, never doubled. */
  insertRecords(datasetId: number, projectId: number, records: readonly NewRecord[]): void {
    const stmt = this.db.prepare(
      `INSERT OR IGNORE INTO records
         (dataset_id, project_id, source_row, source_line, prompt, response, content_hash, categories, category_source, labels,
          behaviour, behaviour_confidence, behaviour_source)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const r of records) {
      stmt.run(
        datasetId,
        projectId,
        r.sourceRow,
        r.sourceLine,
        r.prompt,
        r.response,
        r.contentHash,
        JSON.stringify(r.categories),
        r.categories.length > 0 ? 'label' : 'none',
        JSON.stringify(r.labels),
        r.behaviour ?? null,
        r.behaviour ? 1 : null,
        r.behaviour ? 'label' : 'none',
      );
    }
  }

  insertRejections(datasetId: number, rows: readonly { sourceRow: number; sourceLine: number | null; message: string }[]): void {
    const stmt = this.db.prepare('INSERT OR IGNORE INTO import_rejections (dataset_id, source_row, source_line, message) VALUES (?, ?, ?, ?)');
    for (const r of rows) stmt.run(datasetId, r.sourceRow, r.sourceLine, r.message);
  }

  rejections(datasetId: number, offset: number, limit: number) {
    const total = (this.db.prepare('SELECT COUNT(*) AS n FROM import_rejections WHERE dataset_id = ?').get(datasetId) as { n: number }).n;
    const rows = this.db
      .prepare('SELECT source_row, source_line, message FROM import_rejections WHERE dataset_id = ? ORDER BY source_row LIMIT ? OFFSET ?')
      .all(datasetId, limit, offset) as { source_row: number; source_line: number | null; message: string }[];
    return { total, rows: rows.map((r) => ({ sourceRow: r.source_row, sourceLine: r.source_line, message: r.message })) };
  }

  /** Marks exact duplicates (same content hash anywhere in the project) of this dataset's records. */
  markExactDuplicates(datasetId: number): number {
    this.db
      .prepare(
        `UPDATE records SET duplicate_of = (
           SELECT MIN(o.id) FROM records o
           WHERE o.project_id = records.project_id AND o.content_hash = records.content_hash AND o.id < records.id
         )
         WHERE dataset_id = ?`,
      )
      .run(datasetId);
    return (this.db.prepare('SELECT COUNT(*) AS n FROM records WHERE dataset_id = ? AND duplicate_of IS NOT NULL').get(datasetId) as { n: number }).n;
  }

  /** Prompts of a dataset in id order (for near-duplicate detection and embedding). */
  prompts(datasetId: number): { id: number; prompt: string }[] {
    return this.db.prepare('SELECT id, prompt FROM records WHERE dataset_id = ? ORDER BY id').all(datasetId) as { id: number; prompt: string }[];
  }

  /** Records of one data set for its embedding map, in id order. */
  mapRows(datasetId: number): { id: number; prompt: string; categories: string[]; behaviour: DataRecord['behaviour'] }[] {
    const rows = this.db.prepare('SELECT id, prompt, categories, behaviour FROM records WHERE dataset_id = ? ORDER BY id').all(datasetId) as {
      id: number;
      prompt: string;
      categories: string;
      behaviour: DataRecord['behaviour'];
    }[];
    return rows.map((r) => ({ ...r, categories: JSON.parse(r.categories) as string[] }));
  }

  /** How many records of a data set have each behaviour type ("untyped": none yet). */
  behaviourCounts(datasetId: number): Record<string, number> {
    const rows = this.db.prepare(`SELECT COALESCE(behaviour, 'untyped') AS b, COUNT(*) AS n FROM records WHERE dataset_id = ? GROUP BY 1`).all(datasetId) as {
      b: string;
      n: number;
    }[];
    return Object.fromEntries(rows.map((r) => [r.b, r.n]));
  }

  setNearDuplicates(pairs: readonly [number, number][]): void {
    const stmt = this.db.prepare('UPDATE records SET near_duplicate_of = ? WHERE id = ?');
    for (const [record, of] of pairs) stmt.run(of, record);
  }

  /** Records of one data set for analysis, in id order. */
  analysisRows(datasetId: number): { id: number; prompt: string; response: string; categorySource: DataRecord['categorySource'] }[] {
    return (
      this.db.prepare('SELECT id, prompt, response, category_source FROM records WHERE dataset_id = ? ORDER BY id').all(datasetId) as {
        id: number;
        prompt: string;
        response: string;
        category_source: DataRecord['categorySource'];
      }[]
    ).map((r) => ({ id: r.id, prompt: r.prompt, response: r.response, categorySource: r.category_source }));
  }

  /** Detector results; a type recorded in the file or a user's correction is never overwritten. */
  setBehaviour(rows: readonly { id: number; behaviour: string; confidence: number; harm: number; refusal: number }[]): void {
    const stmt = this.db.prepare(
      `UPDATE records SET behaviour = ?, behaviour_confidence = ?, harmful_score = ?, refusal_score = ?, behaviour_source = 'detector'
       WHERE id = ? AND behaviour_source NOT IN ('label', 'user')`,
    );
    for (const r of rows) stmt.run(r.behaviour, r.confidence, r.harm, r.refusal, r.id);
  }

  /** Drops the detector's behaviour types of a data set (Analyse without typing); a type from the file or a user's correction stays. */
  clearDetectorBehaviour(datasetId: number): number {
    return this.db
      .prepare(
        `UPDATE records SET behaviour = NULL, behaviour_confidence = NULL, harmful_score = NULL, refusal_score = NULL, behaviour_source = 'none'
         WHERE dataset_id = ? AND behaviour_source = 'detector'`,
      )
      .run(datasetId).changes;
  }

  /** Drops inferred categories of a data set (Analyse without category inference); labels and corrections stay. */
  clearInferredCategories(datasetId: number): number {
    return this.db
      .prepare(`UPDATE records SET categories = '[]', category_scores = NULL, category_source = 'none' WHERE dataset_id = ? AND category_source = 'inferred'`)
      .run(datasetId).changes;
  }

  /** Inferred categories; labelled or user-corrected categories are kept. */
  setInferredCategories(rows: readonly { id: number; categories: string[]; scores: Record<string, number> }[]): void {
    const stmt = this.db.prepare(
      `UPDATE records SET categories = ?, category_scores = ?, category_source = 'inferred'
       WHERE id = ? AND category_source IN ('none', 'inferred')`,
    );
    for (const r of rows) stmt.run(JSON.stringify(r.categories), JSON.stringify(r.scores), r.id);
  }

  /** Records of a role across the project (exact duplicates left out), for selection and export. */
  roleRecords(
    projectId: number,
    role: DatasetRole,
    datasetIds?: readonly number[],
  ): { id: number; prompt: string; response: string; categories: string[]; behaviour: DataRecord['behaviour'] }[] {
    const ds = datasetIds && datasetIds.length ? ` AND r.dataset_id IN (${datasetIds.map(Number).join(',')})` : '';
    const rows = this.db
      .prepare(
        `SELECT r.id, r.prompt, r.response, r.categories, r.behaviour FROM records r JOIN datasets d ON d.id = r.dataset_id
         WHERE r.project_id = ? AND d.role = ? AND d.state = 'ready' AND r.duplicate_of IS NULL${ds} ORDER BY r.id`,
      )
      .all(projectId, role) as { id: number; prompt: string; response: string; categories: string; behaviour: DataRecord['behaviour'] }[];
    return rows.map((r) => ({ ...r, categories: JSON.parse(r.categories) as string[] }));
  }

  /**
   * The safety pool's records a selection may take (the pool as roleRecords reads it): with
   * `t1Only`, T1 records only; with `categories`, records carrying one of them. `perCategory`
   * counts the eligible records carrying each category (a record with several counts for each).
   */
  poolEligible(
    projectId: number,
    opts: { t1Only: boolean; categories?: readonly string[] | undefined },
  ): { poolSize: number; eligible: number; perCategory: Record<string, number> } {
    const pool = `FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE r.project_id = ? AND d.role = 'safety_pool' AND d.state = 'ready' AND r.duplicate_of IS NULL`;
    const t1 = opts.t1Only ? ` AND r.behaviour = 'T1'` : '';
    const cats = opts.categories ? ` AND EXISTS (SELECT 1 FROM json_each(r.categories) c WHERE c.value IN (${opts.categories.map(() => '?').join(',')}))` : '';
    const { n: poolSize } = this.db.prepare(`SELECT COUNT(*) AS n ${pool}`).get(projectId) as { n: number };
    const { n: eligible } = this.db.prepare(`SELECT COUNT(*) AS n ${pool}${t1}${cats}`).get(projectId, ...(opts.categories ?? [])) as { n: number };
    const rows = this.db
      .prepare(`SELECT j.value AS category, COUNT(*) AS n ${pool.replace('WHERE', ', json_each(r.categories) j WHERE')}${t1} GROUP BY j.value`)
      .all(projectId) as { category: string; n: number }[];
    return { poolSize, eligible, perCategory: Object.fromEntries(rows.map((r) => [r.category, r.n])) };
  }

  records(q: RecordQuery): { total: number; rows: DataRecord[] } {
    const where = ['r.project_id = ?'];
    const args: unknown[] = [q.projectId];
    if (q.datasetId !== undefined) {
      where.push('r.dataset_id = ?');
      args.push(q.datasetId);
    }
    if (q.role) {
      where.push('d.role = ?');
      args.push(q.role);
    }
    if (q.category) {
      where.push('EXISTS (SELECT 1 FROM json_each(r.categories) WHERE value = ?)');
      args.push(q.category);
    }
    if (q.behaviour === 'untyped') where.push('r.behaviour IS NULL');
    else if (q.behaviour) {
      where.push('r.behaviour = ?');
      args.push(q.behaviour);
    }
    if (q.duplicates === 'only') where.push('(r.duplicate_of IS NOT NULL OR r.near_duplicate_of IS NOT NULL)');
    if (q.duplicates === 'hide') where.push('r.duplicate_of IS NULL AND r.near_duplicate_of IS NULL');
    if (q.search) {
      where.push(`(r.prompt LIKE ? ESCAPE '\\' OR r.response LIKE ? ESCAPE '\\')`);
      const like = `%${q.search.replace(/[\\%_]/g, (c) => '\\' + c)}%`;
      args.push(like, like);
    }
    const from = `FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE ${where.join(' AND ')}`;
    const total = (this.db.prepare(`SELECT COUNT(*) AS n ${from}`).get(...args) as { n: number }).n;
    const rows = this.db.prepare(`SELECT r.*, d.role ${from} ORDER BY r.id LIMIT ? OFFSET ?`).all(...args, q.limit, q.offset) as RecordRow[];
    return { total, rows: rows.map(toRecord) };
  }

  getRecord(id: number): DataRecord {
    const row = this.db.prepare('SELECT r.*, d.role FROM records r JOIN datasets d ON d.id = r.dataset_id WHERE r.id = ?').get(id) as RecordRow | undefined;
    if (!row) throw new AppError('not_found', `Record ${id} does not exist`, { id });
    return toRecord(row);
  }

  /** A user's correction of a record's categories or behaviour type. */
  correctRecord(id: number, fix: { categories?: string[]; behaviour?: DataRecord['behaviour'] }): DataRecord {
    this.getRecord(id);
    if (fix.categories) {
      this.db.prepare(`UPDATE records SET categories = ?, category_source = 'user' WHERE id = ?`).run(JSON.stringify(fix.categories), id);
    }
    if (fix.behaviour !== undefined) {
      this.db.prepare(`UPDATE records SET behaviour = ?, behaviour_confidence = 1, behaviour_source = 'user' WHERE id = ?`).run(fix.behaviour, id);
    }
    return this.getRecord(id);
  }
}
