/** LwF: distil the aligned model on the task data itself (λ × KL to its top-k logits). */
import { lwfTerm, recordTeacherLogits } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const lwf: TrainMethodImpl<TrainMethodParams<'lwf'>> = {
  async prepare(ctx, p) {
    ctx.progress('recording the aligned model’s logits');
    const teacher = await ctx.withAlignedModel((aligned) => recordTeacherLogits(aligned, ctx.task, p.topK));
    return { terms: [lwfTerm({ teacher, weight: p.lambda })], distill: { k: p.topK, mode: 'kl' } };
  },
};
