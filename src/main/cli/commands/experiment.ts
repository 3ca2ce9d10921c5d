/**
 * `safetune experiment start|list|show`: experiment grids from the shell — the same job group the
 * app queues (per arm and seed: selection → training → evaluation), waited for, then the per-arm
 * table over seeds (mean [95% interval]).
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { experimentColumns, type Estimate, type Experiment, type ExperimentSummary } from '../../../shared/experiments';
import { cancelExperiment, experimentSummary, experiments, experimentView, startExperiment } from '../../app/experiments';
import type { Services } from '../../app/types';
import { parse, table, withServices, workspaceOption, type CliEnv, type Command } from '../command';

const usage =
  'safetune experiment start --file grid.json [--project ID] [--no-wait] | list --project ID | show ID [--workspace DIR] [--json]\n' +
  '    grid.json: {"name", "modelPath", "arms": [{"name", "train": {train.run parameters}, "selection": {"selectionId"} | {"method", "budget": {"count"} | {"fraction"}}}],\n' +
  '                "seeds": [1, 2], "eval": {"suites": [...], "judges", "limit", "sampling"}} (relative paths against the file\'s folder)';

/** A grid file is a few KB; anything near this is not one. */
const MAX_GRID_FILE = 1 << 20;
const STOPPED = new Set(['failed', 'cancelled', 'interrupted']);

export const experimentCommand: Command = {
  name: 'experiment',
  usage,
  summary: 'Run an experiment grid (arms × seeds: select → train → evaluate) and show its per-arm table',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      { ...workspaceOption, file: { type: 'string' }, project: { type: 'string' }, 'no-wait': { type: 'boolean', default: false } },
      usage,
      {
        file: 'the grid as JSON',
        project: "the project the grid belongs to (default: the file's projectId)",
        'no-wait': 'queue the jobs and return (the app runs them when it is open)',
      },
    );
    const [sub, ...rest] = positionals;
    switch (sub) {
      case 'start': {
        if (!values.file) throw new AppError('invalid_input', `--file is required\nusage: ${usage}`);
        const request = readGridFile(resolve(values.file));
        const wait = !values['no-wait'];
        // without waiting, no job may start here (this process would stop it at once): the app runs them
        return withServices(env, values.workspace, wait ? { runJobs: true } : { maxHeavyJobs: 0, maxLightJobs: 0 }, async (s) => {
          if (values.project) request.projectId = s.projects.get(positiveId(values.project, 'project')).id;
          const started = startExperiment(s, request, null);
          env.io.err(`[experiment ${started.id}] "${started.name}" (project ${started.projectId}): ${started.cells.length} cells`);
          if (!wait) {
            env.io.out(values.json ? JSON.stringify(started) : `queued experiment ${started.id}; its jobs run while the app (or \`safetune serve\`) is open`);
            return 0;
          }
          const grid = await waitForExperiment(s, started.id, env);
          printResults(s, grid, values.json, env);
          return grid.state === 'done' ? 0 : 1;
        });
      }
      case 'list':
        return withServices(env, values.workspace, {}, async (s) => {
          if (!values.project) throw new AppError('invalid_input', `--project is required\nusage: ${usage}`);
          const list = experiments(s, positiveId(values.project, 'project'));
          if (values.json) env.io.out(JSON.stringify(list));
          else
            env.io.out(
              list.length
                ? table(
                    list.map((g) => ({
                      id: g.id,
                      name: g.name,
                      arms: g.arms.length,
                      seeds: g.seeds.join(','),
                      state: g.state,
                      done: `${g.done}/${g.cells.length}`,
                      created: g.createdAt,
                    })),
                    ['id', 'name', 'arms', 'seeds', 'state', 'done', 'created'],
                  )
                : 'no experiments',
            );
          return 0;
        });
      case 'show':
        return withServices(env, values.workspace, {}, async (s) => {
          const grid = experimentView(s, positiveId(rest[0], 'experiment'));
          if (!values.json) env.io.out(table(grid.cells.map(cellRow), ['arm', 'seed', 'step', 'attack_success', 'over_refusal', 'task']) + '\n');
          printResults(s, grid, values.json, env);
          return 0;
        });
      default:
        throw new AppError('invalid_input', `unknown subcommand "${sub ?? ''}"\nusage: ${usage}`);
    }
  },
};

function positiveId(v: string | undefined, what: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new AppError('invalid_input', `expected ${what === 'experiment' ? 'an' : 'a'} ${what} id, got "${v ?? ''}"`);
  return n;
}

