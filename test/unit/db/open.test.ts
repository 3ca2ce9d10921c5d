// Opening the workspace database: files that must be refused are refused with a message naming
// them and are left byte-for-byte untouched, with no -wal/-shm/-journal files appearing beside them.
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { latestSchemaVersion, openDatabase } from '../../../src/main/db/database';
import { AppError } from '../../../src/shared/errors';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function workspace(): { dir: string; path: string } {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return { dir: t.dir, path: join(t.dir, 'safetune.db') };
}

/** sha256 of the file plus the folder listing: what "left untouched" means. */
function snapshot(dir: string, path: string): { hash: string; files: string[] } {
  return { hash: createHash('sha256').update(readFileSync(path)).digest('hex'), files: readdirSync(dir).sort() };
}

function openError(path: string): AppError {
  try {
    openDatabase(path).db.close();
  } catch (e) {
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).code).toBe('database');
    return e as AppError;
  }
  throw new Error(`openDatabase(${path}) did not refuse the file`);
}

/** A workspace database at this version, with some rows, switched to rollback-journal mode. */
function rollbackModeDb(path: string, change: (db: Database.Database) => void): void {
  openDatabase(path).db.close();
  const raw = new Database(path);
  raw.pragma('journal_mode = DELETE');
  change(raw);
  raw.close();
}

const future = () => latestSchemaVersion() + 1;
const addFutureVersion = (db: Database.Database) =>
  db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)').run(future(), 'from the future', new Date().toISOString());

describe('opening the workspace database', () => {
  it('refuses a newer-schema database in rollback-journal mode without changing a byte or adding files', () => {
    const { dir, path } = workspace();
    rollbackModeDb(path, addFutureVersion);
    expect(readFileSync(path).readUInt8(18)).toBe(1); // legacy (rollback journal) file format
    const before = snapshot(dir, path);
    expect(before.files).toEqual(['safetune.db']);
    const err = openError(path);
    expect(err.message).toContain(path);
    expect(err.message).toMatch(new RegExp(`newer SafeTune Workbench \\(schema ${future()}; this version knows up to ${latestSchemaVersion()}\\)`));
    expect(snapshot(dir, path)).toEqual(before);
  });

  it('reads a newer schema from the header alone, in either journal mode', () => {
    for (const mode of ['DELETE', 'WAL']) {
      const { dir, path } = workspace();
      rollbackModeDb(path, (db) => {
        addFutureVersion(db);
        db.pragma(`user_version = ${future()}`);
        db.pragma(`journal_mode = ${mode}`);
      });
      const before = snapshot(dir, path);
      expect(before.files).toEqual(['safetune.db']);
      expect(openError(path).message).toMatch(/newer SafeTune Workbench/);
      expect(snapshot(dir, path), mode).toEqual(before);
    }
  });

  it('names a folder called safetune.db instead of failing with EISDIR', () => {
    const { path } = workspace();
    mkdirSync(path);
    const err = openError(path);
    expect(err.message).toBe(`${path} is a folder, not a database file. Move it away or choose another workspace.`);
    expect(statSync(path).isDirectory()).toBe(true);
  });

  it('refuses an empty file, a cut-off header and a truncated database, leaving them as they were', () => {
    const empty = workspace();
    writeFileSync(empty.path, '');
    let before = snapshot(empty.dir, empty.path);
    expect(openError(empty.path).message).toBe(
      `${empty.path} is empty (0 bytes), so it is not a SafeTune database. Delete it to start a new workspace there, or choose another workspace.`,
    );
    expect(snapshot(empty.dir, empty.path)).toEqual(before);

    const header = workspace();
    writeFileSync(header.path, Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(20, 1)]));
    before = snapshot(header.dir, header.path);
    expect(openError(header.path).message).toMatch(/is truncated \(36 bytes, shorter than the 100-byte SQLite header\)/);
    expect(snapshot(header.dir, header.path)).toEqual(before);

    const cut = workspace();
    rollbackModeDb(cut.path, (db) => {
      db.exec('CREATE TABLE filler (x BLOB)');
      for (let i = 0; i < 40; i++) db.prepare('INSERT INTO filler VALUES (randomblob(1000))').run();
    });
    const full = statSync(cut.path).size;
    truncateSync(cut.path, Math.floor(full / 2 / 4096) * 4096);
    before = snapshot(cut.dir, cut.path);
    const err = openError(cut.path);
    expect(err.message).toContain(cut.path);
    expect(err.message).toMatch(new RegExp(`is truncated \\(\\d+ bytes; its header says ${full / 4096} pages of 4096 bytes\\)`));
    expect(snapshot(cut.dir, cut.path)).toEqual(before);
  });

  it('refuses a file that is not SQLite, and an SQLite database of some other program, untouched', () => {
    const text = workspace();
    writeFileSync(text.path, 'id,prompt\n1,hello\n'.repeat(20));
    let before = snapshot(text.dir, text.path);
    expect(openError(text.path).message).toMatch(/is not a SafeTune database \(not an SQLite file\)/);
    expect(snapshot(text.dir, text.path)).toEqual(before);

    const other = workspace();
    const raw = new Database(other.path);
    raw.exec('CREATE TABLE bookmarks (url TEXT)');
    raw.close();
    before = snapshot(other.dir, other.path);
    expect(openError(other.path).message).toBe(
      `${other.path} is an SQLite database of some other program (it has tables bookmarks but no schema_version), not a SafeTune database. Move it away or choose another workspace.`,
    );
    expect(snapshot(other.dir, other.path)).toEqual(before);
  });

  it('creates a new database whole: no empty file or temporary copy is ever left in the folder', () => {
    const { dir, path } = workspace();
    const { db } = openDatabase(path);
    expect(readdirSync(dir).filter((f) => !/^safetune\.db(-wal|-shm)?$/.test(f))).toEqual([]);
    expect(db.pragma('user_version', { simple: true })).toBe(latestSchemaVersion());
    db.close();
    expect(readdirSync(dir)).toEqual(['safetune.db']);
  });

  it('mirrors the schema version into the header of a database written before it did', () => {
    const { path } = workspace();
    rollbackModeDb(path, (db) => db.pragma('user_version = 0'));
    openDatabase(path).db.close();
    const header = readFileSync(path).subarray(0, 100);
    expect(header.readUInt32BE(60)).toBe(latestSchemaVersion()); // user_version
    expect(header.readUInt32BE(68)).toBe(0x53545742); // application_id 'STWB'
    expect(header.readUInt8(18)).toBe(2); // WAL from now on
  });

  it('recovers a database that a crash left with a hot rollback journal, keeping only committed rows', () => {
    const { dir, path } = workspace();
    rollbackModeDb(path, (db) => db.exec(`CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('committed')`));
    // A writer in rollback-journal mode dies mid-transaction, after spilling pages to the file.
    const script = `
      const Database = require(${JSON.stringify(createRequire(import.meta.url).resolve('better-sqlite3'))});
      const db = new Database(${JSON.stringify(path)});
      db.pragma('cache_size = 1');
      db.exec('BEGIN');
      for (let i = 0; i < 2000; i++) db.prepare("INSERT INTO notes VALUES ('lost ' || hex(randomblob(200)))").run();
      process.kill(process.pid, 'SIGKILL');`;
    spawnSync(process.execPath, ['-e', script]);
    expect(readdirSync(dir)).toContain('safetune.db-journal');
    const { db } = openDatabase(path);
    expect(db.prepare('SELECT body FROM notes').all()).toEqual([{ body: 'committed' }]);
    db.close();
    expect(readdirSync(dir)).toEqual(['safetune.db']);
  });
});
