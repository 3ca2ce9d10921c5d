import type { Migration } from './types';

/** What the workspace may read (granted folders and files) and call (configured evaluation servers). */
export const access: Migration = {
  version: 5,
  name: 'access_grants, endpoints',
  up(db) {
    db.exec(`
      CREATE TABLE access_grants (
        id          INTEGER PRIMARY KEY,
        path        TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
        created_at  TEXT NOT NULL
      );
      CREATE TABLE endpoints (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL,
        base_url    TEXT NOT NULL UNIQUE,
        api_key     TEXT,
        created_at  TEXT NOT NULL
      );
    `);
  },
};
