import type { Migration } from './types';

/**
 * A start of the miniature replication that cannot go on (a data set or the model it waits on was
 * deleted before its grid started) records why: `error` set, it is no longer followed and its card
 * says so; a new start sets up what is missing again.
 */
export const replicationError: Migration = {
  version: 12,
  name: 'replications.error',
  up(db) {
    db.exec('ALTER TABLE replications ADD COLUMN error TEXT');
  },
};
