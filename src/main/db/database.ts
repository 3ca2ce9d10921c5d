/**
 * The workspace database: opening it (checked read-only first, then WAL + migrations), the schema
 * version it carries, and the connection settings every thread uses.
 */
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { closeSync, copyFileSync, constants as fsConstants, linkSync, openSync, readSync, rmSync, statSync, type Stats } from 'node:fs';
import { AppError } from '../../shared/errors';
import { migrations as defaultMigrations, type Migration } from './migrations';

export type Db = Database.Database;

const SQLITE_MAGIC = 'SQLite format 3\0';
const HEADER_BYTES = 100;
/** PRAGMA application_id of a SafeTune database: 'STWB'. */
export const APPLICATION_ID = 0x53545742;

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
 * pending migrations inside one transaction. Everything that decides whether the file may be used
 * — that it is a whole SQLite file, a SafeTune one, and not from a newer version of the app — is
 * checked from its header bytes and a read-only connection first, so a refused file is left
 * byte-for-byte as it was. Nothing appears beside it either, except when a WAL-mode file has to be
 * read through SQLite (its header does not carry a SafeTune version): SQLite then creates the
 * usual -wal/-shm files. A new database is built under a temporary name and linked into place whole.
 */
export function openDatabase(path: string, opts: OpenOptions = {}): { db: Db; migration: MigrationReport } {
  const list = opts.migrations ?? defaultMigrations;
  validateList(list);
  const readonly = opts.readonly ?? false;
  let created: MigrationReport | null = null;
  if (path !== ':memory:') {
    if (!fileStats(path)) {
      if (readonly) throw new AppError('database', `${path} does not exist.`, { path });
      created = createDatabase(path, list);
    }
    checkReadOnly(path, readHeader(path), list);
  }
  let db: Db;
  try {
    db = new Database(path, { readonly, fileMustExist: path !== ':memory:' });
  } catch (e) {
    throw new AppError('database', `Cannot open database ${path}: ${(e as Error).message}`, { path });
  }
  try {
    configure(db, readonly);
    const migration = readonly ? readOnlyReport(db, list, path) : migrate(db, list, path);
    return { db, migration: created ?? migration };
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

/** The file's stats, or null when there is none; a folder or a special file is refused by name. */
function fileStats(path: string): Stats | null {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AppError('database', `Cannot read ${path}: ${(e as Error).message}`, { path });
  }
  if (st.isDirectory()) {
    throw new AppError('database', `${path} is a folder, not a database file. Move it away or choose another workspace.`, { path });
  }
  if (!st.isFile()) {
    throw new AppError('database', `${path} is not a regular file, so it cannot be the workspace database. Move it away or choose another workspace.`, {
      path,
    });
  }
  return st;
}

/**
 * Builds a new database under a temporary name (rollback journal, fully migrated, closed) and
 * links it into place, so the workspace never holds an empty or half-made safetune.db. If another
 * process linked one first, that one is used (and null returned).
 */
function createDatabase(path: string, list: readonly Migration[]): MigrationReport | null {
  const temp = `${path}.new-${process.pid}-${randomBytes(6).toString('hex')}`;
  try {
    const db = new Database(temp);
    let report: MigrationReport;
    try {
      db.pragma('foreign_keys = ON');
      report = migrate(db, list, path);
    } finally {
      db.close();
    }
    return placeNewFile(temp, path) ? report : null;
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('database', `Cannot create the database ${path}: ${(e as Error).message}`, { path });
  } finally {
    rmSync(temp, { force: true });
    rmSync(`${temp}-journal`, { force: true });
  }
}

/** Puts `temp` at `path` unless a file is already there; true when this call placed it. */
function placeNewFile(temp: string, path: string): boolean {
  try {
    linkSync(temp, path);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links (FAT, some network shares): an exclusive copy instead.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
    try {
      copyFileSync(temp, path, fsConstants.COPYFILE_EXCL);
      return true;
    } catch (c) {
      if ((c as NodeJS.ErrnoException).code !== 'EEXIST') throw c;
      return false;
    }
  }
}

interface Header {
  /** PRAGMA user_version: the schema version, in a file whose applicationId is SafeTune's. */
  userVersion: number;
  applicationId: number;
}

/** Reads and checks the 100-byte SQLite header: the file must be a whole SQLite database. */
function readHeader(path: string): Header {
  const size = fileStats(path)?.size ?? 0;
  if (size === 0) {
    throw new AppError(
      'database',
      `${path} is empty (0 bytes), so it is not a SafeTune database. Delete it to start a new workspace there, or choose another workspace.`,
      { path },
    );
  }
  const buf = Buffer.alloc(HEADER_BYTES);
  let n: number;
  try {
    const fd = openSync(path, 'r');
    try {
      n = readSync(fd, buf, 0, HEADER_BYTES, 0);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new AppError('database', `Cannot read ${path}: ${(e as Error).message}`, { path });
  }
  if (buf.toString('latin1', 0, SQLITE_MAGIC.length) !== SQLITE_MAGIC) {
    throw new AppError('database', `${path} is not a SafeTune database (not an SQLite file). Move it away or choose another workspace.`, { path });
  }
  if (n < HEADER_BYTES) {
    throw damaged(path, `is truncated (${n} bytes, shorter than the 100-byte SQLite header)`);
  }
  const raw = buf.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) throw damaged(path, `has a damaged header (page size ${raw})`);
  // The page count in the header is valid when the change counter matches "version-valid-for". A
  // file shorter than that lost its tail, unless a -wal or hot -journal still holds the pages.
  const pages = buf.readUInt32BE(24) === buf.readUInt32BE(92) ? buf.readUInt32BE(28) : 0;
  if (pages > 0 && size < pages * pageSize && !hasContent(`${path}-wal`) && !hasContent(`${path}-journal`)) {
    throw damaged(path, `is truncated (${size} bytes; its header says ${pages} pages of ${pageSize} bytes)`);
  }
  return { userVersion: buf.readUInt32BE(60), applicationId: buf.readUInt32BE(68) };
}

function damaged(path: string, what: string): AppError {
  return new AppError('database', `${path} ${what}. Restore it from a backup, or move it away and choose another workspace; it was left untouched.`, { path });
}

function hasContent(path: string): boolean {
  try {
    return statSync(path).size > 0;
  } catch {
    return false;
  }
}

/**
 * Decides, without writing anything, whether the database may be opened for writing: a SafeTune
 * database (or an SQLite file with no tables yet) at a schema version this build knows. The
 * header's application_id and user_version (written by migrate) answer without opening SQLite at
 * all; otherwise a read-only connection reads the schema_version table.
 */
function checkReadOnly(path: string, header: Header, list: readonly Migration[]): void {
  if (header.applicationId !== 0 && header.applicationId !== APPLICATION_ID) {
    throw new AppError(
      'database',
      `${path} is an SQLite database of some other program (application id 0x${header.applicationId.toString(16)}), not a SafeTune database. ` +
        'Move it away or choose another workspace.',
      { path },
    );
  }
  if (header.applicationId === APPLICATION_ID) assertNotNewer(header.userVersion, list, path);
  const version = withReadOnlyConnection(path, (db) => schemaVersionOf(db, path));
  assertNotNewer(version, list, path);
}

/** Runs `read` on a read-only connection; a hot journal left by a crash is rolled back first. */
function withReadOnlyConnection<T>(path: string, read: (db: Db) => T): T {
  for (let attempt = 0; ; attempt++) {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      return read(db);
    } catch (e) {
      if (e instanceof AppError) throw e;
      const code = (e as { code?: string }).code ?? '';
      if (code === 'SQLITE_READONLY_ROLLBACK' && attempt === 0) {
        rollBackHotJournal(path);
        continue;
      }
      if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) throw damaged(path, `is damaged (${(e as Error).message})`);
      throw new AppError('database', `Cannot read database ${path}: ${(e as Error).message}`, { path });
    } finally {
      db.close();
    }
  }
}

