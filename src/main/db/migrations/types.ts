import type BetterSqlite3 from 'better-sqlite3';

export interface Migration {
  /** Strictly increasing, starting at 1. */
  version: number;
  name: string;
  /** Runs inside the start-up transaction; throw to abort the whole upgrade. */
  up(db: BetterSqlite3.Database): void;
}
