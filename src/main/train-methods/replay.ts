/**
 * Replay: the saved safety selection mixed into the task data (every example once, or a ratio per
 * task example), optionally shuffled together once with the run's seed as buildTrainingMix does.
 */
import { mixReplay } from '../engine/train';
import { trainingMixOrder } from '../select/export';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const replay: TrainMethodImpl<TrainMethodParams<'replay'>> = {
  async prepare(ctx, p) {
    const seed = ctx.run.seed;
    const mix = mixReplay(ctx.task, ctx.safety, p.replayRatio ? { ratio: p.replayRatio, seed } : { count: ctx.safety.length, seed });
    const examples = p.shuffleMix ? Array.from(trainingMixOrder(mix.examples.length, seed), (i) => mix.examples[i]!) : mix.examples;
    return { task: examples, terms: [] };
  },
};
