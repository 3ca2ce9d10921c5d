/**
 * The miniature replication (issue 15) as product jobs: a project "Miniature replication" with the
 * shipped data imported (the SST-2 task as prompt/response pairs, the safety pool with its recorded
 * behaviour types and categories), the shipped aligned model in the Models list, and an experiment
 * grid whose arms are the recipe's (src/main/replicate/recipe.ts) mapped onto train.run parameters,
 * evaluated on the built-in AdvBench, XSTest and SST-2 suites read from the shipped data folder.
 * The aligned model itself is evaluated beside the grid with the same settings (the reference row).
 *
 * A start returns at once: the set-up runs as ordinary jobs (a `data.import` per data set, the pool's
 * with its recorded behaviour column; a `model.inspect` for the model), each only when what it makes
 * is not there yet, and `followReplications` queues the grid and the aligned evaluation when they
 * have all succeeded (at start-up too, for a set-up a closed app left). A later start reuses the
 * project, its data sets, the model and any set-up job still under way.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DataImportParams, Dataset, DatasetRole } from '../../shared/data';
import type { Job } from '../../shared/domain';
import type { ExperimentArmInput, ExperimentRequestInput } from '../../shared/experiments';
import type { ReplicationPreset, ReplicationRequest, ReplicationStarted, ReplicationStep } from '../../shared/replication';
import { EvalRunParams } from '../../shared/eval';
import type { ReplicationRow } from '../db/replications';
import { DATA_FILES, loadTaskPairs } from '../replicate/data';
import { EVAL_GENERATION, FINETUNE, PRESETS, type ArmSpec, type FinetuneConfig, type Preset } from '../replicate/recipe';
import { experimentView, startExperiment } from './experiments';
import { followJobGroups } from './jobGroups';
import type { Services } from './types';

export const REPLICATION_PROJECT = 'Miniature replication';
const TASK_FILE = 'sst2_task_pairs.jsonl';
const TASK_NAME = 'SST-2 task (miniature replication)';
const POOL_NAME = 'Safety pool (miniature replication)';

/** Where the shipped replication lives: resources/replication in the first folder above this module that has it. */
export function replicationDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'resources', 'replication');
    if (existsSync(join(candidate, 'data', 'manifest.json'))) return candidate;
    if (dirname(dir) === dir)
      throw new Error(`resources/replication was not found above ${from}: the miniature replication's data and model are missing from this install`);
  }
}

export interface ReplicationGridOptions {
  preset: ReplicationPreset;
  /** the first seed (default the preset's); the preset's seeds are shifted to start there */
  seed?: number;
  /** optimiser steps per arm instead of the recipe's epochs (smoke runs, tests) */
  steps?: number;
  /** items per evaluation suite (default all; smoke: 8) */
  limit?: number;
}

/** An arm of the recipe as an experiment arm: train.run parameters as FINETUNE says, and its selection. */
export function replicationArm(arm: ArmSpec, c: FinetuneConfig, steps: number | undefined, taskDatasetId?: number): ExperimentArmInput {
  const length =
    steps === undefined ? { epochs: c.epochs, warmupSteps: c.warmupSteps } : { maxSteps: steps, warmupSteps: Math.max(0, Math.min(c.warmupSteps, steps - 1)) };
  const train: Record<string, unknown> = {
    mode: 'full',
    template: 'chat',
    schedule: 'cosine',
    minLrRatio: 0.1,
    lr: c.lr,
    weightDecay: c.weightDecay,
    batchSize: c.batchSize,
    maxLength: c.maxLength,
    ...length,
    ...(taskDatasetId !== undefined ? { taskDatasetIds: [taskDatasetId] } : {}),
  };
  if (arm.kind === 'plain') return { name: arm.id, train: { ...train, method: 'plain' } };
  const selection = { method: arm.method, budget: { fraction: arm.budget } };
  if (arm.kind === 'mix') return { name: arm.id, train: { ...train, method: 'replay', methodParams: { shuffleMix: true } }, selection };
  return { name: arm.id, train: { ...train, method: 'der', methodParams: { alpha: arm.alpha, topK: arm.k, bufferBatch: arm.bufferBatch } }, selection };
}

