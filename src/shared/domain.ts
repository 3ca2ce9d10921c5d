import { z } from 'zod';

/** ISO-8601 timestamps everywhere on the wire. */
export const Timestamp = z.string();

export const ProjectName = z.string().trim().min(1, 'Project name must not be empty').max(120, 'Project name must be at most 120 characters');

export const Project = z.object({
  id: z.number().int().positive(),
  name: z.string(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
export type Project = z.infer<typeof Project>;

export const JobState = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted']);
export type JobState = z.infer<typeof JobState>;

/** States a job never leaves on its own. */
export const FINISHED_JOB_STATES: readonly JobState[] = ['succeeded', 'failed', 'cancelled'];

export const JobProgress = z.object({
  /** 0..1, or null while the amount of work is unknown. */
  fraction: z.number().min(0).max(1).nullable(),
  message: z.string(),
});
export type JobProgress = z.infer<typeof JobProgress>;

/**
 * Why a failed job failed: `error` may go away on a retry (resume is offered); `out_of_memory` (its
 * worker hit its memory limit) and `invalid_input` (a missing, unreadable or invalid input file or
 * parameter) would fail the same way again, so resume is refused.
 */
export const JobFailure = z.enum(['error', 'out_of_memory', 'invalid_input']);
export type JobFailure = z.infer<typeof JobFailure>;

export const Job = z.object({
  id: z.number().int().positive(),
  projectId: z.number().int().positive().nullable(),
  type: z.string(),
  title: z.string(),
  state: JobState,
  params: z.unknown(),
  progress: JobProgress,
  result: z.unknown().nullable(),
  error: z.string().nullable(),
  /** Set when the job failed: what kind of failure (null otherwise). */
  failure: JobFailure.nullable(),
  /** Whether `jobs.resume` accepts this job now (interrupted, cancelled, or failed in a way a retry may fix). */
  resumable: z.boolean(),
  createdAt: Timestamp,
  startedAt: Timestamp.nullable(),
  finishedAt: Timestamp.nullable(),
  updatedAt: Timestamp,
  /** Seconds spent running, summed over every attempt (resumes included). */
  elapsedSeconds: z.number().nonnegative(),
  /** Estimated seconds left, from the progress rate of the current attempt; null when unknown. */
  etaSeconds: z.number().nonnegative().nullable(),
  attempts: z.number().int().nonnegative(),
});
export type Job = z.infer<typeof Job>;

export const JobEvent = z.object({
  id: z.number().int().positive(),
  jobId: z.number().int().positive(),
  at: Timestamp,
  kind: z.string(),
  message: z.string(),
});
export type JobEvent = z.infer<typeof JobEvent>;

export const AppInfo = z.object({
  version: z.string(),
  mode: z.enum(['electron', 'browser', 'cli']),
  workspace: z.string(),
  databasePath: z.string(),
  schemaVersion: z.number().int(),
  jobTypes: z.array(z.object({ type: z.string(), title: z.string(), heavy: z.boolean() })),
  /** The desktop app can show the OS file dialog; browser mode cannot (paths are typed). */
  canPickPaths: z.boolean(),
});
export type AppInfo = z.infer<typeof AppInfo>;
