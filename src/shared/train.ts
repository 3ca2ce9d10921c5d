/**
 * Training: the `train.run` job's parameters (the method's own parameters derived from the method
 * table in ./methods/train; the training mode — a LoRA adapter or full-parameter training — from
 * the mode table here), memory estimates, loss metrics, and the pre-flight that counts what
 * survives truncation.
 */
import { z } from 'zod';
import { TRAIN_METHODS, type TrainMethodRow, type TrainMethodTable } from './methods/train';
import { checkMethodParams, methodEnum, param, pickDeclared, type MethodTable } from './methods/table';

export {
  TRAIN_METHODS,
  TrainMethod,
  trainMethodNeeds,
  trainMethodRow,
  type TrainMethodParams,
  type TrainMethodRow,
  type TrainMethodTable,
} from './methods/train';

export const LoraTarget = z.enum(['q', 'k', 'v', 'o', 'gate', 'up', 'down']);
export type LoraTarget = z.infer<typeof LoraTarget>;

/** The LoRA adapter's shape. */
export const LoraSettings = z.object({
  rank: param(z.number().int().min(1).max(256).default(8), { title: 'LoRA rank', cli: 'rank' }),
  alpha: param(z.number().positive().default(16), { title: 'LoRA alpha', cli: 'alpha' }),
  dropout: param(z.number().min(0).max(0.9).default(0.05), { title: 'LoRA dropout' }),
  targetModules: param(z.array(LoraTarget).min(1).default(['q', 'v']), { title: 'LoRA target modules', cli: 'targets' }),
});

/**
 * The weights full-parameter training can train: all, or groups — attention (q, k, v, o and their
 * biases), mlp (gate, up, down), embeddings, norms (every RMSNorm weight), lm_head — or one
 * projection. The engine's own list (src/main/engine/train/full.ts); a test keeps them equal.
 */
export const TrainableGroup = z.enum(['all', 'attention', 'mlp', 'embeddings', 'norms', 'lm_head', 'q', 'k', 'v', 'o', 'gate', 'up', 'down']);
export type TrainableGroup = z.infer<typeof TrainableGroup>;

/** What full-parameter training trains. */
export const FullSettings = z.object({
  trainable: param(z.array(TrainableGroup).min(1).default(['all']), {
    title: 'Trained weights',
    description: 'all, or groups: attention (q, k, v, o), mlp (gate, up, down), embeddings, norms, lm_head, or single projections; the rest stay frozen',
    cli: 'trainable',
  }),
});

/**
 * The training modes, one row each (a table like the method tables: label, one line, its settings):
 * the Train form's mode choice and its fields, and the CLI's `--full` / `--trainable`, come from here.
 */
export const TRAIN_MODES = {
  lora: {
    label: 'LoRA adapter',
    description: 'Train a small low-rank adapter beside the frozen weights; the run ends with a PEFT adapter (export a merged model from it)',
    params: LoraSettings,
  },
  full: {
    label: 'Full-parameter training',
    description:
      'Train the model’s own weights (all, or chosen groups; about 16 bytes of memory per trained parameter); the run ends with a new model in the Models list',
    params: FullSettings,
  },
} as const satisfies MethodTable;
export const TrainMode = methodEnum(TRAIN_MODES);
export type TrainMode = z.infer<typeof TrainMode>;

/**
 * How the frozen base weights are held while an adapter trains, one row each: as they are (float32,
 * or fp16 with `frozenWeightDtype`), or quantised on load with ggml's reference quantizer to a
 * block format and dequantised to float32 where each matrix is used (QLoRA-style: quantised base,
 * fp32 adapter and compute). `bitsPerWeight` is the stored size with its scales, for the form's
 * hint; `alias` a short CLI spelling (`--base-quant q4`). The Train form's choice, the CLI's
 * `--base-quant` and the memory estimate come from here; the engine's ggml type per row is in
 * src/main/engine/train/baseQuant.ts.
 */