/** The preset as an experiment grid on the aligned model: the recipe's arms, the preset's seeds, the three suites. */
export function replicationGrid(
  o: ReplicationGridOptions & { projectId: number; modelPath: string; dataDir: string; taskDatasetId?: number },
): ExperimentRequestInput {
  const preset = (PRESETS satisfies Record<ReplicationPreset, Preset>)[o.preset]; // the contract's presets are the recipe's
  const first = preset.seeds[0]!;
  const seeds = preset.seeds.map((x) => x - first + (o.seed ?? first));
  const steps = o.steps ?? (o.preset === 'smoke' ? 2 : undefined);
  const limit = o.limit ?? (o.preset === 'smoke' ? 8 : undefined);
  return {
    projectId: o.projectId,
    name: `Miniature replication · ${preset.id} · seed${seeds.length > 1 ? 's' : ''} ${seeds.join(', ')}`,
    modelPath: o.modelPath,
    arms: preset.arms.map((a) => replicationArm(a, FINETUNE, steps, o.taskDatasetId)),
    seeds,
    eval: {
      suites: ['advbench', 'xstest', 'sst2'].map((builtin) => ({ builtin, dataDir: o.dataDir })),
      sampling: { ...EVAL_GENERATION },
      promptFormat: 'chat',
      ...(limit !== undefined ? { limit } : {}),
    },
  };
}

/** The column of the shipped pool that records each record's behaviour type (T1–T4). */
const POOL_BEHAVIOUR_FIELD = 'behaviour';
const STEP_LABELS: Record<ReplicationStep['step'], string> = {
  task: 'Import the SST-2 task data',
  pool: 'Import the safety pool with its recorded types',
  model: 'Add the aligned model to the Models list',
};
/** A set-up job a later start reuses; one that stopped (failed, cancelled, interrupted) is queued anew. */
const UNDER_WAY = new Set<Job['state']>(['queued', 'running']);

/**
 * Starts the miniature replication: the project (found by name or created), and for each of the
 * task data, the safety pool and the model either what is already there or a set-up job (one an
 * earlier start queued and is still under way, else a new one). Returns at once; the grid starts
 * when the set-up jobs have succeeded (at once when there are none).
 */
export async function startReplication(s: Services, o: ReplicationRequest, dir = replicationDir()): Promise<ReplicationStarted> {
  const dataDir = join(dir, 'data');
  const modelPath = join(dir, 'model');
  const project = s.projects.list().find((p) => p.name === REPLICATION_PROJECT) ?? s.projects.create(REPLICATION_PROJECT);
  const earlier = s.replications.unfinished(project.id);
  const underWay = (pick: (r: ReplicationRow) => number | null) =>
    earlier.map(pick).find((id) => id !== null && UNDER_WAY.has(findJob(s, id)?.state ?? 'failed')) ?? null;
  const importStep = async (
    role: DatasetRole,
    name: string,
    pick: (r: ReplicationRow) => number | null,
    params: () => Promise<Omit<DataImportParams, 'projectId' | 'role' | 'name'>>,
    usable: (d: Dataset) => boolean = () => true,
  ) => {
    const have = readyDataset(s, project.id, role, name);
    if (have && usable(have)) return { datasetId: have.id, jobId: null };
    const jobId = underWay(pick) ?? s.jobs.enqueue('data.import', { projectId: project.id, role, name, ...(await params()) }, project.id).id;
    return { datasetId: null, jobId };
  };
  const task = await importStep(
    'task',
    TASK_NAME,
    (r) => r.taskJobId,
    async () => ({ path: await writeTaskPairs(s.workspace, dataDir) }),
  );
  const pool = await importStep(
    'safety_pool',
    POOL_NAME,
    (r) => r.poolJobId,
    async () => ({
      path: join(dataDir, DATA_FILES.pool),
      behaviourField: POOL_BEHAVIOUR_FIELD,
    }),
    // a pool imported without its recorded column: the import applies the column to its records
    (d) => d.recordedTypes > 0,
  );
  const listed = s.models.list().some((m) => m.path === modelPath);
  const modelJobId = listed ? null : (underWay((r) => r.modelJobId) ?? s.jobs.enqueue('model.inspect', { path: modelPath }, project.id).id);
  const row = s.replications.create({
    projectId: project.id,
    params: { ...o, dir },
    taskDatasetId: task.datasetId,
    taskJobId: task.jobId,
    poolDatasetId: pool.datasetId,
    poolJobId: pool.jobId,
    modelJobId,
  });
  advanceReplication(s, row.id);
  // after the jobs are queued: a list refetched on this (the Jobs panel's) includes them
  s.events.emit('projects.changed', {});
  return replicationView(s, row.id);
}

