/** Plain LoRA fine-tuning: the task data only, no safety-preserving term. */
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const plain: TrainMethodImpl<TrainMethodParams<'plain'>> = {
  prepare: async () => ({ terms: [] }),
};