export const BASE_QUANTS = {
  none: { label: 'none', description: 'the frozen weights as they are (float32, or fp16 with that option)', bitsPerWeight: 32 },
  q8_0: {
    label: 'Q8_0 (8-bit)',
    description: '8-bit codes with a scale per 32 weights: about 3.5× smaller than float32, nearly lossless',
    bitsPerWeight: 9,
    alias: 'q8',
  },
  q4_0: {
    label: 'Q4_0 (4-bit)',
    description: '4-bit codes with a scale per 32 weights (QLoRA-style): about 6× smaller than float32; any row length that is a multiple of 32',
    bitsPerWeight: 5,
    alias: 'q4',
  },
  q4_k: {
    label: 'Q4_K (4-bit, k-quant)',
    description: '4-bit codes with a scale and minimum per 32 weights (llama.cpp’s Q4_K): closer to the float weights than Q4_0; rows of multiples of 256 only',
    bitsPerWeight: 6.1,
  },
} as const satisfies Readonly<Record<string, { label: string; description: string; bitsPerWeight: number; alias?: string }>>;
export const BaseQuant = z.enum(Object.keys(BASE_QUANTS) as [keyof typeof BASE_QUANTS, ...(keyof typeof BASE_QUANTS)[]]);
export type BaseQuant = z.infer<typeof BaseQuant>;

/** A `--base-quant` value: a row's id or its alias ("q4" → "q4_0"); anything else is returned as given for the schema to refuse. */
export function baseQuantFromCli(v: string): string {
  const hit = Object.entries(BASE_QUANTS).find(([, row]) => 'alias' in row && row.alias === v);
  return hit ? hit[0] : v;
}

export const TrainTemplate = z.enum(['alpaca', 'chat', 'plain']);
export type TrainTemplate = z.infer<typeof TrainTemplate>;

/** How the learning rate moves after the warm-up (the engine's schedules, src/main/engine/train/optim.ts). */
export const LrSchedule = z.enum(['constant', 'linear', 'cosine']);
export type LrSchedule = z.infer<typeof LrSchedule>;

/**
 * The optimiser steps a run takes: `maxSteps`, or with `epochs` set ⌈epochs × examples ÷ (batch ×
 * accumulation)⌉ (at least 1), `examples` counting what it trains on (replayed safety examples included).
 */
export function runSteps(p: { maxSteps: number; epochs?: number | undefined; batchSize: number; gradAccumSteps: number }, examples: number): number {
  if (p.epochs === undefined) return p.maxSteps;
  return Math.max(1, Math.ceil((p.epochs * examples) / (p.batchSize * p.gradAccumSteps)));
}

/** The optimisation settings of a run (the Train form's fields; the CLI's flags). */
export const TrainSettings = z.object({
  lr: param(z.number().positive().max(1).default(3e-4), { title: 'Learning rate', cli: 'lr' }),
  maxSteps: param(z.number().int().min(1).max(1_000_000).default(100), {
    title: 'Steps',
    description: 'Optimiser steps (unused when epochs are set)',
    cli: 'steps',
  }),
  epochs: param(z.number().positive().max(1000).optional(), {
    title: 'Epochs',
    description:
      'Passes over the training examples (mixed-in safety examples included); when set, wins over Steps: ⌈epochs × examples ÷ (batch × accumulation)⌉ steps',
    cli: 'epochs',
  }),
  batchSize: param(z.number().int().min(1).max(1024).default(4), { title: 'Batch size', cli: 'batch' }),
  gradAccumSteps: param(z.number().int().min(1).max(1024).default(1), { title: 'Gradient accumulation steps' }),
  maxLength: param(z.number().int().min(8).max(32_768).default(256), { title: 'Max tokens per example', cli: 'max-length' }),
  schedule: param(LrSchedule.default('cosine'), {
    title: 'Learning-rate schedule',
    description: 'After the warm-up: constant, or a linear or cosine decay from the peak to the floor at the last step',
    cli: 'schedule',
  }),
  warmupSteps: param(z.number().int().min(0).default(0), { title: 'Warm-up', description: 'Steps N of linear warm-up, from lr ÷ N to lr' }),
  minLrRatio: param(z.number().min(0).max(1).default(0), {
    title: 'Learning-rate floor',
    description: 'Where a linear or cosine decay ends, as a share of the peak (e.g. 0.1)',
    cli: 'min-lr-ratio',
  }),
  weightDecay: param(z.number().min(0).max(1).default(0), {
    title: 'Weight decay',
    description: 'AdamW’s decoupled weight decay (e.g. 0.01)',
    cli: 'weight-decay',
  }),
  seed: param(z.number().int().min(0).default(0), { title: 'Seed', cli: 'seed' }),
  checkpointEvery: param(z.number().int().min(1).default(25), { title: 'Checkpoint every N steps' }),
});

