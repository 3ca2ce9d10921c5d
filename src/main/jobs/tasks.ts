/**
 * One-shot tasks: short calls that parse untrusted files (the Train tab's memory estimate reads a
 * model's config.json or GGUF header). JobRunner.runTask runs each in its own worker thread with a
 * heap cap and a time limit, so a hostile file can neither block the main thread nor exhaust its
 * memory. Modules are imported by the main thread for their limits: keep heavy imports inside `run`.
 */
import type { TrainMemoryEstimate, TrainMemoryInput } from '../../shared/train';

export interface TaskModule<I, O> {
  /** What the task does, for messages ("Estimating training memory"). */
  readonly title: string;
  /** The worker's V8 heap cap (old generation) in MB. */
  readonly heapMb: number;
  /** The worker is stopped, and the call fails, after this long. */
  readonly timeoutMs: number;
  run(input: I): Promise<O>;
}

function defineTask<I, O>(t: TaskModule<I, O>): TaskModule<I, O> {
  return t;
}

export const tasks = {
  'train.estimateMemory': defineTask<TrainMemoryInput, TrainMemoryEstimate>({
    title: 'Estimating training memory',
    heapMb: 512,
    timeoutMs: 30_000,
    run: async (p) => (await import('../app/trainMemory')).trainingMemory(p),
  }),
};

export type TaskName = keyof typeof tasks;
export type TaskInput<N extends TaskName> = Parameters<(typeof tasks)[N]['run']>[0];
export type TaskOutput<N extends TaskName> = Awaited<ReturnType<(typeof tasks)[N]['run']>>;
