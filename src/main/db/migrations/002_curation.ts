import type { Migration } from './types';

/** Imported data sets and their records, import rejections, the embedding cache, selections. */
export const curation: Migration = {
  version: 2,
  name: 'datasets, records, rejections, embeddings, selections',
  up(db) {
    db.exec(`
      CREATE TABLE datasets (
        id            INTEGER PRIMARY KEY,
        project_id    INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        role          TEXT NOT NULL CHECK (role IN ('task','safety_pool','harmful_eval','benign_eval')),
        name          TEXT NOT NULL,
        source_path   TEXT NOT NULL,
        file_digest   TEXT NOT NULL,
        size_bytes    INTEGER NOT NULL,
        container     TEXT,
        mapping       TEXT,
        state         TEXT NOT NULL CHECK (state IN ('importing','ready','failed')),
        accepted      INTEGER NOT NULL DEFAULT 0,
        rejected      INTEGER NOT NULL DEFAULT 0,
        embedder_id   TEXT,
        job_id        INTEGER REFERENCES jobs(id) ON DELETE SET NULL,
        created_at    TEXT NOT NULL,
        updated_at    TEXT NOT NULL,
        UNIQUE (project_id, role, file_digest)
      );
      CREATE INDEX datasets_by_project ON datasets(project_id);

      CREATE TABLE records (
        id                   INTEGER PRIMARY KEY,
        dataset_id           INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        project_id           INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        source_row           INTEGER NOT NULL,
        source_line          INTEGER,
        prompt               TEXT NOT NULL,
        response             TEXT NOT NULL,
        content_hash         TEXT NOT NULL,
        categories           TEXT NOT NULL DEFAULT '[]',
        category_scores      TEXT,
        category_source      TEXT NOT NULL DEFAULT 'none' CHECK (category_source IN ('none','label','inferred','user')),
        harmful_score        REAL,
        refusal_score        REAL,
        behaviour            TEXT CHECK (behaviour IN ('T1','T2','T3','T4')),
        behaviour_confidence REAL,
        behaviour_source     TEXT NOT NULL DEFAULT 'none' CHECK (behaviour_source IN ('none','detector','user')),
        labels               TEXT NOT NULL DEFAULT '{}',
        duplicate_of         INTEGER,
        near_duplicate_of    INTEGER,
        UNIQUE (dataset_id, source_row)
      );
      CREATE INDEX records_by_project ON records(project_id, dataset_id, id);
      CREATE INDEX records_by_hash ON records(project_id, content_hash);
      CREATE INDEX records_by_behaviour ON records(project_id, behaviour);

      CREATE TABLE import_rejections (
        id          INTEGER PRIMARY KEY,
        dataset_id  INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
        source_row  INTEGER NOT NULL,
        source_line INTEGER,
        message     TEXT NOT NULL,
        UNIQUE (dataset_id, source_row)
      );

      CREATE TABLE embeddings (
        model_id   TEXT NOT NULL,
        text_hash  TEXT NOT NULL,
        dim        INTEGER NOT NULL,
        vector     BLOB NOT NULL,
        PRIMARY KEY (model_id, text_hash)
      ) WITHOUT ROWID;

      CREATE TABLE selections (
        id          INTEGER PRIMARY KEY,
        project_id  INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        method      TEXT NOT NULL,
        params      TEXT NOT NULL,
        summary     TEXT NOT NULL,
        saved       INTEGER NOT NULL DEFAULT 0,
        created_at  TEXT NOT NULL
      );
      CREATE UNIQUE INDEX selections_saved_name ON selections(project_id, name) WHERE saved = 1;
      CREATE TABLE selection_items (
        selection_id INTEGER NOT NULL REFERENCES selections(id) ON DELETE CASCADE,
        rank         INTEGER NOT NULL,
        record_id    INTEGER NOT NULL REFERENCES records(id) ON DELETE CASCADE,
        category     TEXT,
        score        REAL,
        PRIMARY KEY (selection_id, rank)
      );
    `);
  },
};
