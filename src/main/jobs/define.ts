import type { z } from 'zod';
import type { Db } from '../db/database';

/** What a job's code sees while it runs inside its worker thread. */
export interface JobContext<C> {
  readonly jobId: number;
  /** The worker's own connection to the workspace database. */
  readonly db: Db;
  /** Reports progress (fraction 0..1 or null when unknown); cheap to call often. */
  progress(fraction: number | null, message: string): void;
  /** Sends a chunk of live output (e.g. generated text) to the UI; not persisted. */
  stream(text: string): void;
  /** Appends a line to the job's event log. */
  log(message: string): void;
  /** True once the user asked to cancel. Synchronous: safe to poll inside tight loops. */
  cancelled(): boolean;
  /** Throws a JobCancelled error when cancellation was requested. */
  throwIfCancelled(): void;
  /** Aborts when cancellation is requested (for async APIs that take a signal). */
  readonly signal: AbortSignal;
  /**
   * Saves the state `resume` needs to continue. Call it inside the same `db.transaction` as the
   * work it describes, so work and checkpoint are committed together (nothing lost or done twice).
   */
  saveCheckpoint(state: C): void;
}

export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

/**
 * A job type: a typed params schema, `run` for a fresh start and `resume` to continue from the
 * last saved checkpoint. Modules are imported by the main thread (for metadata and validation)
 * and by workers (to run): keep heavy imports inside `run`/`resume`.
 */
export interface JobModule<P = unknown, C = unknown, R = unknown> {
  readonly type: string;
  /** Heavy jobs (embedding, training, generation, merging) share a small concurrency limit. */
  readonly heavy: boolean;
  /**
   * Cap on the worker's V8 young generation in MB. Jobs whose time is spent in native code
   * (onnxruntime) create little JS garbage, and V8's default lets the young generation grow
   * ~10 MB at start-up that is never given back: see ENGINE_YOUNG_GENERATION_MB.
   */
  readonly youngGenerationMb?: number;
  /**
   * Cap on the worker's V8 heap (old generation) in MB; default DEFAULT_JOB_HEAP_MB, and
   * SAFETUNE_JOB_HEAP_MB overrides it for every job. A job that reaches it fails ("ran out of
   * memory") and is not resumed; the app and other jobs carry on. Typed arrays (weights,
   * embeddings) live outside this heap.
   */
  readonly heapMb?: number;
  readonly params: z.ZodType<P>;
  title(params: P): string;
  run(params: P, ctx: JobContext<C>): Promise<R>;
  resume(params: P, checkpoint: C, ctx: JobContext<C>): Promise<R>;
}

/**
 * Young-generation cap for jobs that run the engine (generation, evaluation, training): 3 MB is
 * V8's 1 MB semi-spaces (`--max-semi-space-size=1`); measured on the 100M-parameter bench model it
 * lowers peak RSS by ~9 MB with no change in decode speed.
 */
export const ENGINE_YOUNG_GENERATION_MB = 3;

/** Heap cap of a job worker that declares none: a runaway job fails alone instead of taking the app down with it. */
export const DEFAULT_JOB_HEAP_MB = 2048;

/** Heap cap of the jobs that run the engine (tokenizers, graphs, training data): V8's own ceiling on a 64-bit machine. */
export const ENGINE_JOB_HEAP_MB = 4096;

export function defineJob<P, C, R>(m: JobModule<P, C, R>): JobModule<P, C, R> {
  return m;
}
