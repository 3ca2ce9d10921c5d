/**
 * The miniature replication (issue 15) as the app offers it: its presets (what each runs and about
 * how long it takes, from bench/RESULTS.md) and the `replicate.start` request and reply. The
 * recipe itself (arms, fine-tuning settings, each preset's seeds) is src/main/replicate/recipe.ts.
 */
import { z } from 'zod';
import { JobState } from './domain';
import { Experiment } from './experiments';

/** The presets the Projects page and `safetune replicate --preset` offer, one row each. */
export const REPLICATION_PRESETS = {
  quick: {
    label: 'Quick (6 arms, 1 seed)',
    description:
      'The shipped aligned model fine-tuned on 1000 SST-2 examples per arm (plain, Random and SSS-B at 1% and 5%, DER), each evaluated on AdvBench, XSTest’s safe prompts and SST-2. Bench (bench/RESULTS.md): 4 of these arms trained and evaluated in 26 minutes on a busy 2-core machine (about 2 CPU-minutes of training per arm), so roughly 25–45 minutes for all 6.',
  },
  smoke: {
    label: 'Smoke test (2 arms, 2 steps)',
    description: 'Plain and SSS-B 1% for 2 steps each, 8 prompts per suite: checks the pipeline in about a minute; the numbers mean nothing.',
  },
  full: {
    label: 'Full (6 arms, 5 seeds)',
    description:
      'The quick preset over 5 seeds, with 95% intervals over seeds as the papers report them, on the shipped aligned model (npm run bench:replicate rebuilds it first): five times the quick preset, 2–4 hours on 2 cores.',
  },
} as const satisfies Record<string, { label: string; description: string }>;

export const ReplicationPreset = z.enum(Object.keys(REPLICATION_PRESETS) as [keyof typeof REPLICATION_PRESETS, ...(keyof typeof REPLICATION_PRESETS)[]]);
export type ReplicationPreset = z.infer<typeof ReplicationPreset>;

export const ReplicationRequest = z
  .object({
    preset: ReplicationPreset,
    /** the first seed (the preset's seeds start there) */
    seed: z.number().int().min(0).optional(),
    /** optimiser steps per arm instead of the recipe's epochs */
    steps: z.number().int().min(1).max(100_000).optional(),
    /** prompts per evaluation suite (a seeded subset) */
    limit: z.number().int().min(1).optional(),
  })
  .strict();
export type ReplicationRequest = z.infer<typeof ReplicationRequest>;

/** A set-up step of a start: the task data, the safety pool (each imported once) and the model (added to the Models list once). */
export const ReplicationStep = z.object({
  step: z.enum(['task', 'pool', 'model']),
  label: z.string(),
  /** its job; null when what it makes was already there */
  jobId: z.number().int().positive().nullable(),
  /** 'done' when already there; else its job's state */
  state: z.union([z.literal('done'), JobState]),
  error: z.string().nullable(),
});
export type ReplicationStep = z.infer<typeof ReplicationStep>;

/**
 * A start of the miniature replication. `replicate.start` returns at once: the set-up steps run as
 * jobs (setting-up), then the grid and the aligned model's evaluation are queued (started); a step
 * that failed or was cancelled stops the start until its job is resumed (stopped).
 */
export const ReplicationStarted = z.object({
  id: z.number().int().positive(),
  projectId: z.number().int().positive(),
  state: z.enum(['setting-up', 'started', 'stopped']),
  steps: z.array(ReplicationStep),
  /** the preset's grid, once the set-up has succeeded */
  experiment: Experiment.nullable(),
  /** the aligned model's own evaluation (the reference row), queued beside the grid */
  alignedEvalJobId: z.number().int().positive().nullable(),
});
export type ReplicationStarted = z.infer<typeof ReplicationStarted>;