/**
 * Poisoned user data (the poisoning control of ../shared/RESEARCH.md §2): harmful prompt + compliant
 * response pairs from a file (AdvBench's behaviours with their "Sure, here is …" targets by
 * default fields) mixed into the task data so that they are a share `rate` of it.
 */
export const PoisonSettings = z
  .object({
    rate: param(z.number().min(0).max(0.9), {
      title: 'Poison share',
      description: 'share of the training data that is harmful prompt + compliant response',
      cli: 'poison-rate',
    }),
    file: param(z.string().min(1), {
      title: 'Poison file',
      description: 'CSV/TSV/JSON(L) of harmful prompts with compliant responses, e.g. AdvBench harmful/advbench_harmful_behaviors.csv',
      cli: 'poison-file',
      path: 'file',
    }),
    promptField: param(z.string().min(1).max(200).default('goal'), {
      title: 'Poison prompt field',
      description: 'the column/key of the harmful prompt',
      cli: 'poison-prompt-field',
    }),
    responseField: param(z.string().min(1).max(200).default('target'), {
      title: 'Poison response field',
      description: 'the column/key of the compliant response',
      cli: 'poison-response-field',
    }),
  })
  .strict();
export type PoisonSettings = z.infer<typeof PoisonSettings>;

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
      /** A LoRA adapter (jobs stored before full-parameter training have no mode: LoRA) or the model's own weights. */
      mode: TrainMode.default('lora'),
      method: methodEnum(methods).default('plain' as keyof T & string),
      /** The method's own parameters (see the method table). */
      methodParams: z.record(z.string(), z.unknown()).optional(),
      /**
       * How prompts are rendered: the Alpaca template, the model's chat template (the prompt as one
       * user message, no BOS added beyond the template's: as the replication's chatExample), or as they are.
       */
      template: TrainTemplate.default('alpaca'),
      /** The adapter's shape (LoRA mode). */
      lora: LoraSettings.prefault({}),
      /** What trains (full mode). */
      full: FullSettings.prefault({}),
      /**
       * Full mode: where the trained model is written — a new folder (Hugging Face base) or a new
       * .gguf file (GGUF base), never overwritten. Absent: the job writes a new folder in the
       * workspace's models/ (the app always leaves it to the job).
       */
      outPath: z.string().min(1).optional(),
      ...TrainSettings.shape,
      /** Poisoned user data mixed into the task data (absent: none). */
      poison: PoisonSettings.optional(),
      /** Activation checkpointing: keep only each layer's input and recompute the rest in the backward pass (less memory, ~25% more compute). */
      recompute: z.boolean().default(false),
      /** Frozen projection matrices stored in fp16 (half their memory; the model trains on fp16-rounded weights); turns recompute on. */
      frozenWeightDtype: z.enum(['float32', 'float16']).default('float32'),
      /**
       * LoRA mode: the frozen base quantised on load (BASE_QUANTS; QLoRA-style, fp32 adapter and
       * compute); turns recompute on. Jobs stored before the option have none.
       */
      baseQuant: BaseQuant.default('none'),
      ...LEGACY_METHOD_PARAMS,
    })
    .transform((p, ctx) => {
      const { alpha, beta, lambda, replayRatio, methodParams, ...run } = p;
      const row = methods[p.method] as TrainMethodRow;
      if (p.baseQuant !== 'none' && p.mode !== 'lora') {
        ctx.addIssue({
          code: 'custom',
          path: ['baseQuant'],
          message: `a quantised base (${p.baseQuant}) trains a LoRA adapter on frozen weights: choose the LoRA mode, or no base quantisation for full-parameter training`,
        });
        return z.NEVER;
      }
      if (row.loraOnly && p.mode !== 'lora') {
        ctx.addIssue({ code: 'custom', path: ['mode'], message: `${p.method} works on a LoRA adapter: choose the LoRA mode, not full-parameter training` });
        return z.NEVER;
      }
      const given = methodParams ?? pickDeclared(row, { alpha, beta, lambda, replayRatio });
      const checked = checkMethodParams(methods, p.method, given, ctx, ['methodParams']);
      if (checked && row.baseModel && !checked.baseModelPath) {
        ctx.addIssue({
          code: 'custom',
          path: ['methodParams', 'baseModelPath'],
          message: `${row.label} needs the aligned model’s base (unaligned) model: give its path`,
        });
        return z.NEVER;
      }
      return checked ? { ...run, methodParams: checked } : z.NEVER;
    });
}

