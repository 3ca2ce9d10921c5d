import type { Migration } from './types';

/**
 * A record's behaviour type may come from the imported file (`behaviour_source = 'label'`: a T1–T4
 * column the import was told to take, kept by Analyse like a person's correction). SQLite cannot
 * change a CHECK constraint in place, so `records` is rebuilt with the same columns, ids and
 * indexes; dropping the old table cascades to `selection_items`, which is kept aside and put back.
 */
export const behaviourLabel: Migration = {
  version: 9,
  name: "records.behaviour_source 'label'",
  up(db) {
    db.exec(`
      CREATE TABLE selection_items_kept AS SELECT * FROM selection_items;
      CREATE TABLE records_rebuilt (
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
        behaviour_source     TEXT NOT NULL DEFAULT 'none' CHECK (behaviour_source IN ('none','detector','label','user')),
        labels               TEXT NOT NULL DEFAULT '{}',
        duplicate_of         INTEGER,
        near_duplicate_of    INTEGER,
        UNIQUE (dataset_id, source_row)
      );
      INSERT INTO records_rebuilt SELECT * FROM records;
      DROP TABLE records;
      ALTER TABLE records_rebuilt RENAME TO records;
      CREATE INDEX records_by_project ON records(project_id, dataset_id, id);
      CREATE INDEX records_by_hash ON records(project_id, content_hash);
      CREATE INDEX records_by_behaviour ON records(project_id, behaviour);
      INSERT INTO selection_items SELECT * FROM selection_items_kept;
      DROP TABLE selection_items_kept;
    `);
  },
};
