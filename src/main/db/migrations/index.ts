import { initial } from './001_initial';
import type { Migration } from './types';

/** Every schema migration, in order. Later features append theirs here. */
export const migrations: readonly Migration[] = [initial];

export type { Migration };
