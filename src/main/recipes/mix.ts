/**
 * The training mix a recipe trains on: the task data, plus — for replay — safety examples of the
 * saved selection at the run's ratio, drawn as the workbench's trainer draws them (every selected
 * example once by default; `replayRatio` safety examples per task example otherwise, by seeded
 * shuffled passes over the selection), all shuffled together with the run's seed like the Select
 * tab's export.
 */
import { mulberry32, shuffleInPlace } from '../select/common';
import { buildTrainingMix, type MixItem, type PromptResponse } from '../select/export';
import type { RecipeMethod, RecipeParams } from '../../shared/recipes';
import { trainMethodRow } from '../../shared/train';

/**
 * Safety examples per task example of a run whose method mixes the selection in (its row's
 * `safety: 'replay'`), from its parameters (undefined: every
 * selected example once — also for a method exported as replay, which has no ratio of its own).
 */
export function replayRatio(p: Pick<RecipeParams, 'method' | 'methodParams'>): number | undefined {
  return trainMethodRow(p.method).safety === 'replay' ? (p.methodParams.replayRatio as number | undefined) : undefined;
}

/** How many safety examples replay mixes in: the selection once, or round(ratio × task examples). */
export function replayCount(task: number, safety: number, ratio?: number): number {
  return ratio === undefined ? safety : Math.round(ratio * task);
}

/** `n` examples from `pool` by shuffled passes (each pass uses every example once before any repeats). */
export function drawReplay<T>(pool: readonly T[], n: number, seed: number): T[] {
  if (n > 0 && pool.length === 0) throw new Error('replay needs safety examples: the selection is empty');
  const rng = mulberry32(seed);
  const out: T[] = [];
  while (out.length < n) {
    const order = shuffleInPlace(Int32Array.from(pool.keys()), rng);
    for (const i of order.subarray(0, n - out.length)) out.push(pool[i]!);
  }
  return out;
}

export function recipeMix(
  method: RecipeMethod,
  task: readonly PromptResponse[],
  safety: readonly PromptResponse[],
  opts: { seed: number; replayRatio?: number },
): MixItem[] {
  const replayed = method === 'replay' ? drawReplay(safety, replayCount(task.length, safety.length, opts.replayRatio), opts.seed) : [];
  return buildTrainingMix(task, replayed, { seed: opts.seed });
}
