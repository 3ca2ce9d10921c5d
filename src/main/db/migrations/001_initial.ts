import type { Migration } from './types';

/** Projects, background jobs and their event log. */
export const initial: Migration = {
  version: 1,
  name: 'projects, jobs, job_events',
  up(db) {
    db.exec(`
      CREATE TABLE projects (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        created_at  TEXT NOT NULL,
        updated_at  TEXT NOT NULL
      );

      CREATE TABLE jobs (
        id                INTEGER PRIMARY KEY,
        project_id        INTEGER REFERENCES projects(id) ON DELETE CASCADE,
        type              TEXT NOT NULL,
        title             TEXT NOT NULL,
        state             TEXT NOT NULL CHECK (state IN ('queued','running','succeeded','failed','cancelled','interrupted')),
        params            TEXT NOT NULL,
        progress_fraction REAL,
        progress_message  TEXT NOT NULL DEFAULT '',
        result            TEXT,
        error             TEXT,
        checkpoint        TEXT,
        attempts          INTEGER NOT NULL DEFAULT 0,
        elapsed_ms        INTEGER NOT NULL DEFAULT 0,
        created_at        TEXT NOT NULL,
        started_at        TEXT,
        run_started_at    TEXT,
        finished_at       TEXT,
        updated_at        TEXT NOT NULL
      );
      CREATE INDEX jobs_by_state ON jobs(state);
      CREATE INDEX jobs_by_project ON jobs(project_id, id);

      CREATE TABLE job_events (
        id       INTEGER PRIMARY KEY,
        job_id   INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
        at       TEXT NOT NULL,
        kind     TEXT NOT NULL,
        message  TEXT NOT NULL
      );
      CREATE INDEX job_events_by_job ON job_events(job_id, id);
    `);
  },
};