/** The grid file as JSON, its model and suite paths resolved against its folder. */
function readGridFile(path: string): Record<string, unknown> & { projectId?: number } {
  let text: string;
  try {
    if (statSync(path).size > MAX_GRID_FILE) throw new AppError('invalid_input', `${path}: a grid file is at most 1 MiB`);
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if (e instanceof AppError) throw e;
    throw new AppError('invalid_input', `${path}: cannot read it (${(e as Error).message})`);
  }
  let grid: unknown;
  try {
    grid = JSON.parse(text);
  } catch (e) {
    throw new AppError('invalid_input', `${path}: not JSON (${(e as Error).message})`);
  }
  if (typeof grid !== 'object' || grid === null || Array.isArray(grid)) throw new AppError('invalid_input', `${path}: a grid is a JSON object`);
  const g = grid as Record<string, unknown>;
  const here = (p: unknown) => (typeof p === 'string' && !isAbsolute(p) ? resolve(dirname(path), p) : p);
  g.modelPath = here(g.modelPath);
  const suites = (g.eval as { suites?: unknown } | undefined)?.suites;
  if (Array.isArray(suites)) {
    for (const suite of suites) {
      if (typeof suite !== 'object' || suite === null) continue;
      const s = suite as Record<string, unknown>;
      if ('file' in s) s.file = here(s.file);
      if ('dataDir' in s) s.dataDir = here(s.dataDir);
    }
  }
  return g;
}

/** Waits until every cell is done or stopped (a failed, cancelled or interrupted job); Ctrl-C cancels the grid's jobs. */
export async function waitForExperiment(s: Services, id: number, env: CliEnv): Promise<Experiment> {
  let last = '';
  const onSigint = () => {
    env.io.err(`[experiment ${id}] cancelling…`);
    void cancelExperiment(s, id);
  };
  process.once('SIGINT', onSigint);
  try {
    for (;;) {
      const grid = experimentView(s, id);
      const now = `[experiment ${id}] ${grid.done}/${grid.cells.length} cells done${grid.cells
        .filter((c) => c.state === 'running')
        .map((c) => ` · ${c.arm} seed ${c.seed}: ${c.stage}`)
        .join('')}`;
      if (now !== last) env.io.err(now);
      last = now;
      if (grid.cells.every((c) => c.stage === 'done' || STOPPED.has(c.state))) return grid;
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function printResults(s: Services, grid: Experiment, json: boolean, env: CliEnv): void {
  const summary = experimentSummary(s, grid.id);
  if (json) env.io.out(JSON.stringify({ experiment: grid, summary }));
  else env.io.out(summaryTable(summary));
  for (const c of grid.cells.filter((x) => STOPPED.has(x.state))) {
    const job = c.stage === 'select' ? c.selectJobId : c.stage === 'train' ? c.trainJobId : c.evalJobId;
    env.io.err(
      `[experiment ${grid.id}] ${c.arm} seed ${c.seed}: ${c.stage} ${c.state}${job ? ` (job ${job}: ${s.jobs.get(job).error ?? 'no error recorded'})` : ''}`,
    );
  }
}

const pct = (x: number | null) => (x === null ? '-' : (100 * x).toFixed(1));
const cell = (e: Estimate) => (e.mean === null ? '-' : `${pct(e.mean)} [${pct(e.low)}–${pct(e.high)}]`);

/** One row per arm: seeds and, per column, the mean in percent with its 95% interval. */
export function summaryTable(summary: ExperimentSummary): string {
  const cols = experimentColumns(summary);
  return table(
    summary.arms.map((a) => ({ arm: a.arm, seeds: a.seeds, ...Object.fromEntries(cols.map((c) => [c.title, cell(c.pick(a))])) })),
    ['arm', 'seeds', ...cols.map((c) => c.title)],
  );
}

function cellRow(c: Experiment['cells'][number]) {
  const r = (x: { rate: number | null; k: number; n: number } | undefined) => (x && x.rate !== null ? `${(100 * x.rate).toFixed(1)}% ${x.k}/${x.n}` : '-');
  return {
    arm: c.arm,
    seed: c.seed,
    step: c.stage === 'done' ? 'done' : `${c.stage} ${c.state}`,
    attack_success: r(c.summary?.attackSuccess),
    over_refusal: r(c.summary?.overRefusal),
    task: r(c.summary?.task),
  };
}
