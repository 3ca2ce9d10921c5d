import type { Migration } from './types';

/** Why a failed job failed (error, out_of_memory, invalid_input): the last two are not resumed. */
export const jobFailure: Migration = {
  version: 6,
  name: 'jobs.failure',
  up(db) {
    db.exec(`ALTER TABLE jobs ADD COLUMN failure TEXT CHECK (failure IN ('error','out_of_memory','invalid_input'))`);
  },
};
