import { readFileSync } from 'node:fs';
import { latestSchemaVersion, openDatabase, type Db } from '../db/database';
import { DatasetStore } from '../db/datasets';
import { EmbeddingStore } from '../db/embeddings';
import { EvalStore } from '../db/evaluations';
import { ExperimentStore } from '../db/experiments';
import { JobStore } from '../db/jobs';
import { ModelStore } from '../db/models';
import { ProjectStore } from '../db/projects';
import { ReplicationStore } from '../db/replications';
import { SelectionStore } from '../db/selections';
import { SweepStore } from '../db/sweeps';
import { builtinJobModules } from '../jobs/registry';
import { storeNames } from '../jobs/names';
import { JobRunner } from '../jobs/runner';
import { EventBus } from '../events/bus';
import { acquireRunnerLock } from './runnerLock';
import { followExperiments } from './experiments';
import { followMergeRuns } from './merges';
import { followReplications } from './replication';
import { followMergeSweeps } from './sweeps';
import { ensureWorkspace } from './workspace';

export type { PlatformAdapter, ServiceOptions, Services } from './types';
import type { ServiceOptions, Services } from './types';

export function createServices(opts: ServiceOptions): Services {
  const { dir, databasePath } = ensureWorkspace(opts.workspace);
  const runJobs = opts.runJobs !== false;
  const release = runJobs ? acquireRunnerLock(dir) : () => {};
  let db: Db;
  try {
    db = openDatabase(databasePath).db;
  } catch (e) {
    release();
    throw e;
  }
  const events = new EventBus();
  const modules = [...builtinJobModules, ...(opts.extraJobModules?.modules ?? [])];
  const jobs = new JobRunner({
    store: new JobStore(db),
    dbPath: databasePath,
    events,
    modules,
    workerScript: opts.workerScript,
    extraWorkerModules: opts.extraJobModules?.workerUrls ?? [],
    maxHeavy: opts.maxHeavyJobs ?? envInt('SAFETUNE_MAX_HEAVY_JOBS') ?? 1,
    maxLight: opts.maxLightJobs ?? envInt('SAFETUNE_MAX_LIGHT_JOBS') ?? 2,
    cancelGraceMs: opts.cancelGraceMs,
    progressIntervalMs: opts.progressIntervalMs,
    names: storeNames(db),
  });
  if (runJobs) jobs.start();
  const version = appVersion();
  let closed = false;
  let unfollow = () => {};
  const services: Services = {
    db,
    workspace: dir,
    databasePath,
    events,
    projects: new ProjectStore(db),
    datasets: new DatasetStore(db),
    embeddings: new EmbeddingStore(db),
    models: new ModelStore(db),
    selections: new SelectionStore(db),
    evaluations: new EvalStore(db),
    sweeps: new SweepStore(db),
    experiments: new ExperimentStore(db),
    replications: new ReplicationStore(db),
    platform: opts.platform ?? null,
    jobs,
    info: () => ({
      version,
      mode: opts.mode,
      workspace: dir,
      databasePath,
      schemaVersion: latestSchemaVersion(),
      jobTypes: jobs.jobTypes(),
      canPickPaths: !!opts.platform,
    }),
    async close() {
      if (closed) return;
      closed = true;
      unfollow();
      await jobs.close();
      db.close();
      release();
    },
  };
  if (runJobs) {
    const offs = [followMergeSweeps(services), followMergeRuns(services), followExperiments(services), followReplications(services)];
    unfollow = () => offs.forEach((off) => off());
  }
  return services;
}

function envInt(name: string): number | undefined {
  const v = process.env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
}

function appVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}
