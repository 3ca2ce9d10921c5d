/**
 * The base weights a run changes, by Hugging Face name: the LoRA targets' matrices, or in
 * full-parameter training the trained weights themselves (EWC estimates its Fisher over these).
 */
import type { LoadedModel } from '../engine';
import { resolveLoraTargets, resolveTrainableWeights } from '../engine/train';
import type { MethodContext } from './types';

export function trainedWeightNames(model: LoadedModel, run: MethodContext['run']): string[] {
  if (run.full) return resolveTrainableWeights(model.config, run.full).map((w) => w.name);
  return resolveLoraTargets(model.config, run.lora).map((t) => t.weight);
}
