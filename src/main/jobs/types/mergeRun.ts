import { basename } from 'node:path';
import { MERGE_METHOD_INFO, MergeRunParams, type MergeRunResult } from '../../../shared/merge';
import { defineJob, type JobContext } from '../define';

/**
 * A model merge (linear, task arithmetic, TIES, DARE, SLERP, MagMax) streamed tensor by tensor into
 * a new Hugging Face folder or GGUF file. Progress counts input bytes and gives an ETA. The output
 * appears only when complete: a cancelled, failed or interrupted merge leaves nothing, and a
 * resumed one starts again (a merge is I/O-bound and cheap to redo; no per-tensor checkpoint).
 */
export const mergeRunJob = defineJob<MergeRunParams, never, MergeRunResult>({
  type: 'merge.run',
  heavy: true,
  params: MergeRunParams,
  title: (p) => p.name ?? `${MERGE_METHOD_INFO[p.config.method].label} merge → ${basename(p.outPath)}`,
  run: (p, ctx) => merge(p, ctx),
  resume: (p, _cp, ctx) => merge(p, ctx),
});

const mib = (b: number) => `${(b / 2 ** 20).toFixed(b < 2 ** 30 ? 1 : 0)} MiB`;

async function merge(p: MergeRunParams, ctx: JobContext<never>): Promise<MergeRunResult> {
  const { runMerge, toMergeYaml, MergeCancelled, defaultMergeThreads } = await import('../../merge');
  ctx.progress(0, 'opening the models');
  try {
    const r = await runMerge(p.config, p.outPath, {
      shouldStop: ctx.cancelled,
      threads: p.threads ?? defaultMergeThreads(),
      maxShardBytes: p.maxShardBytes,
      mergeYaml: toMergeYaml(p.config),
      onProgress: (e) =>
        ctx.progress(
          e.bytesTotal ? e.bytesDone / e.bytesTotal : null,
          e.tensor
            ? `${e.tensorsDone}/${e.tensorsTotal} tensors · ${mib(e.bytesDone)} of ${mib(e.bytesTotal)} read${e.etaSeconds !== null ? ` · ${Math.ceil(e.etaSeconds)} s left` : ''} · ${e.tensor}`
            : 'written',
        ),
    });
    ctx.log(`wrote ${r.outPath}: ${r.tensors} tensors, ${mib(r.bytesWritten)} from ${mib(r.bytesRead)} read in ${r.seconds.toFixed(1)} s`);
    return r;
  } catch (e) {
    if (e instanceof MergeCancelled) ctx.throwIfCancelled();
    throw e;
  }
}
