import { initial } from './001_initial';
import { curation } from './002_curation';
import type { Migration } from './types';

/** Every schema migration, in order. Later features append theirs here. */
export const migrations: readonly Migration[] = [initial, curation];

export type { Migration };
