/**
 * Training: the `train.run` job's parameters (the method's own parameters derived from the method
 * table in ./methods/train), memory estimates, loss metrics, and the pre-flight that counts what
 * survives truncation.
 */
import { z } from 'zod';
import { TRAIN_METHODS, type TrainMethodRow, type TrainMethodTable } from './methods/train';
import { checkMethodParams, methodEnum, param, pickDeclared } from './methods/table';

export { TRAIN_METHODS, TrainMethod, trainMethodNeeds, trainMethodRow, type TrainMethodParams, type TrainMethodRow, type TrainMethodTable } from './methods/train';

export const LoraTarget = z.enum(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
export type LoraTarget = z.infer<typeof LoraTarget>;

/** The LoRA adapter's shape. */
export const LoraSettings = z.object({
  rank: param(z.number().int().min(1).max(256).default(8), { title: 'LoRA rank', cli: 'rank' }),
  alpha: param(z.number().positive().default(16), { title: 'LoRA alpha', cli: 'alpha' }),
  dropout: param(z.number().min(0).max(0.9).default(0.05), { title: 'LoRA dropout' }),
  targetModules: param(z.array(LoraTarget).min(1).default(['q', 'v']), { title: 'LoRA target modules', cli: 'targets' }),
});

export const TrainTemplate = z.enum(['alpaca', 'chat', 'plain']);
export type TrainTemplate = z.infer<typeof TrainTemplate>;

/** The optimisation settings of a run (the Train form's fields; the CLI's flags). */
export const TrainSettings = z.object({
  lr: param(z.number().positive().max(1).default(3e-4), { title: 'Learning rate', cli: 'lr' }),
  maxSteps: param(z.number().int().min(1).max(1_000_000).default(100), { title: 'Steps', cli: 'steps' }),
  batchSize: param(z.number().int().min(1).max(1024).default(4), { title: 'Batch size', cli: 'batch' }),
  gradAccumSteps: param(z.number().int().min(1).max(1024).default(1), { title: 'Gradient accumulation steps' }),
  maxLength: param(z.number().int().min(8).max(32_768).default(256), { title: 'Max tokens per example', cli: 'max-length' }),
  warmupSteps: param(z.number().int().min(0).default(0), { title: 'Warm-up steps' }),
  seed: param(z.number().int().min(0).default(0), { title: 'Seed', cli: 'seed' }),
  checkpointEvery: param(z.number().int().min(1).default(25), { title: 'Checkpoint every N steps' }),
});

/** Where the method's parameters lived before the method table: read from rows stored by older versions. */
const LEGACY_METHOD_PARAMS = {
  alpha: z.number().min(0).optional(),
  beta: z.number().min(0).optional(),
  lambda: z.number().min(0).optional(),
  replayRatio: z.number().gt(0).max(10).optional(),
};

/**
 * Parameters of the `train.run` job for a table of methods: `methodParams` are checked against the
 * chosen method's row (defaults filled in). Jobs stored before the method table carry the
 * method's parameters at the top level (`alpha`, `beta`, `lambda`, `replayRatio`): without
 * `methodParams` those are read into it, so old jobs resume unchanged.
 */
export function trainRunParamsFor<T extends TrainMethodTable>(methods: T) {
  return z
    .object({
      projectId: z.number().int().positive(),
      name: z.string().trim().min(1).max(120).optional(),
      modelPath: z.string().min(1),
      /** Task data sets to fine-tune on (default: every task data set of the project). */
      taskDatasetIds: z.array(z.number().int().positive()).optional(),
      /** A saved selection of safety examples: replayed, or used as the DER buffer / EWC / A-GEM memory. */
      selectionId: z.number().int().positive().optional(),
      method: methodEnum(methods).default('plain' as keyof T & string),
      /** The method's own parameters (see the method table). */
      methodParams: z.record(z.string(), z.unknown()).optional(),
      /** How prompts are rendered: the Alpaca template, the model's chat template, or as they are. */
      template: TrainTemplate.default('alpaca'),
      lora: LoraSettings.prefault({}),
      ...TrainSettings.shape,
      /** Activation checkpointing: keep only each layer's input and recompute the rest in the backward pass (less memory, ~25% more compute). */
      recompute: z.boolean().default(false),
      /** Frozen projection matrices stored in fp16 (half their memory; the model trains on fp16-rounded weights); turns recompute on. */
      frozenWeightDtype: z.enum(['float32', 'float16']).default('float32'),
      ...LEGACY_METHOD_PARAMS,
    })
    .transform((p, ctx) => {
      const { alpha, beta, lambda, replayRatio, methodParams, ...run } = p;
      const row = methods[p.method] as TrainMethodRow;
      const given = methodParams ?? pickDeclared(row, { alpha, beta, lambda, replayRatio });
      const checked = checkMethodParams(methods, p.method, given, ctx, ['methodParams']);
      return checked ? { ...run, methodParams: checked } : z.NEVER;
    });
}

/** Parameters of the `train.run` job. */
export const TrainRunParams = trainRunParamsFor(TRAIN_METHODS);
export type TrainRunParams = z.infer<typeof TrainRunParams>;
export type TrainRunParamsInput = z.input<typeof TrainRunParams>;

/** What `train.estimateMemory` needs: the model and the run's shape. */
export const TrainMemoryInput = z
  .object({
    modelPath: z.string().min(1),
    batchSize: z.number().int().min(1).max(1024),
    maxLength: z.number().int().min(8).max(32_768),
    rank: z.number().int().min(1).max(256),
    targetModules: z.array(LoraTarget).min(1),
    /** LoRA dropout probability (its keep-masks are counted) */
    dropout: z.number().min(0).max(0.9).optional(),
    recompute: z.boolean().optional(),
    frozenWeightDtype: z.enum(['float32', 'float16']).optional(),
  })
  .strict();
export type TrainMemoryInput = z.infer<typeof TrainMemoryInput>;

/** Estimated peak memory of a LoRA run on the CPU (bytes; ±25%, calibrated against bench/train). */
export const TrainMemoryEstimate = z.object({
  weightsBytes: z.number(),
  adapterBytes: z.number(),
  activationsBytes: z.number(),
  logitsBytes: z.number(),
  runtimeBytes: z.number(),
  totalBytes: z.number(),
});
export type TrainMemoryEstimate = z.infer<typeof TrainMemoryEstimate>;

export const TrainMetric = z.object({
  step: z.number().int(),
  maxSteps: z.number().int(),
  /** Total loss: task cross-entropy plus every safety term. */
  loss: z.number(),
  /** Cross-entropy on the step's task examples (replayed safety examples included). */
  taskLoss: z.number(),
  /** Each safety term's share of the loss by name (der, der++, lwf, ewc, l2sp, agem); absent in runs before it was recorded. */
  terms: z.record(z.string(), z.number()).optional(),
  /** Response tokens the step trained on; absent in runs before it was recorded. */
  tokens: z.number().int().nonnegative().optional(),
  lr: z.number(),
  gradNorm: z.number(),
  tokensPerSecond: z.number(),
});
export type TrainMetric = z.infer<typeof TrainMetric>;

/** Which examples the training pre-flight looks at: the same ones a `train.run` with these settings trains on. */
export const TrainPreflightParams = z.object({
  projectId: z.number().int().positive(),
  modelPath: z.string().min(1),
  taskDatasetIds: z.array(z.number().int().positive()).optional(),
  selectionId: z.number().int().positive().optional(),
  template: TrainTemplate.default('alpaca'),
});
export type TrainPreflightParams = z.infer<typeof TrainPreflightParams>;

const LengthCounts = z.array(z.tuple([z.number().int().nonnegative(), z.number().int().positive()]));

/**
 * Token lengths of a set of training examples as the trainer builds them (template, BOS and EOS
 * included), before any truncation: enough to count, for any max tokens, how many keep their response.
 */
export const TokenLengthProfile = z.object({
  examples: z.number().int().nonnegative(),
  /** Examples whose response has no token at all: never trainable. */
  emptyResponses: z.number().int().nonnegative(),
  /** [tokens before the first response token (at least 1), examples], ascending; responses with tokens only. */
  promptTokens: LengthCounts,
  /** [prompt + response tokens, examples], ascending; responses with tokens only. */
  totalTokens: LengthCounts,
});
export type TokenLengthProfile = z.infer<typeof TokenLengthProfile>;

export const TrainPreflightResult = z.object({
  modelPath: z.string(),
  /** The model's context length: the largest max tokens worth suggesting. */
  contextLength: z.number().int().positive(),
  task: TokenLengthProfile,
  /** The saved selection's examples; null without one. */
  safety: TokenLengthProfile.nullable(),
});
export type TrainPreflightResult = z.infer<typeof TrainPreflightResult>;

/** What truncating to `maxLength` tokens does to a set of examples. */
export interface TruncationSummary {
  examples: number;
  /** Whole response kept. */
  keepAll: number;
  /** Some response tokens kept, the rest cut off. */
  losePart: number;
  /** No response token left to learn from (cut off entirely, or empty). */
  loseAll: number;
}

function countAtMost(counts: ReadonlyArray<readonly [number, number]>, limit: number): number {
  let n = 0;
  for (const [len, c] of counts) if (len <= limit) n += c;
  return n;
}

/**
 * Truncation at `maxLength`: an example keeps min(maxLength, total) − prompt response tokens
 * (the trainer's own count: positions ≥ 1 below maxLength whose token is a response token).
 */
export function truncationAt(p: TokenLengthProfile, maxLength: number): TruncationSummary {
  const withTokens = p.examples - p.emptyResponses;
  const keepAll = countAtMost(p.totalTokens, maxLength);
  const loseAll = p.emptyResponses + (withTokens - countAtMost(p.promptTokens, maxLength - 1));
  return { examples: p.examples, keepAll, losePart: p.examples - keepAll - loseAll, loseAll };
}

/**
 * The smallest max tokens (a multiple of 8, at most `limit`) at which `share` of the examples with
 * a response keep all of it; null when there are none.
 */
export function suggestMaxLength(p: TokenLengthProfile, share = 0.95, limit = Infinity): number | null {
  const withTokens = p.examples - p.emptyResponses;
  if (withTokens === 0) return null;
  const need = Math.ceil(share * withTokens);
  let n = 0;
  for (const [len, c] of p.totalTokens) {
    n += c;
    if (n >= need) return Math.min(Math.max(8, Math.ceil(len / 8) * 8), limit);
  }
  return null;
}

/** Examples of two profiles together (task data with replayed safety examples). */
export function combineProfiles(a: TokenLengthProfile, b: TokenLengthProfile): TokenLengthProfile {
  const merge = (x: [number, number][], y: [number, number][]) => {
    const m = new Map<number, number>(x);
    for (const [len, c] of y) m.set(len, (m.get(len) ?? 0) + c);
    return [...m.entries()].sort((p, q) => p[0] - q[0]) as [number, number][];
  };
  return {
    examples: a.examples + b.examples,
    emptyResponses: a.emptyResponses + b.emptyResponses,
    promptTokens: merge(a.promptTokens, b.promptTokens),
    totalTokens: merge(a.totalTokens, b.totalTokens),
  };
}

/**
 * Null when some example keeps a response token at `maxLength`; else why training on them would
 * learn nothing, and what to change. `what` names one example ("task example").
 */
export function nothingToLearn(what: string, p: TokenLengthProfile, maxLength: number, contextLength: number): string | null {
  const t = truncationAt(p, maxLength);
  if (t.examples === 0 || t.loseAll < t.examples) return null;
  if (p.examples === p.emptyResponses) return `none of the ${p.examples} ${what}s has a response token to learn from`;
  const prompts = `${p.promptTokens[0]![0]}–${p.promptTokens.at(-1)![0]} tokens`;
  const suggestion = suggestMaxLength(p, 0.95, contextLength);
  const raise =
    suggestion !== null && suggestion > maxLength
      ? `raise max tokens per example to ${suggestion} (keeps 95% of the responses whole${suggestion === contextLength ? ', the model’s context length' : ''})`
      : 'raise max tokens per example';
  return `no ${what} keeps a response token at max tokens ${maxLength}: every response is cut off after the prompt (prompts take ${prompts}); ${raise} or shorten the prompts`;
}

/**
 * Why a run with these settings would learn nothing (the job refuses it; the Train tab disables
 * Start), or null: no trained example keeps a response token, or the safety term's examples keep none.
 * `method` is the method's id and its row of facts (how it uses the safety examples).
 */
export function runBlockedReason(
  r: Pick<TrainPreflightResult, 'task' | 'safety' | 'contextLength'>,
  method: { id: string; row: Pick<TrainMethodRow, 'safety'> },
  maxLength: number,
): string | null {
  const replay = method.row.safety === 'replay';
  const trained = replay && r.safety ? combineProfiles(r.task, r.safety) : r.task;
  const none = nothingToLearn(replay ? 'task or replayed safety example' : 'task example', trained, maxLength, r.contextLength);
  if (none) return none;
  if (r.safety && method.row.safety === 'term') {
    const noSafety = nothingToLearn('safety example', r.safety, maxLength, r.contextLength);
    if (noSafety) return `${method.id} would preserve nothing: ${noSafety}`;
  }
  return null;
}
