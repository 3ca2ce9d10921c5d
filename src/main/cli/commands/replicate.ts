/**
 * `safetune replicate --preset quick|smoke|full [--seed S]`: the miniature replication as product
 * jobs — the project "Miniature replication" with the shipped data and aligned model (made once),
 * then the preset's experiment grid (the recipe's arms × seeds: select → train → evaluate),
 * waited for and printed as the per-arm table (mean [95% interval]) or, with --json, one object
 * per arm: {"arm", "refusal", "overRefusal", "task"} (rates in 0–1).
 */
import { AppError } from '../../../shared/errors';
import type { ExperimentSummary } from '../../../shared/experiments';
import { ReplicationPreset } from '../../../shared/replication';
import { experimentSummary } from '../../app/experiments';
import { startReplication } from '../../app/replication';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { summaryTable, waitForExperiment } from './experiment';

const PRESET_IDS = ReplicationPreset.options;
const usage = 'safetune replicate --preset quick|smoke|full [--seed S] [--steps N] [--no-wait] [--workspace DIR] [--json]';

export const replicateCommand: Command = {
  name: 'replicate',
  usage,
  summary: 'Run the miniature replication (forgetting under fine-tuning and its cure) as an experiment grid',
  async run(argv, env) {
    const { values } = parse(
      argv,
      { ...workspaceOption, preset: { type: 'string', default: 'quick' }, seed: { type: 'string' }, steps: { type: 'string' }, 'no-wait': { type: 'boolean', default: false } },
      usage,
      {
        preset: 'quick: the shipped aligned model, every arm, one seed; smoke: 2 arms, 2 steps, 8 prompts per suite; full: five seeds',
        seed: 'the first seed (the preset’s seeds start there)',
        steps: 'optimiser steps per arm instead of the recipe’s epochs',
        'no-wait': 'queue the jobs and return (the app runs them when it is open)',
      },
    );
    const preset = PRESET_IDS.find((p) => p === values.preset);
    if (!preset) throw new AppError('invalid_input', `--preset must be one of ${PRESET_IDS.join(', ')}, got "${values.preset}"`);
    const seed = values.seed === undefined ? undefined : count(values.seed, 'seed', 0);
    const steps = values.steps === undefined ? undefined : count(values.steps, 'steps', 1);
    const wait = !values['no-wait'];
    return withServices(env, values.workspace, wait ? { runJobs: true } : { maxHeavyJobs: 0, maxLightJobs: 0 }, async (s) => {
      const { setup, experiment } = await startReplication(s, { preset, ...(seed !== undefined ? { seed } : {}), ...(steps !== undefined ? { steps } : {}) });
      env.io.err(`[replicate] project ${setup.projectId} "Miniature replication": experiment ${experiment.id}, ${experiment.arms.length} arms × ${experiment.seeds.length} seeds`);
      if (!wait) {
        env.io.out(values.json ? JSON.stringify({ projectId: setup.projectId, experiment }) : `queued experiment ${experiment.id}; its jobs run while the app (or \`safetune serve\`) is open`);
        return 0;
      }
      const grid = await waitForExperiment(s, experiment.id, env);
      const summary = experimentSummary(s, grid.id);
      env.io.out(values.json ? JSON.stringify(armRates(summary)) : summaryTable(summary));
      return grid.state === 'done' ? 0 : 1;
    });
  },
};

function count(v: string, what: string, min: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new AppError('invalid_input', `--${what} must be an integer ≥ ${min}, got "${v}"`);
  return n;
}

/** One object per arm as issue 15 asks: refusal on AdvBench, over-refusal on XSTest's safe prompts, the task score (means over seeds, 0–1). */
export function armRates(summary: ExperimentSummary): { arm: string; refusal: number | null; overRefusal: number | null; task: number | null }[] {
  return summary.arms.map((a) => ({ arm: a.arm, refusal: a.refusal.mean, overRefusal: a.overRefusal.mean, task: a.task.mean }));
}
