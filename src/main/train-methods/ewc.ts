/** EWC: a Fisher-weighted anchor to the aligned weights, the Fisher information estimated on the safety examples. */
import { estimateFisher, ewcTerm, resolveLoraTargets } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const ewc: TrainMethodImpl<TrainMethodParams<'ewc'>> = {
  async prepare(ctx, p) {
    ctx.progress('estimating the Fisher information on the safety examples');
    const targets = resolveLoraTargets(ctx.model.config, ctx.run.lora);
    const fisher = await estimateFisher(ctx.model, ctx.safety, targets.map((t) => t.weight), { maxLength: ctx.run.maxLength, normalise: 'max' });
    return { terms: [ewcTerm({ fisher, lambda: p.lambda })] };
  },
};
