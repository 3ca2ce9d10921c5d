/**
 * Several tensors merged at once on worker threads. Each worker opens the inputs itself, claims the
 * next tensor from a shared counter, merges it chunk by chunk with its own buffers and writes it
 * straight into the output at the tensor's offset (file descriptors are shared by the process's
 * threads). Progress (input bytes) and a stop flag live in shared memory; a worker's error stops
 * the others. The result does not depend on the number of threads or the order tensors finish in.
 *
 * The worker runs this very module (its URL), which starts the worker loop when it is loaded as a
 * merge worker; under TypeScript (tests, tsx) the worker gets tsx's loader.
 */
import { isMainThread, Worker, workerData } from 'node:worker_threads';
import type { MergeMethodId, MergeModelRef } from '../../shared/merge';
import { BufferPool, runTask, type TensorTask } from './chunks';
import { openInput, refLabel, type MergeInput } from './inputs';
import { MERGE_METHODS } from './methods';

const MARKER = 'safetune-merge-worker';
/** shared Int32 slots */
const NEXT = 0;
const STOP = 1;

interface WorkerInit {
  marker: typeof MARKER;
  method: MergeMethodId;
  base: MergeModelRef | null;
  models: MergeModelRef[];
  referencePath: string;
  tasks: TensorTask[];
  chunkElems: number;
  control: SharedArrayBuffer;
  /** Float64 per worker: input bytes merged so far */
  progress: SharedArrayBuffer;
  index: number;
}

export interface ParallelJob {
  method: MergeMethodId;
  base: MergeModelRef | null;
  models: MergeModelRef[];
  referencePath: string;
  tasks: TensorTask[];
  chunkElems: number;
}

class Stopped extends Error {}

/** The worker's loop: claim tensors until none are left or the stop flag is set. */
function work(init: WorkerInit): void {
  const control = new Int32Array(init.control);
  const progress = new Float64Array(init.progress);
  const opened = new Map<string, MergeInput>();
  const open = (r: MergeModelRef) => {
    const k = refLabel(r);
    if (!opened.has(k)) opened.set(k, openInput(r));
    return opened.get(k)!;
  };
  const pool = new BufferPool(init.chunkElems);
  try {
    const ctx = {
      impl: MERGE_METHODS[init.method],
      base: init.base ? open(init.base) : null,
      models: init.models.map(open),
      referencePath: init.referencePath,
      pool,
      stop: () => {
        if (Atomics.load(control, STOP) !== 0) throw new Stopped();
      },
      onBytes: (b: number) => (progress[init.index]! += b),
    };
    for (;;) {
      const i = Atomics.add(control, NEXT, 1);
      if (i >= init.tasks.length) break;
      runTask(init.tasks[i]!, ctx);
    }
  } catch (e) {
    if (e instanceof Stopped) return;
    Atomics.store(control, STOP, 1);
    throw e;
  } finally {
    pool.release();
    for (const m of opened.values()) m.close();
  }
}

if (!isMainThread && (workerData as { marker?: string } | null)?.marker === MARKER) work(workerData as WorkerInit);

/**
 * Run `job.tasks` on `threads` workers. Resolves when all are written; rejects with the first
 * worker's error, or with `cancelled()`'s error when `shouldStop` turns true (polled every 100 ms).
 */
export function runParallel(
  job: ParallelJob,
  threads: number,
  hooks: { onBytes: (total: number) => void; shouldStop: () => boolean; cancelled: () => Error },
): Promise<void> {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const progress = new Float64Array(new SharedArrayBuffer(8 * threads));
  const url = new URL(import.meta.url);
  const execArgv = url.pathname.endsWith('.ts') ? ['--import', 'tsx'] : [];
  return new Promise<void>((resolve, reject) => {
    let error: Error | null = null;
    let running = threads;
    const timer = setInterval(() => {
      hooks.onBytes(progress.reduce((a, b) => a + b, 0));
      if (!error && hooks.shouldStop()) {
        error = hooks.cancelled();
        Atomics.store(control, STOP, 1);
      }
    }, 100);
    for (let index = 0; index < threads; index++) {
      const init: WorkerInit = { marker: MARKER, ...job, control: control.buffer as SharedArrayBuffer, progress: progress.buffer as SharedArrayBuffer, index };
      const w = new Worker(url, { workerData: init, execArgv, name: `merge-${index}` });
      w.on('error', (e) => {
        if (!error) error = e instanceof Error ? e : new Error(String(e));
        Atomics.store(control, STOP, 1);
      });
      w.on('exit', (code) => {
        if (code !== 0 && !error) error = new Error(`a merge worker stopped unexpectedly (exit code ${code})`);
        if (--running > 0) return;
        clearInterval(timer);
        hooks.onBytes(progress.reduce((a, b) => a + b, 0));
        if (error) reject(error);
        else resolve();
      });
    }
  });
}
