import Database from 'better-sqlite3';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { AppError } from '../../shared/errors';
import { migrations as defaultMigrations, type Migration } from './migrations';

export type Db = Database.Database;

const SQLITE_HEADER = 'SQLite format 3\0';

export interface OpenOptions {
  migrations?: readonly Migration[];
  readonly?: boolean;
}

export interface MigrationReport {
  from: number;
  to: number;
  applied: string[];
}

/** The schema version this build writes. */
export function latestSchemaVersion(list: readonly Migration[] = defaultMigrations): number {
  return list.length === 0 ? 0 : list[list.length - 1]!.version;
}

/**
 * Opens (creating if needed) the workspace database: WAL, foreign keys, busy timeout, and runs
 * pending migrations inside one transaction. Refuses — without touching the file — a file that is
 * not SQLite, or one written by a newer version of the app.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): { db: Db; migration: MigrationReport } {
  const list = opts.migrations ?? defaultMigrations;
  checkHeader(path);
  let db: Db;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (e) {
    throw new AppError('database', `Cannot open database ${path}: ${(e as Error).message}`, { path });
  }
  try {
    configure(db, opts.readonly ?? false);
    const migration = opts.readonly ? readOnlyReport(db, list) : migrate(db, list, path);
    return { db, migration };
  } catch (e) {
    db.close();
    if (e instanceof AppError) throw e;
    throw new AppError('database', `Cannot use database ${path}: ${(e as Error).message}`, { path });
  }
}

/** Opens an existing, already-migrated database from another thread (job workers). */
export function openWorkerConnection(path: string): Db {
  const db = new Database(path, { fileMustExist: true });
  configure(db, false);
  return db;
}

function configure(db: Db, readonly: boolean): void {
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  if (!readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
}

function checkHeader(path: string): void {
  if (path === ':memory:' || !existsSync(path)) return;
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    const n = readSync(fd, buf, 0, 16, 0);
    if (n === 0) return; // empty file: SQLite initialises it
    if (n < 16 || buf.toString('latin1') !== SQLITE_HEADER) {
      throw new AppError(
        'database',
        `${path} is not a SafeTune database (not an SQLite file). Move it away or choose another workspace.`,
        { path },
      );
    }
  } finally {
    closeSync(fd);
  }
}

function currentVersion(db: Db): number {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
}

function readOnlyReport(db: Db, list: readonly Migration[]): MigrationReport {
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  const v = row.v ?? 0;
  assertNotNewer(v, list, db.name);
  return { from: v, to: v, applied: [] };
}

function assertNotNewer(version: number, list: readonly Migration[], path: string): void {
  const latest = latestSchemaVersion(list);
  if (version > latest) {
    throw new AppError(
      'database',
      `${path} was written by a newer SafeTune Workbench (schema ${version}; this version knows up to ${latest}). ` +
        'Update the app to open it; the file was left untouched.',
      { path, schemaVersion: version, supported: latest },
    );
  }
}

function migrate(db: Db, list: readonly Migration[], path: string): MigrationReport {
  validateList(list);
  const run = db.transaction(() => {
    const from = currentVersion(db);
    assertNotNewer(from, list, path);
    const applied: string[] = [];
    const insert = db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of list) {
      if (m.version <= from) continue;
      m.up(db);
      insert.run(m.version, m.name, new Date().toISOString());
      applied.push(`${m.version} ${m.name}`);
    }
    return { from, to: latestSchemaVersion(list), applied };
  });
  // IMMEDIATE: take the write lock before reading the version, so two processes never migrate twice.
  const report = run.immediate();
  const fk = db.pragma('foreign_key_check') as unknown[];
  if (fk.length > 0) {
    throw new AppError('database', `${path}: foreign key check failed after migration`, { violations: fk });
  }
  return report;
}

function validateList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration list out of order at ${m.name}: version ${m.version}, expected ${i + 1}`);
  });
}

export function nowIso(): string {
  return new Date().toISOString();
}
