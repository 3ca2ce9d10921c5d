import { basename } from 'node:path';
import { TrainPreflightParams, type TrainPreflightResult } from '../../../shared/train';
import { defineJob } from '../define';
import { lengthProfile, trainingRecords } from './trainExamples';

/**
 * Before a fine-tuning run: the token lengths of the examples it would train on (the task data
 * and the safety selection, rendered with its template and tokenised with the model's tokenizer;
 * no weights are read), from which the Train tab counts, for any max tokens, how many examples
 * keep their response, and suggests one. A light job: tokenising runs off the main process.
 */
export const trainPreflightJob = defineJob<TrainPreflightParams, never, TrainPreflightResult>({
  type: 'train.preflight',
  heavy: false,
  params: TrainPreflightParams,
  title: (p) => `Check training data for ${basename(p.modelPath)}`,
  async run(p, ctx) {
    ctx.progress(null, 'reading the tokenizer');
    const { loadModel } = await import('../../engine');
    const model = loadModel(p.modelPath);
    const { task, safety } = trainingRecords(ctx.db, p);
    ctx.progress(null, `tokenising ${task.length + safety.length} examples`);
    return {
      modelPath: p.modelPath,
      contextLength: model.config.maxPositions,
      task: await lengthProfile(model, p.template, task, ctx.throwIfCancelled),
      safety: p.selectionId ? await lengthProfile(model, p.template, safety, ctx.throwIfCancelled) : null,
    };
  },
  resume(p, _cp, ctx) {
    return this.run(p, ctx);
  },
});
