import { initial } from './001_initial';
import { curation } from './002_curation';
import { models } from './003_models';
import { evaluations } from './004_evaluations';
import { access } from './005_access';
import { jobFailure } from './006_job_failure';
import { mergeSweeps } from './007_merge_sweeps';
import { experiments } from './008_experiments';
import { behaviourLabel } from './009_behaviour_label';
import { replications } from './010_replications';
import { judgeVerdicts } from './011_judge_verdicts';
import type { Migration } from './types';

/** Every schema migration, in order. Later features append theirs here. */
export const migrations: readonly Migration[] = [
  initial,
  curation,
  models,
  evaluations,
  access,
  jobFailure,
  mergeSweeps,
  experiments,
  behaviourLabel,
  replications,
  judgeVerdicts,
];

export type { Migration };
