import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { latestSchemaVersion, openDatabase } from '../../../src/main/db/database';
import { migrations } from '../../../src/main/db/migrations';
import type { Migration } from '../../../src/main/db/migrations/types';
import { AppError } from '../../../src/shared/errors';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));
function dbPath(): string {
  const t = tempDir();
  cleanups.push(t.cleanup);
  return join(t.dir, 'safetune.db');
}
const fileHash = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

const v1: Migration = { version: 1, name: 'notes', up: (db) => db.exec('CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL)') };
const v2: Migration = { version: 2, name: 'notes.tag', up: (db) => db.exec(`ALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT 'none'`) };
const broken: Migration = {
  version: 2,
  name: 'half-done',
  up(db) {
    db.exec('CREATE TABLE half (x INTEGER)');
    throw new Error('boom');
  },
};

describe('database and migrations', () => {
  it('creates a fresh database at the latest schema with WAL and foreign keys', () => {
    const path = dbPath();
    const { db, migration } = openDatabase(path);
    expect(migration.from).toBe(0);
    expect(migration.to).toBe(latestSchemaVersion());
    expect(migration.applied).toHaveLength(migrations.length);
    const tables = (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['schema_version', 'projects', 'jobs', 'job_events']));
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    db.close();
    // Opening again applies nothing.
    const again = openDatabase(path);
    expect(again.migration.applied).toEqual([]);
    again.db.close();
  });

  it('upgrades an older database in place, keeping its data', () => {
    const path = dbPath();
    const first = openDatabase(path, { migrations: [v1] });
    first.db.prepare('INSERT INTO notes (body) VALUES (?)').run('keep me');
    first.db.close();
    const { db, migration } = openDatabase(path, { migrations: [v1, v2] });
    expect(migration).toEqual({ from: 1, to: 2, applied: ['2 notes.tag'] });
    expect(db.prepare('SELECT body, tag FROM notes').all()).toEqual([{ body: 'keep me', tag: 'none' }]);
    expect((db.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version)).toEqual([1, 2]);
    db.close();
  });

  it('rolls a failed upgrade back completely', () => {
    const path = dbPath();
    openDatabase(path, { migrations: [v1] }).db.close();
    expect(() => openDatabase(path, { migrations: [v1, broken] })).toThrowError(/boom/);
    const raw = new Database(path);
    expect(raw.prepare(`SELECT name FROM sqlite_master WHERE name = 'half'`).get()).toBeUndefined();
    expect(raw.prepare('SELECT MAX(version) AS v FROM schema_version').get()).toEqual({ v: 1 });
    raw.close();
  });

  it('refuses a database from a newer version without touching it', () => {
    const path = dbPath();
    const { db } = openDatabase(path);
    db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (99, ?, ?)').run('future', new Date().toISOString());
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const before = fileHash(path);
    let err: unknown;
    try {
      openDatabase(path);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AppError);
    expect((err as AppError).code).toBe('database');
    expect((err as AppError).message).toMatch(/newer SafeTune Workbench \(schema 99; this version knows up to \d+\)/);
    expect(fileHash(path)).toBe(before);
  });

  it('refuses a file that is not SQLite without touching it', () => {
    const path = dbPath();
    writeFileSync(path, 'id,prompt\n1,hello\n'.repeat(20));
    const before = fileHash(path);
    expect(() => openDatabase(path)).toThrowError(/is not a SafeTune database \(not an SQLite file\)/);
    expect(fileHash(path)).toBe(before);
  });

  it("rebuilds records for the behaviour source 'label' keeping every record, id and selection item", () => {
    const path = dbPath();
    const old = openDatabase(path, { migrations: migrations.filter((m) => m.version < 9) }).db;
    old.exec(`
      INSERT INTO projects (id, name, created_at, updated_at) VALUES (1, 'p', 'now', 'now');
      INSERT INTO datasets (id, project_id, role, name, source_path, file_digest, size_bytes, state, created_at, updated_at)
        VALUES (1, 1, 'safety_pool', 'pool', '/p.jsonl', 'd', 1, 'ready', 'now', 'now');
      INSERT INTO records (id, dataset_id, project_id, source_row, prompt, response, content_hash, behaviour, behaviour_source, labels)
        VALUES (7, 1, 1, 0, 'a', 'b', 'h1', 'T1', 'user', '{"behaviour":"T1"}'), (9, 1, 1, 1, 'c', 'd', 'h2', NULL, 'none', '{}');
      INSERT INTO selections (id, project_id, name, method, params, summary, saved, created_at) VALUES (1, 1, 's', 'random', '{}', '{}', 1, 'now');
      INSERT INTO selection_items (selection_id, rank, record_id) VALUES (1, 0, 9), (1, 1, 7);
    `);
    expect(() => old.prepare(`UPDATE records SET behaviour_source = 'label' WHERE id = 7`).run()).toThrow(/CHECK/);
    old.close();
    const { db } = openDatabase(path);
    expect(db.prepare('SELECT id, prompt, behaviour, behaviour_source, labels FROM records ORDER BY id').all()).toEqual([
      { id: 7, prompt: 'a', behaviour: 'T1', behaviour_source: 'user', labels: '{"behaviour":"T1"}' },
      { id: 9, prompt: 'c', behaviour: null, behaviour_source: 'none', labels: '{}' },
    ]);
    expect(db.prepare('SELECT rank, record_id FROM selection_items ORDER BY rank').all()).toEqual([
      { rank: 0, record_id: 9 },
      { rank: 1, record_id: 7 },
    ]);
    db.prepare(`UPDATE records SET behaviour_source = 'label' WHERE id = 7`).run();
    expect(() => db.prepare(`UPDATE records SET behaviour_source = 'guess' WHERE id = 7`).run()).toThrow(/CHECK/);
    // the foreign keys still hold: deleting the data set takes its records and their selection items
    expect(db.pragma('foreign_key_check')).toEqual([]);
    db.prepare('DELETE FROM datasets WHERE id = 1').run();
    expect(db.prepare('SELECT COUNT(*) AS n FROM selection_items').get()).toEqual({ n: 0 });
    expect(
      (
        db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND name LIKE 'records_by_%' ORDER BY name`).all() as {
          name: string;
        }[]
      ).map((r) => r.name),
    ).toEqual(['records_by_behaviour', 'records_by_hash', 'records_by_project']);
    db.close();
  });

  it('keeps migration versions contiguous', () => {
    migrations.forEach((m, i) => expect(m.version).toBe(i + 1));
  });
});
