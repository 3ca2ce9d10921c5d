/** Replay: the saved safety selection mixed into the task data (every example once, or a ratio per task example). */
import { mixReplay } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const replay: TrainMethodImpl<TrainMethodParams<'replay'>> = {
  async prepare(ctx, p) {
    const seed = ctx.run.seed;
    const mix = mixReplay(ctx.task, ctx.safety, p.replayRatio ? { ratio: p.replayRatio, seed } : { count: ctx.safety.length, seed });
    return { task: mix.examples, terms: [] };
  },
};
