/**
 * Job worker entry: runs one job (or one one-shot task, see tasks.ts) in its own thread so the main
 * loop never blocks (onnxruntime's `run` is synchronous). Loaded by JobRunner; never imported by
 * anything else.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { AppError } from '../../shared/errors';
import { openWorkerConnection } from '../db/database';
import { saveCheckpoint } from '../db/jobs';
import { JobCancelled, type JobContext, type JobModule } from './define';
import type { RunnerMessage, TaskInit, WorkerInit, WorkerMessage } from './protocol';
import { builtinJobModules } from './registry';
import { tasks, type TaskModule } from './tasks';

const PROGRESS_MIN_INTERVAL_MS = 50;

/** Error codes of inputs that cannot be used: retrying the same job would fail the same way. */
const PERMANENT_CODES = new Set(['invalid_input', 'not_found', 'unsupported']);
/** File-system errors that mean the input is missing or is not a file. */
const PERMANENT_ERRNO = new Set(['ENOENT', 'ENOTDIR', 'EISDIR']);

/** The `error` message for a thrown value, saying whether a retry could succeed. */
function errorMessage(e: unknown): WorkerMessage {
  if (e instanceof AppError) return { kind: 'error', message: e.message, code: e.code, permanent: PERMANENT_CODES.has(e.code) };
  if (e instanceof z.ZodError) return { kind: 'error', message: `invalid parameters: ${z.prettifyError(e)}`, code: 'invalid_input', permanent: true };
  const errno = (e as NodeJS.ErrnoException | null)?.code;
  return { kind: 'error', message: (e as Error)?.message ?? String(e), permanent: typeof errno === 'string' && PERMANENT_ERRNO.has(errno) };
}

async function runTask(init: TaskInit, post: (m: WorkerMessage) => void): Promise<void> {
  const task = (tasks as Record<string, TaskModule<unknown, unknown>>)[init.task];
  if (!task) {
    post({ kind: 'error', message: `Unknown task "${init.task}"`, code: 'unsupported' });
    return;
  }
  try {
    post({ kind: 'done', result: (await task.run(init.input)) ?? null });
  } catch (e) {
    post(errorMessage(e));
  }
}

async function main(): Promise<void> {
  const port = parentPort!;
  const post = (m: WorkerMessage) => port.postMessage(m);
  if ('task' in (workerData as object)) return runTask(workerData as TaskInit, post);
  const init = workerData as WorkerInit;
  const flag = new Int32Array(init.cancelFlag);
  const abort = new AbortController();
  port.on('message', (m: RunnerMessage) => {
    if (m.kind === 'cancel') abort.abort();
  });
  const cancelled = () => Atomics.load(flag, 0) === 1 || abort.signal.aborted;

  const modules = new Map<string, JobModule>(builtinJobModules.map((m) => [m.type, m]));
  for (const url of init.extraModules) {
    const mod = (await import(url)) as Record<string, unknown>;
    for (const v of Object.values(mod)) {
      if (isJobModule(v)) modules.set(v.type, v);
    }
  }
  const mod = modules.get(init.type);
  if (!mod) {
    post({ kind: 'error', message: `Unknown job type "${init.type}"`, code: 'unsupported' });
    return;
  }

  const db = openWorkerConnection(init.dbPath);
  let lastProgress = 0;
  const ctx: JobContext<unknown> = {
    jobId: init.jobId,
    db,
    progress(fraction, message) {
      const now = Date.now();
      if (fraction !== 1 && now - lastProgress < PROGRESS_MIN_INTERVAL_MS) return;
      lastProgress = now;
      post({ kind: 'progress', fraction: fraction === null ? null : Math.min(1, Math.max(0, fraction)), message });
    },
    log: (message) => post({ kind: 'log', message }),
    stream: (text) => post({ kind: 'stream', text }),
    cancelled,
    throwIfCancelled() {
      if (cancelled()) throw new JobCancelled();
    },
    signal: abort.signal,
    saveCheckpoint: (state) => saveCheckpoint(db, init.jobId, state),
  };

  try {
    const params = mod.params.parse(init.params);
    const result = init.checkpoint === null || init.checkpoint === undefined ? await mod.run(params, ctx) : await mod.resume(params, init.checkpoint, ctx);
    // A job that stops early on cancel may still return what it has (a partial reply, say).
    if (cancelled()) post({ kind: 'cancelled', result: result ?? null });
    else post({ kind: 'done', result: result ?? null });
  } catch (e) {
    if (e instanceof JobCancelled || cancelled()) post({ kind: 'cancelled' });
    else post(errorMessage(e));
  } finally {
    db.close();
  }
}

function isJobModule(v: unknown): v is JobModule {
  const m = v as Partial<JobModule> | null;
  return !!m && typeof m === 'object' && typeof m.type === 'string' && typeof m.run === 'function' && typeof m.resume === 'function';
}

main().catch((e) => {
  parentPort?.postMessage({ kind: 'error', message: `job worker crashed: ${(e as Error)?.stack ?? e}` } satisfies WorkerMessage);
});
