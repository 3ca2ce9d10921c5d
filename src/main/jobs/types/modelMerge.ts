import { MergeModelParams, type MergeModelResult } from '../../../shared/models';
import { evaluatedModelName } from '../../../shared/naming';
import { defineJob, ENGINE_JOB_HEAP_MB, ENGINE_YOUNG_GENERATION_MB, type JobContext } from '../define';

/**
 * A LoRA adapter merged into its base model and written as a new model (a Hugging Face folder or a
 * GGUF file), tensor by tensor. The output appears only when complete; a cancelled or interrupted
 * export leaves nothing behind, and a resumed one starts again.
 */
export const modelMergeJob = defineJob<MergeModelParams, never, MergeModelResult>({
  type: 'model.merge',
  heavy: true,
  youngGenerationMb: ENGINE_YOUNG_GENERATION_MB,
  heapMb: ENGINE_JOB_HEAP_MB,
  params: MergeModelParams,
  title: (p, names) =>
    `Merge the adapter of ${evaluatedModelName(p.modelPath, { path: p.adapterPath, run: names.trainRunForAdapter(p.adapterPath) ?? null })} into its base`,
  run: (p, ctx) => merge(p, ctx),
  resume: (p, _cp, ctx) => merge(p, ctx),
});

async function merge(p: MergeModelParams, ctx: JobContext<never>): Promise<MergeModelResult> {
  const { exportMergedModel } = await import('../../engine/mergeExport');
  ctx.progress(0, 'merging');
  const r = exportMergedModel(p.modelPath, p.adapterPath, p.outPath, {
    shouldStop: ctx.cancelled,
    onProgress: (done, total, tensor) => ctx.progress(total ? done / total : null, tensor ? `${done}/${total} tensors · ${tensor}` : 'written'),
  });
  if (r.cancelled) ctx.throwIfCancelled();
  ctx.log(`wrote ${r.modelPath} (${(r.bytes / 2 ** 20).toFixed(1)} MiB of weights)`);
  return { modelPath: r.modelPath, format: r.format, tensors: r.tensors, bytes: r.bytes };
}
