import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { z } from 'zod';
import type { Job, JobEvent, JobFailure, JobState } from '../../shared/domain';
import { AppError, ErrorCode } from '../../shared/errors';
import type { EventBus } from '../events/bus';
import { NO_NAMES, type JobNames } from './names';
import { JobStore, resumeRefusal, rowToJob, type JobRow } from '../db/jobs';
import { DEFAULT_JOB_HEAP_MB, type JobModule } from './define';
import type { RunnerMessage, TaskInit, WorkerInit, WorkerMessage } from './protocol';
import { tasks, type TaskInput, type TaskName, type TaskOutput } from './tasks';

export interface RunnerOptions {
  store: JobStore;
  dbPath: string;
  events: EventBus;
  modules: readonly JobModule<any, any, any>[];
  /** The worker entry: out/main/jobWorker.js when built, src/main/jobs/worker.ts under tests. */
  workerScript: string | URL;
  /** Extra modules the worker loads (file URLs); their job types must also be in `modules`. */
  extraWorkerModules?: string[];
  /** How many heavy jobs (embedding, training, generation) run at once. Default 1. */
  maxHeavy?: number;
  /** How many light jobs run at once. Default 2. */
  maxLight?: number;
  /** How long a cancelled job may take to stop before its thread is terminated. Default 10 s. */
  cancelGraceMs?: number;
  /** Minimum interval between persisted/emitted progress updates per job. Default 200 ms. */
  progressIntervalMs?: number;
  /**
   * Heap cap (MB) for every job worker, over each job type's own `heapMb`. Default: the
   * SAFETUNE_JOB_HEAP_MB environment variable when set.
   */
  heapMb?: number;
  /** Time limit of one-shot tasks, over each task's own (tests). */
  taskTimeoutMs?: number;
  /** Names for job titles (data sets, selections, training runs); default: none known. */
  names?: JobNames;
}

/** SAFETUNE_JOB_HEAP_MB: a whole number of megabytes, at least 64. */
function envHeapMb(): number | undefined {
  const v = process.env.SAFETUNE_JOB_HEAP_MB;
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 64) throw new Error(`SAFETUNE_JOB_HEAP_MB must be a whole number of megabytes (at least 64), got "${v}"`);
  return n;
}

