import { isAbsolute } from 'node:path';
import { z } from 'zod';
import type { RegisteredModel } from '../../../shared/models';
import { defineJob } from '../define';
import { registerModel } from '../registerModel';

export const ModelInspectParams = z.object({ path: z.string().min(1).refine(isAbsolute, 'path must be absolute') });
type Params = z.infer<typeof ModelInspectParams>;

/**
 * Adds a model to the Models list: reads its config, tokenizer and weight index (not the weights),
 * checks the architecture and shapes, and records what the Models list shows. Anything it cannot
 * run fails the job with the file and the reason (a failure that is not resumed: the same file
 * would fail the same way). Headers and tokenizers are small: a 1 GB heap cap is ample.
 */
export const modelInspectJob = defineJob<Params, never, RegisteredModel>({
  type: 'model.inspect',
  heavy: false,
  heapMb: 1024,
  params: ModelInspectParams,
  title: (p) => `Inspect model ${p.path.split(/[\\/]/).filter(Boolean).pop()}`,
  async run(p, ctx) {
    ctx.progress(null, 'reading config, tokenizer and weight index');
    return registerModel(ctx.db, p.path);
  },
  resume(p, _cp, ctx) {
    return this.run(p, ctx);
  },
});
