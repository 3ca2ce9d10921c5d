import { z } from 'zod';

export const TrainMethod = z.enum(['plain', 'replay', 'der', 'der++', 'lwf', 'ewc', 'l2sp', 'agem']);
export type TrainMethod = z.infer<typeof TrainMethod>;

export const TRAIN_METHOD_LABELS: Record<TrainMethod, string> = {
  plain: 'Plain LoRA fine-tuning',
  replay: 'Replay (mix the safety selection into the task data)',
  der: 'DER (match the aligned model’s logits on the safety buffer)',
  'der++': 'DER++ (DER + cross-entropy on the buffer)',
  lwf: 'LwF (distil the aligned model on your own data)',
  ewc: 'EWC (Fisher-weighted anchor to the aligned weights)',
  l2sp: 'L2-SP (anchor to the aligned weights)',
  agem: 'A-GEM (project task gradients that conflict with the safety memory)',
};

/** Parameters of the `train.run` job. */
export const TrainRunParams = z.object({
  projectId: z.number().int().positive(),
  name: z.string().trim().min(1).max(120).optional(),
  modelPath: z.string().min(1),
  /** Task data sets to fine-tune on (default: every task data set of the project). */
  taskDatasetIds: z.array(z.number().int().positive()).optional(),
  /** A saved selection of safety examples: replayed, or used as the DER buffer / EWC / A-GEM memory. */
  selectionId: z.number().int().positive().optional(),
  method: TrainMethod.default('plain'),
  /** How prompts are rendered: the Alpaca template, the model's chat template, or as they are. */
  template: z.enum(['alpaca', 'chat', 'plain']).default('alpaca'),
  lora: z
    .object({
      rank: z.number().int().min(1).max(256).default(8),
      alpha: z.number().positive().default(16),
      dropout: z.number().min(0).max(0.9).default(0.05),
      targetModules: z.array(z.enum(['q', 'k', 'v', 'o', 'gate', 'up', 'down'])).min(1).default(['q', 'v']),
    })
    .default({ rank: 8, alpha: 16, dropout: 0.05, targetModules: ['q', 'v'] }),
  lr: z.number().positive().max(1).default(3e-4),
  maxSteps: z.number().int().min(1).max(1_000_000).default(100),
  batchSize: z.number().int().min(1).max(1024).default(4),
  gradAccumSteps: z.number().int().min(1).max(1024).default(1),
  maxLength: z.number().int().min(8).max(32_768).default(256),
  /** Activation checkpointing: keep only each layer's input and recompute the rest in the backward pass (less memory, ~25% more compute). */
  recompute: z.boolean().default(false),
  /** Frozen projection matrices stored in fp16 (half their memory; the model trains on fp16-rounded weights); turns recompute on. */
  frozenWeightDtype: z.enum(['float32', 'float16']).default('float32'),
  warmupSteps: z.number().int().min(0).default(0),
  seed: z.number().int().min(0).default(0),
  checkpointEvery: z.number().int().min(1).default(25),
  /** DER: weight of logit matching; DER++ adds beta × CE on the buffer. */
  alpha: z.number().min(0).default(0.5),
  beta: z.number().min(0).default(0.5),
  /** EWC / L2-SP strength; LwF weight. */
  lambda: z.number().min(0).optional(),
  /** Replay: safety examples per task example (default: every selected example once). */
  replayRatio: z.number().gt(0).max(10).optional(),
});
export type TrainRunParams = z.infer<typeof TrainRunParams>;

/** What `train.estimateMemory` needs: the model and the run's shape. */
export const TrainMemoryInput = z
  .object({
    modelPath: z.string().min(1),
    batchSize: z.number().int().min(1).max(1024),
    maxLength: z.number().int().min(8).max(32_768),
    rank: z.number().int().min(1).max(256),
    targetModules: z.array(z.enum(['q', 'k', 'v', 'o', 'gate', 'up', 'down'])).min(1),
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
  loss: z.number(),
  taskLoss: z.number(),
  lr: z.number(),
  gradNorm: z.number(),
  tokensPerSecond: z.number(),
});
export type TrainMetric = z.infer<typeof TrainMetric>;
