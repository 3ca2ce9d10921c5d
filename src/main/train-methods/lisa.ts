/** Lisa: alternating alignment (the saved safety examples) and task phases with a proximal pull toward the other phase's weights. */
import { lisaTerm } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const lisa: TrainMethodImpl<TrainMethodParams<'lisa'>> = {
  async prepare(ctx, p) {
    if (ctx.run.full) throw new Error('Lisa keeps a copy of the trained weights as its anchor: it runs with a LoRA adapter, not full-parameter training');
    return {
      terms: [
        lisaTerm({
          alignment: ctx.safety,
          alignSteps: p.alignSteps,
          userSteps: p.userSteps,
          rho: p.rho,
          batchSize: ctx.run.batchSize,
          maxLength: ctx.run.maxLength,
        }),
      ],
    };
  },
};
