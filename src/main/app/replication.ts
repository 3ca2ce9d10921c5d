/**
 * The miniature replication (issue 15) as product jobs: a project "Miniature replication" with the
 * shipped data imported (the SST-2 task as prompt/response pairs, the safety pool with its recorded
 * behaviour types and categories), the shipped aligned model in the Models list, and an experiment
 * grid whose arms are the recipe's (src/main/replicate/recipe.ts) mapped onto train.run parameters,
 * evaluated on the built-in AdvBench, XSTest and SST-2 suites read from the shipped data folder.
 * The aligned model itself is evaluated beside the grid with the same settings (the reference row).
 * A second start reuses the project, its data sets and the model.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dataset, DatasetRole } from '../../shared/data';
import type { Experiment, ExperimentArmInput, ExperimentRequestInput } from '../../shared/experiments';
import type { ReplicationPreset } from '../../shared/replication';
import { EvalRunParams } from '../../shared/eval';
import { loadModel, modelInfo } from '../engine';
import { importNow } from '../jobs/types/dataImport';
import { DATA_FILES, loadTaskPairs } from '../replicate/data';
import { EVAL_GENERATION, FINETUNE, PRESETS, type ArmSpec, type FinetuneConfig, type Preset } from '../replicate/recipe';
import { startExperiment } from './experiments';
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

export interface ReplicationSetup {
  projectId: number;
  modelPath: string;
  dataDir: string;
  taskDatasetId: number;
  poolDatasetId: number;
  /** pool records whose recorded behaviour type was taken */
  typedPoolRecords: number;
}

/**
 * The project, its data sets and the model, made once: the project found by name (or created), each
 * data set imported unless a ready one of that name and role is there, the model registered.
 */
export async function setupReplication(s: Services, dir = replicationDir()): Promise<ReplicationSetup> {
  const dataDir = join(dir, 'data');
  const modelPath = join(dir, 'model');
  const project = s.projects.list().find((p) => p.name === REPLICATION_PROJECT) ?? s.projects.create(REPLICATION_PROJECT);
  s.events.emit('projects.changed', {});

  const task = await ensureDataset(s, project.id, 'task', TASK_NAME, async () => {
    // the SST-2 subset as prompt/response pairs, written only when the data set is to be imported
    const taskFile = join(s.workspace, 'replication', TASK_FILE);
    mkdirSync(dirname(taskFile), { recursive: true });
    writeFileSync(taskFile, (await loadTaskPairs(dataDir)).map((p) => JSON.stringify(p)).join('\n') + '\n');
    return taskFile;
  });
  const pool = await ensureDataset(s, project.id, 'safety_pool', POOL_NAME, async () => join(dataDir, DATA_FILES.pool));
  const typedPoolRecords = s.datasets.takeRecordedBehaviour(pool.id);
  s.events.emit('data.changed', { projectId: project.id });

  if (!s.models.list().some((m) => m.path === modelPath)) {
    s.models.upsert(modelPath, (await modelInfo(loadModel(modelPath))) as Parameters<Services['models']['upsert']>[1]);
    s.events.emit('models.changed', {});
  }
  return { projectId: project.id, modelPath, dataDir, taskDatasetId: task.id, poolDatasetId: pool.id, typedPoolRecords };
}

/** The ready data set of that role and name, else one imported from the file `file()` gives. */
async function ensureDataset(s: Services, projectId: number, role: DatasetRole, name: string, file: () => Promise<string>): Promise<Dataset> {
  const have = s.datasets.list(projectId).find((d) => d.role === role && d.name === name && d.state === 'ready');
  if (have) return have;
  const r = await importNow(s.db, { projectId, path: await file(), role, name });
  return s.datasets.get(r.datasetId);
}

export interface ReplicationStart {
  setup: ReplicationSetup;
  experiment: Experiment;
  /** the aligned model's own evaluation with the grid's settings: the row every arm is read against */
  alignedEvalJobId: number;
}

/** Sets the replication up (once), queues the aligned model's evaluation and starts the preset's grid. */
export async function startReplication(s: Services, o: ReplicationGridOptions, dir?: string): Promise<ReplicationStart> {
  const setup = await setupReplication(s, dir);
  const grid = replicationGrid({ ...o, ...setup });
  const experiment = startExperiment(s, grid, null);
  const aligned = EvalRunParams.parse({
    ...grid.eval,
    projectId: setup.projectId,
    name: `${experiment.name} · aligned`.slice(0, 120),
    model: { kind: 'engine', path: setup.modelPath },
  });
  const alignedEvalJobId = s.jobs.enqueue('eval.run', aligned, setup.projectId).id;
  return { setup, experiment, alignedEvalJobId };
}
