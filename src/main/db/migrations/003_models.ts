import type { Migration } from './types';

/** Local models the user added (GGUF files or Hugging Face folders) with what inspection found. */
export const models: Migration = {
  version: 3,
  name: 'models',
  up(db) {
    db.exec(`
      CREATE TABLE models (
        id        INTEGER PRIMARY KEY,
        path      TEXT NOT NULL UNIQUE,
        info      TEXT NOT NULL,
        added_at  TEXT NOT NULL
      );
    `);
  },
};
