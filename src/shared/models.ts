import { z } from 'zod';

/** What the Models list and `safetune model info` show about a model. */
export const ModelInfo = z.object({
  name: z.string(),
  path: z.string(),
  format: z.enum(['gguf', 'hf']),
  architecture: z.string(),
  parameterCount: z.number(),
  storageDtypes: z.record(z.string(), z.number()),
  computeDtype: z.string(),
  contextLength: z.number(),
  vocabSize: z.number(),
  layers: z.number(),
  hiddenSize: z.number(),
  heads: z.number(),
  kvHeads: z.number(),
  headDim: z.number(),
  tiedEmbeddings: z.boolean(),
  hasChatTemplate: z.boolean(),
  executionProvider: z.object({
    name: z.string(),
    listed: z.array(z.object({ name: z.string(), bundled: z.boolean() })),
    unavailable: z.array(z.object({ name: z.string(), reason: z.string() })),
    notice: z.string().nullable(),
  }),
  memory: z.object({
    weightBytes: z.number(),
    kvCacheBytesPerSequence: z.number(),
    inferenceBytes: z.number(),
    loraTrainingBytes: z.number(),
    assumptions: z.string(),
  }),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

export const RegisteredModel = z.object({
  id: z.number().int().positive(),
  path: z.string(),
  info: ModelInfo,
  addedAt: z.string(),
});
export type RegisteredModel = z.infer<typeof RegisteredModel>;

export const Sampling = z
  .object({
    maxNewTokens: z.number().int().min(1).max(8192).default(128),
    temperature: z.number().min(0).max(5).default(0),
    topK: z.number().int().min(0).max(1000).optional(),
    topP: z.number().gt(0).max(1).optional(),
    repetitionPenalty: z.number().min(0.5).max(3).optional(),
    seed: z.number().int().min(0).optional(),
    stop: z.array(z.string().min(1)).max(16).optional(),
  })
  .strict();
export type Sampling = z.infer<typeof Sampling>;

/** One chat turn: what the Playground sends, what generators and chat templates take. */
export const ChatMessage = z.object({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(200_000) });
export type ChatMessage = z.infer<typeof ChatMessage>;

/** Parameters of the `engine.generate` job (the Playground runs one per reply). */
export const GenerateParams = z.object({
  modelPath: z.string().min(1),
  adapterPath: z.string().min(1).optional(),
  /** Chat messages rendered with the model's chat template, or a raw prompt. */
  messages: z.array(ChatMessage).min(1).optional(),
  prompt: z.string().max(200_000).optional(),
  sampling: Sampling.default({ maxNewTokens: 128, temperature: 0 }),
});
export type GenerateParams = z.infer<typeof GenerateParams>;

export const GenerateResult = z.object({
  text: z.string(),
  finishReason: z.enum(['eos', 'stop', 'length', 'cancelled']),
  promptTokens: z.number().int(),
  completionTokens: z.number().int(),
  tokensPerSecond: z.number(),
  executionProvider: z.string(),
});
export type GenerateResult = z.infer<typeof GenerateResult>;

/** Parameters of the `model.merge` job: a LoRA adapter merged into its base model, written as a new model. */
export const MergeModelParams = z
  .object({
    modelPath: z.string().min(1),
    adapterPath: z.string().min(1),
    /** a new folder for a Hugging Face model, a new .gguf file for a GGUF model (never overwritten) */
    outPath: z.string().min(1),
  })
  .strict();
export type MergeModelParams = z.infer<typeof MergeModelParams>;

/**
 * `model.merge` as the app starts it (jobs.start): the app chooses the output — a new folder in the
 * workspace's models/ folder — so a caller leaves `outPath` out (the CLI passes its own `--out`).
 */
export const MergeModelRequest = MergeModelParams.partial({ outPath: true });

export const MergeModelResult = z.object({
  modelPath: z.string(),
  format: z.enum(['gguf', 'hf']),
  tensors: z.number().int(),
  bytes: z.number(),
});
export type MergeModelResult = z.infer<typeof MergeModelResult>;
