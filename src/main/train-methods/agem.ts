/** A-GEM: task gradients that conflict with the safety memory's gradient are projected away from it. */
import { agemTerm } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const agem: TrainMethodImpl<TrainMethodParams<'agem'>> = {
  prepare: async (ctx) => ({ terms: [agemTerm({ reference: ctx.safety, maxLength: ctx.run.maxLength })] }),
};
