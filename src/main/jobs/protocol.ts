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

export type WorkerMessage =
  | { kind: 'progress'; fraction: number | null; message: string }
  | { kind: 'log'; message: string }
  | { kind: 'stream'; text: string }
  | { kind: 'done'; result: unknown }
  | { kind: 'cancelled'; result?: unknown }
  | { kind: 'error'; message: string; code?: string };

export type RunnerMessage = { kind: 'cancel' };
