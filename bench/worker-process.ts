/**
 * How the benchmarks run a measured engine: a worker script bundled to plain JS (as the app ships
 * it: no TypeScript loader in the measured process) and started with the V8 young-generation cap
 * the app's engine jobs run with, so peak RSS is what a job would see.
 */
import { buildSync } from 'esbuild';
import { ENGINE_YOUNG_GENERATION_MB } from '../src/main/jobs/define';

/** Bundle `entry` into `outfile` (native and data-file packages stay external). */
export function bundleWorker(entry: string, outfile: string): void {
  buildSync({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outfile,
    external: ['onnxruntime-node', 'node-llama-cpp', '@huggingface/tokenizers', '@huggingface/jinja'],
    logLevel: 'error',
  });
}

/** Node flags equal to the engine jobs' worker limit: ENGINE_YOUNG_GENERATION_MB (3 MB) is 1 MB semi-spaces; it affects only JS heap memory. */
export const ENGINE_JOB_NODE_FLAGS = [`--max-semi-space-size=${ENGINE_YOUNG_GENERATION_MB / 3}`];