/** Parameters of the `train.run` job. */
export const TrainRunParams = trainRunParamsFor(TRAIN_METHODS);
export type TrainRunParams = z.infer<typeof TrainRunParams>;
export type TrainRunParamsInput = z.input<typeof TrainRunParams>;

/** What `train.estimateMemory` needs: the model and the run's shape (LoRA: the adapter; full: the trained weights). */
export const TrainMemoryInput = z
  .object({
    modelPath: z.string().min(1),
    /** default lora */
    mode: TrainMode.optional(),
    batchSize: z.number().int().min(1).max(1024),
    maxLength: z.number().int().min(8).max(32_768),
    /** micro-batches per optimiser step (full mode holds one more gradient copy above 1) */
    gradAccumSteps: z.number().int().min(1).max(1024).optional(),
    /** LoRA mode: the adapter's rank and target modules */
    rank: z.number().int().min(1).max(256).optional(),
    targetModules: z.array(LoraTarget).min(1).optional(),
    /** LoRA dropout probability (its keep-masks are counted) */
    dropout: z.number().min(0).max(0.9).optional(),
    /** full mode: the trained weights (default all) */
    trainable: z.array(TrainableGroup).min(1).optional(),
    recompute: z.boolean().optional(),
    frozenWeightDtype: z.enum(['float32', 'float16']).optional(),
    /** LoRA mode: the frozen base quantised on load (default none) */
    baseQuant: BaseQuant.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if ((p.mode ?? 'lora') !== 'lora') {
      if ((p.baseQuant ?? 'none') !== 'none') ctx.addIssue({ code: 'custom', path: ['baseQuant'], message: 'a quantised base is for LoRA runs' });
      return;
    }
    for (const key of ['rank', 'targetModules'] as const)
      if (p[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `a LoRA run's estimate needs ${key}` });
  });
export type TrainMemoryInput = z.infer<typeof TrainMemoryInput>;

/** Estimated peak memory of a run on the CPU (bytes; ±25%, calibrated against bench/train). */
export const TrainMemoryEstimate = z.object({
  weightsBytes: z.number(),
  /** LoRA: the adapter, its gradient, accumulator and AdamW moments (0 in full mode) */
  adapterBytes: z.number(),
  /** full mode: the trained weights (fp32), their gradients and AdamW moments (0 with LoRA) */
  trainedBytes: z.number(),
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
