/**
 * One-shot tasks: short calls that parse untrusted files (the Train tab's memory estimate reads a
 * model's config.json or GGUF header). JobRunner.runTask runs each in its own worker thread with a
 * heap cap and a time limit, so a hostile file can neither block the main thread nor exhaust its
 * memory. Modules are imported by the main thread for their limits: keep heavy imports inside `run`.
 */
import { AppError } from '../../shared/errors';
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
    run: trainingMemory,
  }),
};

export type TaskName = keyof typeof tasks;
export type TaskInput<N extends TaskName> = Parameters<(typeof tasks)[N]['run']>[0];
export type TaskOutput<N extends TaskName> = Awaited<ReturnType<(typeof tasks)[N]['run']>>;

/**
 * Peak-memory estimate of a LoRA or full-parameter run, for the Train tab before a run starts: the
 * engine reads the model's config.json or GGUF header only (no weights, no tokenizer). A model or
 * setting it cannot use is the caller's invalid input.
 */
export async function trainingMemory(p: TrainMemoryInput): Promise<TrainMemoryEstimate> {
  const { estimateTrainingMemoryForModel } = await import('../engine');
  try {
    const shape = { batch: p.batchSize, seq: p.maxLength, recompute: p.recompute, frozenWeightDtype: p.frozenWeightDtype };
    if (p.mode === 'full') return estimateTrainingMemoryForModel(p.modelPath, { ...shape, full: { trainable: p.trainable ?? ['all'] }, gradAccumSteps: p.gradAccumSteps ?? 1 });
    // the input schema requires rank and target modules in LoRA mode
    return estimateTrainingMemoryForModel(p.modelPath, { ...shape, lora: { rank: p.rank!, alpha: 2 * p.rank!, targetModules: p.targetModules!, dropout: p.dropout } });
  } catch (e) {
    throw e instanceof AppError ? e : new AppError('invalid_input', (e as Error).message);
  }
}
