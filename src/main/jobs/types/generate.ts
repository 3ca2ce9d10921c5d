import { GenerateParams, type GenerateResult } from '../../../shared/models';
import { defineJob, ENGINE_JOB_HEAP_MB, ENGINE_YOUNG_GENERATION_MB } from '../define';
import { engineCacheDir } from '../workspaceResources';

/**
 * One Playground reply: generation on the local engine in the job's worker thread, tokens
 * streamed to the UI as they come; cancelling stops generation and keeps the partial reply.
 */
export const generateJob = defineJob<GenerateParams, never, GenerateResult>({
  type: 'engine.generate',
  heavy: true,
  youngGenerationMb: ENGINE_YOUNG_GENERATION_MB,
  heapMb: ENGINE_JOB_HEAP_MB,
  params: GenerateParams,
  title: (p) => `Generate with ${p.modelPath.split(/[\\/]/).filter(Boolean).pop()}`,
  async run(p, ctx) {
    const { runGeneration } = await import('../../engine/session');
    let produced = 0;
    return runGeneration(p, {
      cacheDir: engineCacheDir(ctx.db),
      onStatus: (m) => ctx.progress(null, m),
      onText: (t) => {
        produced++;
        ctx.stream(t);
        ctx.progress(Math.min(1, produced / p.sampling.maxNewTokens), `${produced} tokens`);
      },
      shouldStop: ctx.cancelled,
    });
  },
  resume(p, _cp, ctx) {
    return this.run(p, ctx);
  },
});
