/** What the Jobs panel shows of a job, as pure functions: why it cannot be resumed, the filters; which updates change a job's state. */
import { FINISHED_JOB_STATES, type Job, type JobState } from '../../../shared/domain';

/**
 * Why a failed job offers no Resume, in words for the user; null when it may be resumed or did not
 * fail. The main process decides (`resumable`); this only words the reason for its failure kind.
 */
export function noResumeReason(job: Pick<Job, 'state' | 'failure' | 'resumable'>): string | null {
  if (job.state !== 'failed' || job.resumable) return null;
  if (job.failure === 'out_of_memory')
    return 'Not resumable: it ran out of memory and would again. Start a new job on smaller input (or with a higher SAFETUNE_JOB_HEAP_MB).';
  return 'Not resumable: an input is missing, at a bad path or cannot be used, and would fail the same way. Fix it and start a new job.';
}

/** The state filter's choices: groups of states. */
export const STATE_FILTERS = {
  all: { label: 'All states', states: null },
  active: { label: 'Active (queued, running)', states: ['queued', 'running'] },
  interrupted: { label: 'Interrupted', states: ['interrupted'] },
  failed: { label: 'Failed', states: ['failed'] },
  finished: { label: 'Finished', states: FINISHED_JOB_STATES },
} as const satisfies Record<string, { label: string; states: readonly JobState[] | null }>;
export type StateFilter = keyof typeof STATE_FILTERS;

export interface JobFilter {
  state: StateFilter;
  /** A job type ("data.analyse"), or "all". */
  type: string;
}

export const ALL_JOBS: JobFilter = { state: 'all', type: 'all' };

export function filterJobs<J extends Pick<Job, 'state' | 'type'>>(jobs: readonly J[], f: JobFilter): J[] {
  const states: readonly JobState[] | null = STATE_FILTERS[f.state].states;
  return jobs.filter((j) => (states === null || states.includes(j.state)) && (f.type === 'all' || j.type === f.type));
}

/** The job types present, sorted, for the type filter. */
export function jobTypes(jobs: readonly Pick<Job, 'type'>[]): string[] {
  return [...new Set(jobs.map((j) => j.type))].sort();
}

export function isFinished(job: Pick<Job, 'state'>): boolean {
  return FINISHED_JOB_STATES.includes(job.state);
}

/**
 * Whether a job update moves a job to a state other than the one `seen` last recorded for it (the
 * first update of a job counts); records the new state. Progress updates of a running job are not
 * changes.
 */
export function jobStateChanged(seen: Map<number, Job['state']>, job: Pick<Job, 'id' | 'state'>): boolean {
  if (seen.get(job.id) === job.state) return false;
  seen.set(job.id, job.state);
  return true;
}
