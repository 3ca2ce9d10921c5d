/**
 * Recipes for distributed trainers: a run's settings and training mix exported as a folder that
 * LLaMA-Factory or Axolotl trains from on a cluster (DeepSpeed ZeRO-2/3), and what each tool can
 * and cannot run of the workbench's safety-preserving methods.
 */
import { z } from 'zod';
import { checkMethodParams } from './methods/table';
import { TRAIN_METHODS, TrainMethod, TrainRunParams, TrainSettings } from './train';

export const RecipeTool = z.enum(['llamafactory', 'axolotl']);
export type RecipeTool = z.infer<typeof RecipeTool>;

export const RECIPE_TOOL_LABELS: Record<RecipeTool, string> = {
  llamafactory: 'LLaMA-Factory',
  axolotl: 'Axolotl',
};

/** The methods a recipe can run: the others are refused, or exported as these when acknowledged. */
export const RecipeMethod = z.enum(['plain', 'replay']);
export type RecipeMethod = z.infer<typeof RecipeMethod>;

/**
 * Why a tool cannot run a method (null: it can). Replay is data mixing, which both tools run as a
 * mixed data set; neither has a loss term, regulariser or gradient projection of the continual-
 * learning methods (checked in their documented configuration schemas: LLaMA-Factory's hparams
 * dataclasses, Axolotl's config schema).
 */
export const RECIPE_METHOD_GAPS: Record<RecipeTool, Record<TrainMethod, string | null>> = {
  llamafactory: {
    plain: null,
    replay: null,
    der: 'LLaMA-Factory has no DER term (matching the aligned model’s logits on a replay buffer)',
    'der++': 'LLaMA-Factory has no DER++ term (DER’s logit matching plus cross-entropy on the buffer)',
    lwf: 'LLaMA-Factory has no LwF term (distilling the aligned model on the task data)',
    ewc: 'LLaMA-Factory has no EWC penalty (a Fisher-weighted pull toward the aligned weights)',
    l2sp: 'LLaMA-Factory has no L2-SP penalty (its weight_decay pulls toward zero, not toward the aligned weights)',
    agem: 'LLaMA-Factory has no A-GEM (projecting task gradients that conflict with a safety memory)',
    lisa: 'LLaMA-Factory has no Lisa (alternating alignment and task phases with a proximal pull between them)',
    safelora: 'LLaMA-Factory has no SafeLoRA projection (projecting the trained adapter onto the aligned − base weight difference)',
  },
  axolotl: {
    plain: null,
    replay: null,
    der: 'Axolotl has no DER term (its knowledge-distillation plugin trains on teacher log-probs stored in the data set, not on a replay buffer against the aligned model)',
    'der++': 'Axolotl has no DER++ term (DER’s logit matching plus cross-entropy on the buffer)',
    lwf: 'Axolotl has no LwF term (its knowledge-distillation plugin needs the aligned model’s log-probs precomputed into the data set, which this export does not do)',
    ewc: 'Axolotl has no EWC penalty (a Fisher-weighted pull toward the aligned weights)',
    l2sp: 'Axolotl has no L2-SP penalty (its weight_decay pulls toward zero, not toward the aligned weights)',
    agem: 'Axolotl has no A-GEM (projecting task gradients that conflict with a safety memory)',
    lisa: 'Axolotl has no Lisa (alternating alignment and task phases with a proximal pull between them)',
    safelora: 'Axolotl has no SafeLoRA projection (projecting the trained adapter onto the aligned − base weight difference)',
  },
};

/**
 * The optimisation settings a recipe takes: the run's, less checkpointing (the recipe saves four
 * checkpoints a run) and the schedule's shape and weight decay (the tools' own defaults apply);
 * epochs are the recipe's own field below.
 */
export const RecipeSettings = TrainSettings.omit({ checkpointEvery: true, epochs: true, schedule: true, minLrRatio: true, weightDecay: true });

/**
 * Parameters of a recipe export: the Train tab's run settings (the same fields as `train.run`,
 * the method's parameters checked against the training-method table), the tool, and the model as
 * the cluster names it.
 */
export const RecipeParams = TrainRunParams.in
  .pick({
    projectId: true,
    name: true,
    taskDatasetIds: true,
    selectionId: true,
    method: true,
    methodParams: true,
    template: true,
    lora: true,
    baseQuant: true,
  })
  .extend(RecipeSettings.shape)
  .extend({
    tool: RecipeTool,
    /** The base model as the cluster loads it: a Hugging Face Hub id or a path on the cluster (never read here). */
    model: z.string().trim().min(1).max(500),
    /** Train for this many passes over the mix instead of `maxSteps` optimiser steps. */
    epochs: z.number().positive().max(1000).optional(),
    /** The DeepSpeed ZeRO stage the recipe launches with (the folder holds both configs). */
    zeroStage: z.union([z.literal(2), z.literal(3)]).default(2),
    /** Mixed precision on the cluster's GPUs. */
    precision: z.enum(['bf16', 'fp16', 'fp32']).default('bf16'),
    /** With the chat template: the tool's own template name (e.g. llama3, qwen); default the tokenizer's chat template. */
    chatTemplate: z
      .string()
      .regex(/^[A-Za-z0-9][\w.-]*$/, 'a template name: letters, digits, ".", "_" and "-"')
      .max(80)
      .optional(),
    /** Export a method the tool lacks as replay (with a selection) or plain LoRA, acknowledging the change. */
    allowMethodDowngrade: z.boolean().default(false),
  })
  .strict()
  .transform((p, ctx) => {
    const methodParams = checkMethodParams(TRAIN_METHODS, p.method, p.methodParams, ctx, ['methodParams']);
    return methodParams ? { ...p, methodParams } : z.NEVER;
  });
export type RecipeParams = z.infer<typeof RecipeParams>;

export const RecipeResult = z.object({
  /** The new folder in the workspace's exports/ holding the recipe. */
  folder: z.string(),
  tool: RecipeTool,
  /** File names inside the folder. */
  files: z.array(z.string()),
  /** The method the recipe runs. */
  method: RecipeMethod,
  requestedMethod: TrainMethod,
  /** True when the requested method was exported as `method` under allowMethodDowngrade. */
  downgraded: z.boolean(),
  /** Rows of the exported training mix: task examples, safety examples mixed in, all. */
  examples: z.object({ task: z.number().int(), safety: z.number().int(), total: z.number().int() }),
  /** The command that starts training, run inside the folder. */
  launch: z.string(),
  /** What differs from a workbench run with these settings, and what to check before launching. */
  notes: z.array(z.string()),
});
export type RecipeResult = z.infer<typeof RecipeResult>;
