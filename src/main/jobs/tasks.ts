/**
 * One-shot tasks: short calls that parse untrusted files (the Train tab's memory estimate reads a
 * model's config.json or GGUF header; the Merge tab's preview reads the models' safetensors and GGUF headers). JobRunner.runTask runs each in its own worker thread with a
 * heap cap and a time limit, so a hostile file can neither block the main thread nor exhaust its
 * memory. Modules are imported by the main thread for their limits: keep heavy imports inside `run`.
 */
import { AppError } from '../../shared/errors';
import type { MergeConfig, MergePlanSummary } from '../../shared/merge';
import type { TrainMemoryEstimate, TrainMemoryInput } from '../../shared/train';

/** What the merge preview plans: the merge as it would be queued, into `outPath` (not created). */
export interface MergePlanInput {
  config: MergeConfig;
  outPath: string;
  maxShardBytes?: number | undefined;
  threads?: number | undefined;
}

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
  'merge.plan': defineTask<MergePlanInput, MergePlanSummary>({
    title: 'Planning the merge',
    heapMb: 1024,
    timeoutMs: 60_000,
    run: mergePlan,
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
  const { BASE_QUANT_TYPES } = await import('../engine/train/baseQuant');
  try {
    const baseQuant = BASE_QUANT_TYPES[p.baseQuant ?? 'none'] ?? undefined;
    const shape = { batch: p.batchSize, seq: p.maxLength, recompute: p.recompute, frozenWeightDtype: p.frozenWeightDtype, ...(baseQuant ? { baseQuant } : {}) };
    if (p.mode === 'full')
      return estimateTrainingMemoryForModel(p.modelPath, { ...shape, full: { trainable: p.trainable ?? ['all'] }, gradAccumSteps: p.gradAccumSteps ?? 1 });
    // the input schema requires rank and target modules in LoRA mode
    return estimateTrainingMemoryForModel(p.modelPath, {
      ...shape,
      lora: { rank: p.rank!, alpha: 2 * p.rank!, targetModules: p.targetModules!, dropout: p.dropout },
    });
  } catch (e) {
    throw e instanceof AppError ? e : new AppError('invalid_input', (e as Error).message);
  }
}

/**
 * The Merge tab's preview: output size, peak memory and free disk of a merge before it is queued,
 * from the models' headers (and, for a GGUF written from a folder, its tokenizer). A model the merge
 * cannot use is the caller's invalid input.
 */
export async function mergePlan(p: MergePlanInput): Promise<MergePlanSummary> {
  const { planMerge, defaultMergeThreads, toMergeYaml } = await import('../merge');
  try {
    return await planMerge(p.config, p.outPath, {
      maxShardBytes: p.maxShardBytes,
      threads: p.threads ?? defaultMergeThreads(),
      mergeYaml: toMergeYaml(p.config),
    });
  } catch (e) {
    throw e instanceof AppError ? e : new AppError('invalid_input', (e as Error).message);
  }
}