function outOfMemory(e: Error): boolean {
  return (e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY';
}

interface Active {
  id: number;
  heavy: boolean;
  /** the worker's heap cap, for the out-of-memory message */
  heapMb: number;
  worker: Worker;
  cancelFlag: Int32Array;
  cancelRequested: boolean;
  /** Cancelled because the runner is closing: the job ends `interrupted`, to resume at the next start. */
  closing: boolean;
  settled: boolean;
  first: { t: number; f: number } | null;
  eta: number | null;
  lastEmit: number;
  pending: { fraction: number | null; message: string } | null;
  flushTimer: NodeJS.Timeout | null;
  killTimer: NodeJS.Timeout | null;
  done: Promise<void>;
}

/**
 * Runs persisted jobs in worker threads with a concurrency limit, live progress, cancel and resume.
 * The runner is the only writer of job state; workers write their own checkpoints and domain data.
 */
export class JobRunner {
  private readonly modules = new Map<string, JobModule<any, any, any>>();
  private readonly active = new Map<number, Active>();
  private readonly tasksRunning = new Set<Worker>();
  private readonly opts: Required<Omit<RunnerOptions, 'extraWorkerModules' | 'heapMb' | 'taskTimeoutMs' | 'names'>> &
    Pick<RunnerOptions, 'heapMb' | 'taskTimeoutMs' | 'names'> & { extraWorkerModules: string[] };
  private closed = false;
  private elapsedTimer: NodeJS.Timeout | null = null;

  constructor(opts: RunnerOptions) {
    this.opts = {
      ...opts,
      maxHeavy: opts.maxHeavy ?? 1,
      maxLight: opts.maxLight ?? 2,
      cancelGraceMs: opts.cancelGraceMs ?? 10_000,
      progressIntervalMs: opts.progressIntervalMs ?? 200,
      extraWorkerModules: opts.extraWorkerModules ?? [],
      heapMb: opts.heapMb ?? envHeapMb(),
    };
    for (const m of opts.modules) this.modules.set(m.type, m);
  }

  /** Marks jobs left running by a previous process as interrupted, then starts queued ones. */
  start(): { interrupted: number[] } {
    const interrupted = this.opts.store.interruptOrphans();
    for (const id of interrupted) this.emit(id);
    this.elapsedTimer = setInterval(() => {
      for (const id of this.active.keys()) this.opts.store.flushElapsed(id);
    }, 5_000);
    this.elapsedTimer.unref();
    this.schedule();
    return { interrupted };
  }

  jobTypes(): { type: string; title: string; heavy: boolean }[] {
    return [...this.modules.values()].map((m) => ({ type: m.type, title: m.type, heavy: m.heavy }));
  }

  enqueue(type: string, params: unknown, projectId: number | null = null): Job {
    if (this.closed) throw new AppError('unsupported', 'The job runner is shutting down');
    const mod = this.modules.get(type);
    if (!mod) throw new AppError('unsupported', `Unknown job type "${type}"`, { type });
    const parsed = mod.params.safeParse(params);
    if (!parsed.success) {
      throw new AppError('invalid_input', `Invalid parameters for ${type}: ${z.prettifyError(parsed.error)}`, {
        issues: parsed.error.issues,
      });
    }
    const row = this.opts.store.insert({ projectId, type, title: mod.title(parsed.data, this.opts.names ?? NO_NAMES), params: parsed.data });
    this.emit(row.id);
    this.schedule();
    return this.get(row.id);
  }

  get(id: number): Job {
    const a = this.active.get(id);
    return rowToJob(this.opts.store.row(id), a ? { etaSeconds: a.eta } : undefined);
  }

  list(filter: { projectId?: number | null; states?: JobState[]; limit: number }): Job[] {
    return this.opts.store.list(filter).map((r) => {
      const a = this.active.get(r.id);
      return rowToJob(r, a ? { etaSeconds: a.eta } : undefined);
    });
  }

  events(id: number, limit: number): JobEvent[] {
    this.opts.store.row(id);
    return this.opts.store.events(id, limit);
  }

  cancel(id: number): Job {
    const row = this.opts.store.row(id);
    if (row.state === 'queued') {
      this.opts.store.cancelQueued(id);
    } else if (row.state === 'running') {
      const a = this.active.get(id);
      if (a && !a.cancelRequested) {
        this.requestCancel(a);
        this.opts.store.event(id, 'state', 'cancel requested');
        a.killTimer = setTimeout(() => {
          if (!a.settled) {
            this.opts.store.event(id, 'log', `did not stop within ${this.opts.cancelGraceMs} ms: thread terminated`);
            void a.worker.terminate();
          }
        }, this.opts.cancelGraceMs);
      }
    } else if (row.state === 'interrupted') {
      this.opts.store.finishAttempt(id, 'cancelled', {});
    } else {
      throw new AppError('conflict', `Job ${id} is ${row.state}; only queued, running or interrupted jobs can be cancelled`, {
        id,
        state: row.state,
      });
    }
    this.emit(id);
    return this.get(id);
  }

  resume(id: number): Job {
    const row = this.opts.store.row(id);
    const refusal = resumeRefusal(row);
    if (refusal) throw new AppError('conflict', refusal, { id, state: row.state, failure: row.failure });
    if (!this.modules.has(row.type)) throw new AppError('unsupported', `Unknown job type "${row.type}"`);
    this.opts.store.requeue(id);
    this.emit(id);
    this.schedule();
    return this.get(id);
  }

  /**
   * Deletes the rows of finished jobs (all, or one project's; null: jobs of no project) and returns
   * their ids. Only succeeded, failed or cancelled rows go: a running job's row reaches one of those
   * states in the same step that the runner lets go of it (settle), so no live job is ever deleted.
   */
  clearFinished(projectId?: number | null): number[] {
    return this.opts.store.deleteFinished(projectId);
  }

  /** Cancels every queued/running job of a project and waits for the running ones to stop. */
  async cancelProjectJobs(projectId: number): Promise<number> {
    const rows = this.opts.store.list({ projectId, states: ['queued', 'running', 'interrupted'], limit: 1000 });
    for (const r of rows) this.cancel(r.id);
    await Promise.all(rows.map((r) => this.active.get(r.id)?.done));
    return rows.length;
  }

  /** Waits until a job has reached a final or interrupted state (tests, CLI). */
  async waitFor(id: number, timeoutMs = 60_000): Promise<Job> {
    const settled = (j: Job) => !['queued', 'running'].includes(j.state);
    const now = this.get(id);
    if (settled(now)) return now;
    return new Promise<Job>((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`job ${id} did not finish within ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.opts.events.on('job.updated', (j) => {
        if (j.id === id && settled(j)) {
          clearTimeout(timer);
          off();
          resolve(j);
        }
      });
    });
  }

  /**
   * Stops accepting work and stops running jobs. Each is asked to cancel (a job saves its checkpoint
   * and returns at its next check); only one still running after `cancelGraceMs` has its thread
   * terminated, since terminating a thread inside a native call (an onnxruntime run) aborts the whole
   * process. Their rows become `interrupted` so the next start can resume them from their checkpoints.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.elapsedTimer) clearInterval(this.elapsedTimer);
    const running = [...this.active.values()];
    for (const a of running) {
      a.closing = true;
      if (a.killTimer) clearTimeout(a.killTimer);
      this.requestCancel(a);
    }
    let graceTimer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(running.map((a) => a.done)), new Promise<void>((r) => (graceTimer = setTimeout(r, this.opts.cancelGraceMs)))]);
    clearTimeout(graceTimer);
    for (const a of running) {
      if (a.settled) continue;
      this.opts.store.event(a.id, 'log', `did not stop within ${this.opts.cancelGraceMs} ms of closing: thread terminated`);
      this.settle(a, 'cancelled', {});
    }
    const taskWorkers = [...this.tasksRunning];
    this.tasksRunning.clear();
    await Promise.all([...running.map((a) => a.worker.terminate()), ...taskWorkers.map((w) => w.terminate())]);
    this.active.clear();
  }

  private requestCancel(a: Active): void {
    if (a.cancelRequested) return;
    a.cancelRequested = true;
    Atomics.store(a.cancelFlag, 0, 1);
    a.worker.postMessage({ kind: 'cancel' } satisfies RunnerMessage);
  }

  /**
   * Runs a one-shot task (tasks.ts) in its own worker thread under the task's heap cap and time
   * limit and returns its result; its errors come back as AppErrors. For calls that parse untrusted
   * files, so that the main thread never does.
   */
  runTask<N extends TaskName>(name: N, input: TaskInput<N>): Promise<TaskOutput<N>> {
    if (this.closed) throw new AppError('unsupported', 'The job runner is shutting down');
    const task = tasks[name];
    const timeoutMs = this.opts.taskTimeoutMs ?? task.timeoutMs;
    const worker = this.spawn({ task: name, input } satisfies TaskInit, `task-${name}`, { maxOldGenerationSizeMb: task.heapMb });
    this.tasksRunning.add(worker);
    return new Promise<TaskOutput<N>>((resolve, reject) => {
      let settled = false;
      const finish = (settle: () => void) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.tasksRunning.delete(worker);
        void worker.terminate();
        settle();
      };
      const timer = setTimeout(
        () => finish(() => reject(new AppError('invalid_input', `${task.title} took longer than ${timeoutMs / 1000} s and was stopped: is the file damaged?`))),
        timeoutMs,
      );
      worker.on('message', (m: WorkerMessage) => {
        if (m.kind === 'done') finish(() => resolve(m.result as TaskOutput<N>));
        else if (m.kind === 'error') finish(() => reject(new AppError(ErrorCode.safeParse(m.code).data ?? 'internal', m.message)));
      });
      worker.on('error', (e) =>
        finish(() =>
          reject(
            outOfMemory(e)
              ? new AppError('invalid_input', `${task.title} ran out of memory (limit ${task.heapMb} MB) and was stopped: the file is too large or damaged`)
              : new AppError('internal', `${task.title} crashed: ${e.message}`),
          ),
        ),
      );
      worker.on('exit', (code) => finish(() => reject(new AppError('internal', `${task.title} stopped unexpectedly (exit code ${code})`))));
    });
  }

  private schedule(): void {
    if (this.closed) return;
    const counts = { heavy: 0, light: 0 };
    for (const a of this.active.values()) counts[a.heavy ? 'heavy' : 'light']++;
    for (const row of this.opts.store.queued()) {
      if (this.active.has(row.id)) continue;
      const mod = this.modules.get(row.type);
      if (!mod) {
        this.opts.store.markRunning(row.id);
        this.opts.store.finishAttempt(row.id, 'failed', { error: `Unknown job type "${row.type}"` });
        this.emit(row.id);
        continue;
      }
      const kind = mod.heavy ? 'heavy' : 'light';
      const limit = mod.heavy ? this.opts.maxHeavy : this.opts.maxLight;
      if (counts[kind] >= limit) continue;
      counts[kind]++;
      this.launch(row, mod);
    }
  }

  /** A worker thread on the worker entry (a job or a one-shot task, by its data). */
  private spawn(workerData: WorkerInit | TaskInit, name: string, resourceLimits: ResourceLimits): Worker {
    const script = this.opts.workerScript;
    return new Worker(script, {
      workerData,
      execArgv: String(script).endsWith('.ts') ? ['--import', 'tsx'] : [],
      name,
      resourceLimits,
    });
  }

  private launch(row: JobRow, mod: JobModule<any, any, any>): void {
    const store = this.opts.store;
    const checkpoint = store.checkpoint(row.id);
    store.markRunning(row.id);
    const cancelBuf = new SharedArrayBuffer(4);
    const init: WorkerInit = {
      jobId: row.id,
      type: row.type,
      params: JSON.parse(row.params),
      checkpoint,
      dbPath: this.opts.dbPath,
      cancelFlag: cancelBuf,
      extraModules: this.opts.extraWorkerModules,
    };
    const heapMb = this.opts.heapMb ?? mod.heapMb ?? DEFAULT_JOB_HEAP_MB;
    const worker = this.spawn(init, `job-${row.id}-${row.type}`, {
      maxOldGenerationSizeMb: heapMb,
      ...(mod.youngGenerationMb ? { maxYoungGenerationSizeMb: mod.youngGenerationMb } : {}),
    });
    let resolveDone!: () => void;
    const a: Active = {
      id: row.id,
      heavy: mod.heavy,
      heapMb,
      worker,
      cancelFlag: new Int32Array(cancelBuf),
      cancelRequested: false,
      closing: false,
      settled: false,
      first: null,
      eta: null,
      lastEmit: 0,
      pending: null,
      flushTimer: null,
      killTimer: null,
      done: new Promise<void>((r) => (resolveDone = r)),
    };
    this.active.set(row.id, a);
    this.emit(row.id);

    worker.on('message', (m: WorkerMessage) => this.onMessage(a, m));
    worker.on('error', (e) =>
      this.settle(
        a,
        'failed',
        outOfMemory(e)
          ? {
              error: `ran out of memory (limit ${a.heapMb} MB) and was stopped: its input is too large or damaged for this job. Resuming would fail the same way; to allow more memory set SAFETUNE_JOB_HEAP_MB and start a new job`,
              failure: 'out_of_memory',
            }
          : { error: `job crashed: ${e.message}` },
      ),
    );
    worker.on('exit', (code) => {
      if (!a.settled) {
        if (a.cancelRequested) this.settle(a, 'cancelled', {});
        else this.settle(a, 'failed', { error: `job thread exited unexpectedly (code ${code})` });
      }
      resolveDone();
    });
  }

  private onMessage(a: Active, m: WorkerMessage): void {
    if (a.settled) return;
    switch (m.kind) {
      case 'progress':
        this.onProgress(a, m.fraction, m.message);
        break;
      case 'log':
        this.opts.store.event(a.id, 'log', m.message);
        break;
      case 'stream':
        this.opts.events.emit('job.stream', { jobId: a.id, text: m.text });
        break;
      case 'done':
        this.settle(a, 'succeeded', { result: m.result });
        break;
      case 'cancelled':
        this.settle(a, 'cancelled', m.result === undefined ? {} : { result: m.result });
        break;
      case 'error':
        this.settle(a, a.cancelRequested ? 'cancelled' : 'failed', { error: m.message, failure: m.permanent ? 'invalid_input' : 'error' });
        break;
    }
  }

  private onProgress(a: Active, fraction: number | null, message: string): void {
    const now = Date.now();
    if (fraction !== null) {
      if (!a.first) a.first = { t: now, f: fraction };
      else if (fraction > a.first.f && now > a.first.t) {
        const rate = (fraction - a.first.f) / (now - a.first.t);
        a.eta = Math.max(0, (1 - fraction) / rate / 1000);
      }
    }
    a.pending = { fraction, message };
    const wait = this.opts.progressIntervalMs - (now - a.lastEmit);
    if (wait <= 0) this.flushProgress(a);
    else if (!a.flushTimer) a.flushTimer = setTimeout(() => this.flushProgress(a), wait);
  }

  private flushProgress(a: Active): void {
    if (a.flushTimer) clearTimeout(a.flushTimer);
    a.flushTimer = null;
    if (!a.pending || a.settled) return;
    this.opts.store.progress(a.id, a.pending.fraction, a.pending.message);
    a.pending = null;
    a.lastEmit = Date.now();
    this.emit(a.id);
  }

  private settle(a: Active, state: 'succeeded' | 'failed' | 'cancelled', fields: { result?: unknown; error?: string; failure?: JobFailure }): void {
    if (a.settled) return;
    this.flushProgress(a);
    a.settled = true;
    if (a.killTimer) clearTimeout(a.killTimer);
    if (a.closing && state === 'cancelled') {
      this.opts.store.finishAttempt(a.id, 'interrupted', { message: 'stopped when the app closed' });
    } else {
      const message = state === 'succeeded' ? 'done' : state === 'cancelled' ? 'cancelled' : undefined;
      this.opts.store.finishAttempt(a.id, state, { ...fields, message });
    }
    this.active.delete(a.id);
    this.emit(a.id);
    void a.worker.terminate();
    this.schedule();
  }

  private emit(id: number): void {
    const row = this.opts.store.find(id);
    if (!row) return;
    const a = this.active.get(id);
    this.opts.events.emit('job.updated', rowToJob(row, a ? { etaSeconds: a.eta } : undefined));
  }
}

/**
 * Where the worker entry lives: next to the bundled entry point (out/main/jobWorker.js), or the
 * TypeScript source when running from src (tests, tsx).
 */
export function defaultWorkerScript(entryUrl: string): string {
  const built = new URL('./jobWorker.js', entryUrl);
  if (existsSync(fileURLToPath(built))) return fileURLToPath(built);
  const src = fileURLToPath(new URL('./worker.ts', import.meta.url));
  if (existsSync(src)) return src;
  throw new Error(`job worker entry not found next to ${entryUrl}`);
}
