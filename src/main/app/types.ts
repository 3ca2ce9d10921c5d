/**
 * The shapes of the app's service set (what createServices in services.ts builds), apart from its
 * construction, so modules the service set itself uses (sweeps, evaluations) can name them without
 * an import cycle.
 */
import type { AppInfo } from '../../shared/domain';
import type { Db } from '../db/database';
import type { DatasetStore } from '../db/datasets';
import type { EmbeddingStore } from '../db/embeddings';
import type { EvalStore } from '../db/evaluations';
import type { ExperimentStore } from '../db/experiments';
import type { ModelStore } from '../db/models';
import type { ProjectStore } from '../db/projects';
import type { ReplicationStore } from '../db/replications';
import type { SelectionStore } from '../db/selections';
import type { SweepStore } from '../db/sweeps';
import type { JobModule } from '../jobs/define';
import type { JobRunner } from '../jobs/runner';
import type { EventBus } from '../events/bus';

/** What only the desktop shell can do; absent in browser mode and the CLI. */
export interface PlatformAdapter {
  pickPath(opts: { kind: 'file' | 'folder'; title?: string }): Promise<string | null>;
}

export interface ServiceOptions {
  platform?: PlatformAdapter;
  workspace: string;
  mode: AppInfo['mode'];
  workerScript: string;
  extraJobModules?: { modules: readonly JobModule<any, any, any>[]; workerUrls: string[] };
  maxHeavyJobs?: number;
  maxLightJobs?: number;
  /** How long a cancelled job may take to stop before its thread is terminated. */
  cancelGraceMs?: number;
  /** Least time between two stored progress updates of one job (default 200 ms; tests pass 0 to see every update). */
  progressIntervalMs?: number;
  /** Start the job runner (recover interrupted jobs, run queued ones). CLI listings pass false. */
  runJobs?: boolean;
}

/** Everything the transports (Electron IPC, browser server, CLI) share: one set of services. */
export interface Services {
  readonly db: Db;
  readonly workspace: string;
  readonly databasePath: string;
  readonly events: EventBus;
  readonly projects: ProjectStore;
  readonly datasets: DatasetStore;
  readonly embeddings: EmbeddingStore;
  readonly models: ModelStore;
  readonly selections: SelectionStore;
  readonly evaluations: EvalStore;
  /** Coefficient sweeps (merge → Models list → evaluation per α). */
  readonly sweeps: SweepStore;
  /** Experiment grids (select → train → evaluate per arm and seed). */
  readonly experiments: ExperimentStore;
  /** Starts of the miniature replication (set-up jobs, then a grid). */
  readonly replications: ReplicationStore;
  readonly platform: PlatformAdapter | null;
  readonly jobs: JobRunner;
  info(): AppInfo;
  close(): Promise<void>;
}
