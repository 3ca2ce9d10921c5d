/** DER++: DER's logit matching plus β × cross-entropy on the buffer's own responses. */
import { derTerm, recordTeacherLogits } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const derPlusPlus: TrainMethodImpl<TrainMethodParams<'der++'>> = {
  async prepare(ctx, p) {
    ctx.progress('recording the aligned model’s logits');
    const teacher = await ctx.withAlignedModel((aligned) => recordTeacherLogits(aligned, ctx.safety, p.topK));
    return {
      terms: [derTerm({ buffer: ctx.safety, teacher, alpha: p.alpha, beta: p.beta, batchSize: p.bufferBatch, maxLength: ctx.run.maxLength })],
      distill: { k: p.topK, mode: 'mse' },
    };
  },
};
