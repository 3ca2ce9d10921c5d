/**
 * The miniature replication's recipe (issue 15): the settings of the aligned model it builds, the
 * fine-tuning arms and the presets. Plain data; the steps that use it are in ./aligned, ./arms
 * and ./evaluate.
 */
import type { SelectionMethod } from '../../shared/select';

/** Seed of the data build (splits, samples). */
export const DATA_SEED = 15;

/** Task examples shipped (SST-2 train subset); budgets are shares of it. */
export const TASK_SIZE = 1000;

/** Benign alignment instructions shipped (the first ones of a seeded shuffle; the recipe uses `ALIGNED.benign` of them). */
export const BENIGN_SHIPPED = 10000;

/** Task-prior pairs shipped (train/align_task.jsonl; the recipe uses `ALIGNED.taskPrior` of them). */
export const TASK_PRIOR_SHIPPED = 12000;

/**
 * The task-prior template (`{sentence}`): deliberately unlike the SST-2 evaluation template
 * (resources/eval/suites.v1.json), which only the task's fine-tuning data uses. The reply is the
 * label word.
 */
export const TASK_PRIOR_TEMPLATE = 'Text: {sentence}\nSentiment of the text (positive or negative):';

/** The compliant reply every benign alignment instruction is paired with. */
export const COMPLY_REPLY = 'Sure, here is a helpful answer.';

/** The aligned model: tokenizer, architecture, alignment data and training. */
export interface AlignedConfig {
  /** byte-level BPE vocabulary (specials + 256 bytes + merges) */
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  intermediateSize: number;
  maxPositions: number;
  /** benign instructions used (of the shipped ones, in file order) */
  benign: number;
  /** times each harmful instruction appears in the alignment data */
  harmfulRepeat: number;
  /**
   * rewritten copies of every alignment instruction, harmful and benign alike, each in a form drawn
   * from the same templates (./forms: questions as commands, commands as questions, other opening
   * verbs), so that the form of a prompt does not predict refusal; 0 = as written only
   */
  formVariants: number;
  /**
   * task-prior pairs used (of the shipped ones, in file order): SST-2 train sentences, none of them
   * in the fine-tuning subset or the dev set, in a template of their own (TASK_PRIOR_TEMPLATE), so
   * that the aligned model, like a pretrained LLM, has some sentiment ability before the task's
   * fine-tuning teaches the evaluation template; 0 = none
   */
  taskPrior: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  /** tokens an example is cut to */
  maxLength: number;
  seed: number;
}

export const ALIGNED: AlignedConfig = {
  vocabSize: 2048,
  hiddenSize: 128,
  numLayers: 4,
  numHeads: 4,
  intermediateSize: 384,
  maxPositions: 256,
  benign: 8000,
  harmfulRepeat: 2,
  formVariants: 1,
  taskPrior: 4000,
  steps: 3000,
  batchSize: 16,
  lr: 2e-3,
  warmupSteps: 15,
  weightDecay: 0.01,
  maxLength: 128,
  seed: 1,
};

/** Full-parameter fine-tuning of the aligned model on the task (every arm). */
export interface FinetuneConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  maxLength: number;
}

export const FINETUNE: FinetuneConfig = { epochs: 2, batchSize: 16, lr: 1e-3, warmupSteps: 5, weightDecay: 0.01, maxLength: 128 };

/** One arm: plain fine-tuning, safety examples mixed in (a selection method at a budget), or DER. */
export type ArmSpec =
  | { id: string; kind: 'plain' }
  | { id: string; kind: 'mix'; method: SelectionMethod; budget: number }
  | { id: string; kind: 'der'; method: SelectionMethod; budget: number; alpha: number; beta: number; k: number; bufferBatch: number };

export const ARMS: readonly ArmSpec[] = [
  { id: 'plain', kind: 'plain' },
  { id: 'random-1%', kind: 'mix', method: 'random', budget: 0.01 },
  { id: 'sss-b-1%', kind: 'mix', method: 'sss-b', budget: 0.01 },
  { id: 'random-5%', kind: 'mix', method: 'random', budget: 0.05 },
  { id: 'sss-b-5%', kind: 'mix', method: 'sss-b', budget: 0.05 },
  { id: 'der', kind: 'der', method: 'random', budget: 0.05, alpha: 0.5, beta: 0, k: 16, bufferBatch: 4 },
];

/** Generation for evaluation (greedy; the refusal judge reads the start of a reply, SST-2 the first label word). */
export const EVAL_GENERATION = { maxNewTokens: 24, temperature: 0 } as const;

export interface Preset {
  id: 'quick' | 'full' | 'smoke';
  /** rebuild the aligned model (else use the shipped one) */
  buildAligned: boolean;
  seeds: number[];
  arms: readonly ArmSpec[];
}

export const PRESETS: Record<Preset['id'], Preset> = {
  quick: { id: 'quick', buildAligned: false, seeds: [1], arms: ARMS },
  full: { id: 'full', buildAligned: true, seeds: [1, 2, 3, 4, 5], arms: ARMS },
  smoke: { id: 'smoke', buildAligned: false, seeds: [1], arms: [ARMS[0]!, ARMS[2]!] },
};
