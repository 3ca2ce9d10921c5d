/**
 * The training methods: one row of facts per method (label, one line, its parameters with defaults
 * and ranges, how it uses the saved safety selection, whether it records the aligned model's
 * logits). The `train.run` job schema, the `safetune train` options and the Train form are derived
 * from this table; the implementations are src/main/train-methods (one file per method).
 */
import { z } from 'zod';
import { NO_PARAMS, methodEnum, param, type MethodRow, type MethodTable } from './table';

export interface TrainMethodRow extends MethodRow {
  /**
   * How the method uses a saved selection of safety examples: 'replay' mixes them into the task
   * data, 'term' uses them in its own loss term (so they must keep response tokens); absent: not at all.
   */
  safety?: 'replay' | 'term';
  /** Records the aligned model's top-k logits before training: on the safety examples or on the task data. */
  alignedLogits?: 'safety' | 'task';
  /** Works on a LoRA adapter only (not with full-parameter training). */
  loraOnly?: boolean;
  /** Reads the aligned model's base (unaligned) model, named by its `baseModelPath` parameter (required). */
  baseModel?: boolean;
}

const lambda = (def: number, description: string) => param(z.number().min(0).default(def), { title: 'Strength λ', description, cli: 'lambda' });
const topK = param(z.number().int().min(1).max(64).default(16), {
  title: 'Distilled logits per token (k)',
  description: 'The aligned model’s top-k logits kept per position',
  cli: 'top-k',
});
const bufferBatch = param(z.number().int().min(1).max(256).default(4), {
  title: 'Buffer examples per step',
  description: 'Safety examples drawn from the buffer for the term at each step',
  cli: 'buffer-batch',
});
const derAlpha = param(z.number().min(0).default(0.5), {
  title: 'Logit-matching weight α',
  description: 'Weight of matching the aligned model’s logits on the buffer',
  cli: 'der-alpha',
});

