/** L2-SP: a plain L2 anchor (λ × ‖W_eff − W_aligned‖²) to the aligned weights. */
import { l2spTerm } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const l2sp: TrainMethodImpl<TrainMethodParams<'l2sp'>> = {
  prepare: async (_ctx, p) => ({ terms: [l2spTerm({ lambda: p.lambda })] }),
};
