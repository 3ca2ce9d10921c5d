/**
 * What a training method's implementation is: given the model, the tokenised task and safety
 * examples and the run's settings, it returns the examples to train on and the continual-learning
 * terms (and distillation inputs) the trainer adds to the loss. Built on the engine's term
 * constructors (src/main/engine/train/continual); no db, jobs or app.
 */
import type { DecoderRuntime, LoadedModel } from '../engine';
import type { DistillSpec, FullTrainingConfig, LoraConfig, LoraParams, TrainExample, TrainingTerm } from '../engine/train';

/** What a method's preparation sees. */
export interface MethodContext {
  model: LoadedModel;
  /** Tokenised task examples (response tokens are the targets). */
  task: TrainExample[];
  /** Tokenised examples of the saved safety selection (empty without one). */
  safety: TrainExample[];
  /**
   * The run's settings: `full` set means full-parameter training (the model's own weights train,
   * `lora` is unused); otherwise a LoRA adapter with `lora`. trainedWeightNames(model, run) names
   * the base weights either one changes.
   */
  run: { seed: number; maxLength: number; lora: LoraConfig; full?: FullTrainingConfig };
  /** Runs `fn` with the aligned model (the base weights, no adapter) opened for inference, and releases it. */
  withAlignedModel<R>(fn: (aligned: DecoderRuntime) => Promise<R>): Promise<R>;
  /** What the preparation is doing now, for the job's progress line. */
  progress(message: string): void;
}

/** What a method adds to plain training (LoRA or full-parameter). */
export interface MethodSetup {
  /** The examples to train on, when the method changes them (replay mixes the safety examples in); default: the task examples. */
  task?: TrainExample[];
  terms: TrainingTerm[];
  /** The distillation inputs the graph needs (DER, DER++, LwF). */
  distill?: DistillSpec;
  /**
   * LoRA runs: the adapter to write in place of the trained one (SafeLoRA's projection), with what
   * was done: `summary` recorded in the job's result as `methodResult`, `message` in its log.
   */
  finishAdapter?: (adapter: LoraParams) => { params: LoraParams; summary: Record<string, unknown>; message: string };
}

/** One training method: `params` are its row's parameters, parsed (defaults filled in). */
export interface TrainMethodImpl<P> {
  prepare(ctx: MethodContext, params: P): Promise<MethodSetup>;
}
