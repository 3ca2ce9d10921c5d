/**
 * Model merging (issue 16), a domain core: mergekit's methods (linear, task arithmetic, TIES, DARE,
 * SLERP) and MagMax over Hugging Face folders, GGUF files and PEFT adapters applied on the fly,
 * streamed tensor by tensor into a new folder or GGUF. No db, jobs, app or cli imports.
 *
 * ```ts
 * const config = readMergeYaml('merge.yml');                 // or a MergeConfig built in code
 * const plan = await planMerge(config, '/out/merged');       // sizes only: output bytes, peak memory, free disk
 * const r = await runMerge(config, '/out/merged', { onProgress, shouldStop, mergeYaml: toMergeYaml(config) });
 * ```
 */
export { runMerge, MergeCancelled, type MergeProgress, type RunMergeOptions } from './driver';
export { planMerge, defaultMergeThreads, type PlanOptions } from './plan';
export { readMergeYaml, parseMergeYaml, toMergeYaml, MergeConfigError } from './config';
export { MERGE_METHODS } from './methods';
export type { MergeMethodImpl, TensorInputs } from './types';
