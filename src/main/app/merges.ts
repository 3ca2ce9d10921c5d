/**
 * Single merges started from the app (the Merge tab): `merge.start` queues a `merge.run` into a new
 * folder of the workspace's models/ in the chosen format, marked to be added to the Models list;
 * `followMergeRuns` queues the `model.inspect` that adds it when the merge succeeds (sweeps add
 * their own points). Also the preview of a merge's sizes (`merge.plan`), the mergekit YAML of a
 * form (export) and a YAML read back (import).
 */
import { dirname, join } from 'node:path';
import type { Job } from '../../shared/domain';
import { AppError } from '../../shared/errors';
import { MergeRunParams, type MergeConfig, type MergePlanSummary, type MergeRunRequest } from '../../shared/merge';
import { confineJob, confineMergeReads } from '../access/jobs';
import type { AccessPolicy } from '../access/policy';
import { MergeConfigError, parseMergeYaml, toMergeYaml } from '../merge/config';
import type { Services } from './types';

/**
 * Queues a merge whose output the app places: a new folder of models/ holding `merged.gguf` or the
 * `merged` Hugging Face folder (default: the base model's format), added to the Models list once written.
 */
export function startMerge(
  s: Services,
  projectId: number | null,
  run: Omit<MergeRunRequest, 'outPath'>,
  format: 'hf' | 'gguf' | undefined,
  access: AccessPolicy,
): Job {
  if (projectId !== null) s.projects.get(projectId);
  const spec = confineJob({ type: 'merge.run', params: { ...run, addToModels: true } }, access, 'start');
  const params = spec.params as MergeRunParams;
  const outPath = format ? join(dirname(params.outPath), format === 'gguf' ? 'merged.gguf' : 'merged') : params.outPath;
  return s.jobs.enqueue('merge.run', MergeRunParams.parse({ ...params, outPath }), projectId);
}

/**
 * The sizes of a merge as `startMerge` would queue it (output bytes, peak memory, free disk in
 * models/), read from the models' headers in a one-shot worker; nothing is created.
 */
export function previewMerge(
  s: Services,
  run: Omit<MergeRunRequest, 'outPath'>,
  format: 'hf' | 'gguf' | undefined,
  access: AccessPolicy,
): Promise<MergePlanSummary> {
  confineMergeReads(run.config, access);
  const from = (run.config.base ?? run.config.models[0]!.model).modelPath;
  const gguf = format ? format === 'gguf' : /\.gguf$/i.test(from);
  const outPath = join(access.modelsDir, 'merge-preview', gguf ? 'merged.gguf' : 'merged');
  return s.jobs.runTask('merge.plan', { config: run.config, outPath, maxShardBytes: run.maxShardBytes, threads: run.threads });
}

/** When a merge marked `addToModels` succeeds, queues the `model.inspect` that lists it. Returns the unsubscribe function. */
export function followMergeRuns(s: Services): () => void {
  return s.events.on('job.updated', (job) => {
    if (job.type !== 'merge.run' || job.state !== 'succeeded') return;
    if (!(job.params as Partial<MergeRunParams>).addToModels) return;
    const outPath = (job.result as { outPath?: unknown } | null)?.outPath;
    if (typeof outPath !== 'string' || s.sweeps.modelIdOf(outPath) !== null) return;
    try {
      s.jobs.enqueue('model.inspect', { path: outPath }, job.projectId);
    } catch (e) {
      // the runner is closing: the merged model stays on disk and can be added from the Models page
      if (!(e instanceof AppError)) console.error(`merge ${job.id}: cannot add ${outPath} to the Models list:`, e);
    }
  });
}

/** The mergekit YAML of a merge config (what the Merge tab exports). */
export function mergeYamlOf(config: MergeConfig): { yaml: string } {
  return { yaml: toMergeYaml(config) };
}

/** A mergekit YAML read back into a config (relative paths against the workspace); errors name the line and field. */
export function mergeConfigOf(s: Services, yaml: string, file: string): MergeConfig {
  try {
    return parseMergeYaml(yaml, file, s.workspace);
  } catch (e) {
    if (e instanceof MergeConfigError) throw new AppError('invalid_input', e.message);
    throw e;
  }
}