/** The SST-2 subset as prompt/response pairs (about 150 KB) in the workspace, written when it is to be imported. */
async function writeTaskPairs(workspace: string, dataDir: string): Promise<string> {
  const taskFile = join(workspace, 'replication', TASK_FILE);
  mkdirSync(dirname(taskFile), { recursive: true });
  writeFileSync(taskFile, (await loadTaskPairs(dataDir)).map((p) => JSON.stringify(p)).join('\n') + '\n');
  return taskFile;
}

/** The ready data set of that role and name in the project, if any. */
function readyDataset(s: Services, projectId: number, role: DatasetRole, name: string): Dataset | undefined {
  return s.datasets.list(projectId).find((d) => d.role === role && d.name === name && d.state === 'ready');
}

function findJob(s: Services, id: number | null): Job | null {
  if (id === null) return null;
  try {
    return s.jobs.get(id);
  } catch {
    return null; // cleared from the Jobs list
  }
}

/** A set-up step: done (already there, or its job succeeded), or its job's state and error. */
function stepOf(s: Services, step: ReplicationStep['step'], jobId: number | null): ReplicationStep {
  const job = findJob(s, jobId);
  // a job cleared from the list after it ran: the product is there or the next check says not
  const state = jobId === null || job === null ? 'done' : job.state;
  return { step, label: STEP_LABELS[step], jobId, state, error: job?.error ?? null };
}

function stepsOf(s: Services, r: ReplicationRow): ReplicationStep[] {
  return [stepOf(s, 'task', r.taskJobId), stepOf(s, 'pool', r.poolJobId), stepOf(s, 'model', r.modelJobId)];
}

/** The ready data set a set-up step stands for: the one there at the start, else the one its import made, else the one of that name. */
function importedDataset(s: Services, r: ReplicationRow, known: number | null, jobId: number | null, role: DatasetRole, name: string): number | null {
  const ready = new Map(
    s.datasets
      .list(r.projectId)
      .filter((d) => d.state === 'ready')
      .map((d) => [d.id, d]),
  );
  if (known !== null && ready.has(known)) return known;
  const made = (findJob(s, jobId)?.result as { datasetId?: unknown } | null)?.datasetId;
  if (typeof made === 'number' && ready.has(made)) return made;
  return readyDataset(s, r.projectId, role, name)?.id ?? null;
}

/** What a start waits on, found: its task data, its pool and the model; else why it cannot go on. */
function setUpProducts(s: Services, r: ReplicationRow): { taskDatasetId: number; poolDatasetId: number } | { missing: string } {
  const again = 'start the miniature replication again to set it up anew';
  const taskDatasetId = importedDataset(s, r, r.taskDatasetId, r.taskJobId, 'task', TASK_NAME);
  if (taskDatasetId === null)
    return { missing: `The task data set "${TASK_NAME}" was deleted (or its import cannot be found) before the grid started: ${again}` };
  const poolDatasetId = importedDataset(s, r, r.poolDatasetId, r.poolJobId, 'safety_pool', POOL_NAME);
  if (poolDatasetId === null)
    return { missing: `The safety pool "${POOL_NAME}" was deleted (or its import cannot be found) before the grid started: ${again}` };
  const modelPath = join(r.params.dir, 'model');
  if (!s.models.list().some((m) => m.path === modelPath))
    return { missing: `The aligned model ${modelPath} was removed from the Models list before the grid started: ${again}` };
  return { taskDatasetId, poolDatasetId };
}

