/** EWC: a Fisher-weighted anchor to the aligned weights, the Fisher information estimated on the safety examples over the weights the run trains. */
import { estimateFisher, ewcTerm } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import { trainedWeightNames } from './trainedWeights';
import type { TrainMethodImpl } from './types';

export const ewc: TrainMethodImpl<TrainMethodParams<'ewc'>> = {
  async prepare(ctx, p) {
    ctx.progress('estimating the Fisher information on the safety examples');
    const fisher = await estimateFisher(ctx.model, ctx.safety, trainedWeightNames(ctx.model, ctx.run), { maxLength: ctx.run.maxLength, normalise: 'max' });
    return { terms: [ewcTerm({ fisher, lambda: p.lambda })] };
  },
};
