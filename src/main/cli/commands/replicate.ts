/**
 * `safetune replicate --preset quick|smoke|full [--seed S]`: the miniature replication as product
 * jobs — the project "Miniature replication" with the shipped data and aligned model (set up once,
 * by import and model jobs), then the preset's experiment grid (the recipe's arms × seeds: select → train → evaluate),
 * and the aligned model's own evaluation (the reference row, `aligned`), waited for and printed as the per-arm table (mean [95% interval]) or, with --json, one object
 * per arm: {"arm", "refusal", "overRefusal", "task"} (rates in 0–1).
 */
import { AppError } from '../../../shared/errors';
import type { ExperimentSummary } from '../../../shared/experiments';
import { ReplicationPreset } from '../../../shared/replication';
import { armSummary, experimentSummary } from '../../app/experiments';
import { advanceReplication, replicationView, startReplication } from '../../app/replication';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { summaryTable, waitForExperiment } from './experiment';

const PRESET_IDS = ReplicationPreset.options;
const usage = 'safetune replicate --preset quick|smoke|full [--seed S] [--steps N] [--limit N] [--no-wait] [--workspace DIR] [--json]';

export const replicateCommand: Command = {
  name: 'replicate',
  usage,
  summary: 'Run the miniature replication (forgetting under fine-tuning and its cure) as an experiment grid',
  async run(argv, env) {
    const { values } = parse(
      argv,
      {
        ...workspaceOption,
        preset: { type: 'string', default: 'quick' },
        seed: { type: 'string' },
        steps: { type: 'string' },
        limit: { type: 'string' },
        'no-wait': { type: 'boolean', default: false },
      },
      usage,
      {
        preset: 'quick: the shipped aligned model, every arm, one seed; smoke: 2 arms, 2 steps, 8 prompts per suite; full: five seeds',
        seed: 'the first seed (the preset’s seeds start there)',
        steps: 'optimiser steps per arm instead of the recipe’s epochs',
        limit: 'prompts per evaluation suite (a seeded subset; default all, smoke 8)',
        'no-wait': 'queue the jobs and return (the app runs them when it is open)',
      },
    );
    const preset = PRESET_IDS.find((p) => p === values.preset);
    if (!preset) throw new AppError('invalid_input', `--preset must be one of ${PRESET_IDS.join(', ')}, got "${values.preset}"`);
    const seed = values.seed === undefined ? undefined : count(values.seed, 'seed', 0);
    const steps = values.steps === undefined ? undefined : count(values.steps, 'steps', 1);
    const limit = values.limit === undefined ? undefined : count(values.limit, 'limit', 1);
    const wait = !values['no-wait'];
    return withServices(env, values.workspace, wait ? { runJobs: true } : { maxHeavyJobs: 0, maxLightJobs: 0 }, async (s) => {
      const started = await startReplication(s, {
        preset,
        ...(seed !== undefined ? { seed } : {}),
        ...(steps !== undefined ? { steps } : {}),
        ...(limit !== undefined ? { limit } : {}),
      });
      const setupJobs = started.steps.filter((x) => x.jobId !== null);
      if (setupJobs.length)
        env.io.err(
          `[replicate] project ${started.projectId} "Miniature replication": setting up (${setupJobs.map((x) => `job ${x.jobId}: ${x.label}`).join('; ')}); the grid starts when they succeed`,
        );
      if (!wait) {
        if (started.experiment) env.io.err(startedLine(started.projectId, started.experiment, started.alignedEvalJobId!));
        env.io.out(
          values.json
            ? JSON.stringify({ projectId: started.projectId, experiment: started.experiment, alignedEvalJobId: started.alignedEvalJobId })
            : started.experiment
              ? `queued experiment ${started.experiment.id}; its jobs run while the app (or \`safetune serve\`) is open`
              : 'queued the set-up; it and the grid run while the app (or `safetune serve`) is open',
        );
        return 0;
      }
      for (const step of setupJobs) {
        const job = await s.jobs.waitFor(step.jobId!, 24 * 3600 * 1000);
        if (job.state !== 'succeeded') {
          env.io.err(`[replicate] ${step.label} (job ${job.id}) ${job.state}${job.error ? `: ${job.error}` : ''}`);
          return 1;
        }
      }
      advanceReplication(s, started.id); // as the follower does when the last set-up job ends: queued once
      const { experiment, alignedEvalJobId } = replicationView(s, started.id);
      if (!experiment || alignedEvalJobId === null) throw new Error(`replication ${started.id}: its set-up succeeded but its grid did not start`);
      env.io.err(startedLine(started.projectId, experiment, alignedEvalJobId));
      // Ctrl-C: the grid's jobs are cancelled by waitForExperiment, the aligned model's evaluation here
      const onSigint = () => void s.jobs.cancel(alignedEvalJobId);
      process.once('SIGINT', onSigint);
      let grid: Awaited<ReturnType<typeof waitForExperiment>>;
      let alignedJob: Awaited<ReturnType<typeof s.jobs.waitFor>>;
      try {
        grid = await waitForExperiment(s, experiment.id, env);
        alignedJob = await s.jobs.waitFor(alignedEvalJobId, 7 * 24 * 3600 * 1000);
      } finally {
        process.off('SIGINT', onSigint);
      }
      if (alignedJob.state !== 'succeeded')
        env.io.err(
          `[replicate] the aligned model's evaluation (job ${alignedEvalJobId}) ${alignedJob.state}${alignedJob.error ? `: ${alignedJob.error}` : ''}`,
        );
      const alignedRun = s.experiments.evalRunOfJob(alignedEvalJobId);
      const summary = experimentSummary(s, grid.id);
      const withAligned = {
        ...summary,
        arms: [...(alignedRun !== null && alignedJob.state === 'succeeded' ? [armSummary(s, 'aligned', [alignedRun])] : []), ...summary.arms],
      };
      env.io.out(values.json ? JSON.stringify(armRates(withAligned)) : summaryTable(withAligned));
      return grid.state === 'done' && alignedJob.state === 'succeeded' ? 0 : 1;
    });
  },
};

function startedLine(projectId: number, experiment: { id: number; arms: unknown[]; seeds: unknown[] }, alignedEvalJobId: number): string {
  return `[replicate] project ${projectId} "Miniature replication": experiment ${experiment.id}, ${experiment.arms.length} arms × ${experiment.seeds.length} seeds; the aligned model's evaluation: job ${alignedEvalJobId}`;
}

function count(v: string, what: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new AppError('invalid_input', `--${what} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** One object per arm as issue 15 asks: refusal on AdvBench, over-refusal on XSTest's safe prompts, the task score (means over seeds, 0–1). */
export function armRates(summary: ExperimentSummary): { arm: string; refusal: number | null; overRefusal: number | null; task: number | null }[] {
  return summary.arms.map((a) => ({ arm: a.arm, refusal: a.refusal.mean, overRefusal: a.overRefusal.mean, task: a.task.mean }));
}