/** Whether every set-up step of a start is done or succeeded (a step whose job was cleared counts as done). */
function setUpEnded(s: Services, r: ReplicationRow): boolean {
  return stepsOf(s, r).every((x) => x.state === 'done' || x.state === 'succeeded');
}

/**
 * Queues the grid and the aligned model's evaluation of a start whose set-up steps have all
 * succeeded; a start whose data set or model was deleted meanwhile is stopped with why. Idempotent:
 * a start's grid is queued once, however often this runs.
 */
export function advanceReplication(s: Services, id: number): boolean {
  const r = s.replications.get(id);
  if (r.startedAt !== null || r.error !== null || !setUpEnded(s, r)) return false;
  const found = setUpProducts(s, r);
  if ('missing' in found) {
    s.replications.setFailed(id, found.missing);
    return false;
  }
  const dir = r.params.dir;
  const modelPath = join(dir, 'model');
  const grid = replicationGrid({ ...r.params, projectId: r.projectId, modelPath, dataDir: join(dir, 'data'), taskDatasetId: found.taskDatasetId });
  const experiment = startExperiment(s, grid, null);
  const aligned = EvalRunParams.parse({
    ...grid.eval,
    projectId: r.projectId,
    name: `${experiment.name} · aligned`.slice(0, 120),
    model: { kind: 'engine', path: modelPath },
  });
  s.replications.setStarted(id, experiment.id, s.jobs.enqueue('eval.run', aligned, r.projectId).id);
  return true;
}

/**
 * A start as the contract shows it: its set-up steps, then its grid. A read only: a start whose
 * set-up ended but whose data set or model is gone shows as stopped with why; the follower stores that.
 */
export function replicationView(s: Services, id: number): ReplicationStarted {
  const r = s.replications.get(id);
  const found = r.startedAt === null && r.error === null && setUpEnded(s, r) ? setUpProducts(s, r) : null;
  const error = r.error ?? (found && 'missing' in found ? found.missing : null);
  const steps = stepsOf(s, r);
  const started = r.startedAt !== null;
  const stopped = error !== null || steps.some((x) => x.state === 'failed' || x.state === 'cancelled' || x.state === 'interrupted');
  return {
    id: r.id,
    projectId: r.projectId,
    state: started ? 'started' : stopped ? 'stopped' : 'setting-up',
    error,
    steps,
    experiment: r.experimentId !== null ? experimentView(s, r.experimentId) : null,
    alignedEvalJobId: r.alignedEvalJobId,
  };
}

/**
 * Follows the set-up jobs of every start: when one ends, the starts of its project still being set
 * up are advanced (the grid queued once all their steps succeeded) and `replication.changed` emitted.
 * A data set deleted, a model removed or finished jobs cleared may leave a start with nothing left to
 * wait on: those changes advance the unfinished starts too, which stops such a start with why.
 */
export function followReplications(s: Services): () => void {
  // set while the follower sends its own data and models events: their starts were just advanced
  let ownEvents = false;
  const advanceUnfinished = (projectId?: number) => {
    if (ownEvents) return;
    for (const r of s.replications.unfinished(projectId)) {
      advanceReplication(s, r.id);
      s.events.emit('replication.changed', { replicationId: r.id, projectId: r.projectId });
    }
  };
  const offJobs = followJobGroups(s, {
    what: 'replication',
    groupOfJob: (jobId) => s.replications.replicationOfJob(jobId),
    unfinished: () => s.replications.unfinished(),
    advance: (id) => {
      const { projectId } = s.replications.get(id);
      advanceUnfinished(projectId);
      ownEvents = true;
      try {
        s.events.emit('data.changed', { projectId });
        s.events.emit('models.changed', {});
      } finally {
        ownEvents = false;
      }
    },
  });
  // these handlers only advance (no data or models event of their own), so they cannot loop
  const offs = [
    s.events.on('data.changed', ({ projectId }) => advanceUnfinished(projectId)),
    s.events.on('models.changed', () => advanceUnfinished()),
    s.events.on('jobs.cleared', () => advanceUnfinished()),
  ];
  return () => {
    offJobs();
    for (const off of offs) off();
  };
}