/** The training methods, in the order the form and the CLI list them. */
export const TRAIN_METHODS = {
  plain: {
    label: 'Plain LoRA fine-tuning',
    description: 'Task data only: no safety-preserving term',
    params: NO_PARAMS,
  },
  replay: {
    label: 'Replay (SafeInstr)',
    description:
      'Mix the saved safety selection into the task data; with a ratio this is SafeInstr (Bianchi et al.: a few percent of safety examples, e.g. 0.03)',
    params: z.object({
      replayRatio: param(z.number().gt(0).max(10).optional(), {
        title: 'Safety examples per task example',
        description: 'Empty: every selected example once; SafeInstr mixes in a few percent (e.g. 0.03)',
        cli: 'replay-ratio',
      }),
      shuffleMix: param(z.boolean().default(false), {
        title: 'Shuffle the mix once',
        description:
          'Shuffle task and safety examples together with the run’s seed before training, as the Select tab’s exported training mix is; off: safety examples follow the task data (the trainer reshuffles every epoch either way)',
        cli: 'shuffle-mix',
      }),
    }),
    safety: 'replay',
    reference: 'https://arxiv.org/abs/2309.07875',
  },
  der: {
    label: 'DER',
    description: 'Match the aligned model’s logits on the safety buffer (Dark Experience Replay)',
    params: z.object({ alpha: derAlpha, topK, bufferBatch }),
    safety: 'term',
    alignedLogits: 'safety',
    reference: 'https://arxiv.org/abs/2004.07211',
  },
  'der++': {
    label: 'DER++',
    description: 'DER plus cross-entropy on the buffer’s own responses',
    params: z.object({
      alpha: derAlpha,
      beta: param(z.number().min(0).default(0.5), {
        title: 'Buffer cross-entropy weight β',
        description: 'Weight of cross-entropy on the buffer’s responses (0: DER)',
        cli: 'der-beta',
      }),
      topK,
      bufferBatch,
    }),
    safety: 'term',
    alignedLogits: 'safety',
    reference: 'https://arxiv.org/abs/2004.07211',
  },
  lwf: {
    label: 'LwF',
    description: 'Distil the aligned model on your own task data (Learning without Forgetting)',
    params: z.object({ lambda: lambda(1, 'Weight of the distillation term'), topK }),
    alignedLogits: 'task',
    reference: 'https://arxiv.org/abs/1606.09282',
  },
  ewc: {
    label: 'EWC',
    description: 'Fisher-weighted anchor to the aligned weights, Fisher from the safety examples',
    params: z.object({ lambda: lambda(1000, 'Weight of the Fisher-weighted anchor') }),
    safety: 'term',
    reference: 'https://arxiv.org/abs/1612.00796',
  },
  l2sp: {
    label: 'L2-SP',
    description: 'Plain L2 anchor to the aligned weights',
    params: z.object({ lambda: lambda(0.1, 'Weight of the L2 anchor') }),
    reference: 'https://arxiv.org/abs/1802.01483',
  },
  agem: {
    label: 'A-GEM',
    description: 'Project task gradients that conflict with the safety memory’s gradient',
    params: NO_PARAMS,
    safety: 'term',
    reference: 'https://arxiv.org/abs/1812.00420',
  },
  lisa: {
    label: 'Lisa',
    description:
      'Alternate steps on the saved safety selection (alignment) and on your task data, each phase pulled toward the weights the other one ended with (proximal term ρ/2 ‖w − w_other‖²)',
    params: z.object({
      rho: param(z.number().min(0).default(1), {
        title: 'Proximal strength ρ',
        description: 'Pull toward the weights the previous phase ended with (0: plain alternation)',
        cli: 'rho',
      }),
      alignSteps: param(z.number().int().min(1).max(100_000).default(10), {
        title: 'Alignment steps per cycle',
        description: 'Steps on the safety examples at the start of each cycle',
        cli: 'align-steps',
      }),
      userSteps: param(z.number().int().min(1).max(100_000).default(90), {
        title: 'Task steps per cycle',
        description: 'Steps on your task data after each alignment phase',
        cli: 'user-steps',
      }),
    }),
    safety: 'term',
    loraOnly: true,
    reference: 'https://arxiv.org/abs/2405.18641',
  },
  safelora: {
    label: 'SafeLoRA',
    description:
      'After LoRA training, project each layer’s update onto the alignment subspace (aligned − base weights) where their similarity is under the threshold; needs the aligned model’s base model',
    params: z.object({
      // required (the run's schema says so when it is missing): optional here so the row parses to its defaults
      baseModelPath: param(z.string().trim().min(1).optional(), {
        title: 'Base (unaligned) model',
        description:
          'The model the aligned one was aligned from (e.g. Llama-2-7b for Llama-2-7b-chat), with the same weight shapes: a Hugging Face folder or a GGUF file',
        cli: 'base-model',
        path: 'folder',
      }),
      threshold: param(z.number().min(0).max(1).default(0.5), {
        title: 'Similarity threshold',
        description: 'A layer is projected when the cosine similarity of its projected and original update is under this (the paper’s default 0.5)',
        cli: 'safelora-threshold',
      }),
    }),
    loraOnly: true,
    baseModel: true,
    reference: 'https://arxiv.org/abs/2405.16833',
  },
} as const satisfies MethodTable<TrainMethodRow>;

export type TrainMethodTable = MethodTable<TrainMethodRow>;
export const TrainMethod = methodEnum(TRAIN_METHODS);
export type TrainMethod = z.infer<typeof TrainMethod>;
/** A training method's parameters after parsing (defaults filled in). */
export type TrainMethodParams<K extends TrainMethod> = z.output<(typeof TRAIN_METHODS)[K]['params']>;

/** What a training method needs before it can run, in words (the Train form lists them). */
export function trainMethodNeeds(row: TrainMethodRow): string[] {
  const needs: string[] = [];
  if (row.safety === 'replay') needs.push('a saved selection of safety examples, mixed into the task data');
  if (row.safety === 'term') needs.push('a saved selection of safety examples whose responses survive truncation');
  if (row.baseModel) needs.push('the aligned model’s base (unaligned) model, to take the alignment direction from');
  if (row.loraOnly) needs.push('the LoRA adapter mode');
  if (row.alignedLogits)
    needs.push(`the aligned model’s logits on the ${row.alignedLogits === 'safety' ? 'safety examples' : 'task data'} (recorded before the first step)`);
  return needs;
}

/** A shipped method's row, as the general row type (its optional facts readable). */
export function trainMethodRow(id: TrainMethod): TrainMethodRow {
  return TRAIN_METHODS[id];
}
