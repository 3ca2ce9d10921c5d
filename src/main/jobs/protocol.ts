/** Messages between the job runner (main thread) and a job worker. */
export interface WorkerInit {
  jobId: number;
  type: string;
  params: unknown;
  checkpoint: unknown;
  dbPath: string;
  /** Int32Array(1) over this buffer: 1 once cancellation was requested. */
  cancelFlag: SharedArrayBuffer;
  /** Extra job modules to load (file URLs), e.g. plug-ins or test job types. */
  extraModules: string[];
}

/** A one-shot task (see tasks.ts): the worker runs it, answers `done` or `error`, and exits. */
export interface TaskInit {
  task: string;
  input: unknown;
}

export type WorkerMessage =
  | { kind: 'progress'; fraction: number | null; message: string }
  | { kind: 'log'; message: string }
  | { kind: 'stream'; text: string }
  | { kind: 'done'; result: unknown }
  | { kind: 'cancelled'; result?: unknown }
  /** `permanent`: the input cannot be used (a retry would fail the same way), so the job is not resumed. */
  | { kind: 'error'; message: string; code?: string; permanent?: boolean };

export type RunnerMessage = { kind: 'cancel' };