/**
 * A rollback journal left by a writer that died mid-transaction must be played back before anyone
 * can read the file; this is SQLite's own crash recovery, which any connection would run. The
 * file keeps its journal mode.
 */
function rollBackHotJournal(path: string): void {
  const db = new Database(path, { fileMustExist: true });
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
  } finally {
    db.close();
  }
}

/** The schema version recorded in the database; 0 for an SQLite file with no tables yet. */
function schemaVersionOf(db: Db, path: string): number {
  const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'`).all() as { name: string }[]).map(
    (r) => r.name,
  );
  if (!tables.includes('schema_version')) {
    if (tables.length === 0) return 0;
    throw new AppError(
      'database',
      `${path} is an SQLite database of some other program (it has tables ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', …' : ''} but no schema_version), ` +
        'not a SafeTune database. Move it away or choose another workspace.',
      { path, tables },
    );
  }
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_version').get() as { v: number | null };
  return row.v ?? 0;
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

function readOnlyReport(db: Db, list: readonly Migration[], path: string): MigrationReport {
  const v = schemaVersionOf(db, path);
  assertNotNewer(v, list, path);
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
    const to = latestSchemaVersion(list);
    markHeader(db, to);
    return { from, to, applied };
  });
  // IMMEDIATE: take the write lock before reading the version, so two processes never migrate twice.
  const report = run.immediate();
  const fk = db.pragma('foreign_key_check') as unknown[];
  if (fk.length > 0) {
    throw new AppError('database', `${path}: foreign key check failed after migration`, { violations: fk });
  }
  return report;
}

/**
 * Mirrors the schema version into the file header (user_version, with SafeTune's application_id),
 * where a later version of the app can read it from the raw bytes without opening the file.
 */
function markHeader(db: Db, version: number): void {
  if (db.pragma('user_version', { simple: true }) !== version) db.pragma(`user_version = ${version}`);
  if (db.pragma('application_id', { simple: true }) !== APPLICATION_ID) db.pragma(`application_id = ${APPLICATION_ID}`);
}

function validateList(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`Migration list out of order at ${m.name}: version ${m.version}, expected ${i + 1}`);
  });
}

export function nowIso(): string {
  return new Date().toISOString();
}
