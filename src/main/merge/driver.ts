/**
 * The streaming merge driver: runs a checked plan (plan.ts: the inputs, their tensors and shapes,
 * every tensor's parameters, the output layout), merging tensor by tensor — each tensor in chunks
 * sized to a memory budget, so the peak is a few chunks per thread, not a model — into the output
 * writer, on the calling thread or on worker threads (parallel.ts). Progress reports input bytes and
 * an ETA; `shouldStop` cancels between chunks, leaving nothing on disk.
 */
import type { MergeConfig, MergeModelRef, MergeRunResult } from '../../shared/merge';
import { BufferPool, runTask, type TensorTask } from './chunks';
import { DTYPE_BYTES } from './codec';
import { openInput, refLabel, type MergeInput } from './inputs';
import { refuseExisting, type MergeWriter } from './outputs';
import { runParallel } from './parallel';
import { buildMergePlan, type MergePlan, type PlanOptions } from './plan';

export interface MergeProgress {
  tensorsDone: number;
  tensorsTotal: number;
  /** the tensor being merged ('' when done) */
  tensor: string;
  /** bytes of input tensor data consumed so far / in all */
  bytesDone: number;
  bytesTotal: number;
  elapsedSeconds: number;
  /** null until there is something to extrapolate from */
  etaSeconds: number | null;
}

export interface RunMergeOptions extends PlanOptions {
  onProgress?: (p: MergeProgress) => void;
  /** polled between chunks: true cancels the merge (MergeCancelled is thrown, nothing is left on disk) */
  shouldStop?: () => boolean;
}

export class MergeCancelled extends Error {
  constructor() {
    super('merge cancelled');
    this.name = 'MergeCancelled';
  }
}

/**
 * Merge `config` into `outPath` (a new folder, or a new .gguf file). Throws naming the model,
 * tensor and value for anything it cannot merge; nothing is written before the plan is checked.
 * With `threads` > 1 tensors are merged on worker threads; otherwise on the calling thread
 * (blocking it: call it from a worker).
 */
export async function runMerge(config: MergeConfig, outPath: string, opts: RunMergeOptions = {}): Promise<MergeRunResult> {
  const t0 = performance.now();
  refuseExisting(outPath);
  const opened = new Map<string, MergeInput>();
  const open = (ref: MergeModelRef) => {
    const key = refLabel(ref);
    if (!opened.has(key)) opened.set(key, openInput(ref));
    return opened.get(key)!;
  };
  let writer: MergeWriter | null = null;
  try {
    const plan = await buildMergePlan(config, outPath, opts, open);
    writer = plan.writer();
    const w = writer;
    const tasks: TensorTask[] = plan.tensors.map((t, i) => ({
      hfName: t.hfName,
      numel: t.numel,
      params: t.params,
      align: t.align,
      bytes: t.bytes,
      ...(t.raw ? { raw: t.raw } : {}),
      target: w.targets[i]!,
    }));
    const bytesTotal = tasks.reduce((s, t) => s + t.bytes, 0);
    let lastReport = Number.NEGATIVE_INFINITY; // the first report goes out at once
    const report = (bytesDone: number, tensor: string, force = false) => {
      const now = performance.now();
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      const elapsed = (now - t0) / 1000;
      const tensorsDone = Math.min(tasks.length, Math.floor(progressTensors(tasks, bytesDone)));
      opts.onProgress?.({
        tensorsDone,
        tensorsTotal: tasks.length,
        tensor,
        bytesDone,
        bytesTotal,
        elapsedSeconds: elapsed,
        etaSeconds: bytesDone > 0 ? (elapsed * (bytesTotal - bytesDone)) / bytesDone : null,
      });
    };
    const { impl, threads, chunkElems, baseRef, reference } = plan;
    const modelRefs = plan.contributors.map((i) => config.models[i]!.model);
    if (threads > 1) {
      for (const m of opened.values()) m.close();
      opened.clear();
      await runParallel({ method: config.method, base: baseRef, models: modelRefs, referencePath: reference.modelPath, tasks, chunkElems }, threads, {
        onBytes: (b) => report(b, nameAt(plan, tasks, b)),
        shouldStop: () => opts.shouldStop?.() ?? false,
        cancelled: () => new MergeCancelled(),
      });
    } else {
      let bytesDone = 0;
      let current = '';
      const ctx = {
        impl,
        base: baseRef ? open(baseRef) : null,
        models: modelRefs.map(open),
        referencePath: reference.modelPath,
        pool: new BufferPool(chunkElems),
        stop: () => {
          if (opts.shouldStop?.()) throw new MergeCancelled();
        },
        writeFn: opts.writeFn,
        onBytes: (b: number) => report((bytesDone += b), current),
      };
      try {
        tasks.forEach((t, i) => {
          current = plan.tensors[i]!.out.name;
          report(bytesDone, current, true);
          runTask(t, ctx);
        });
      } finally {
        ctx.pool.release(); // a long-lived thread does not keep the merge's buffers
      }
    }
    if (opts.shouldStop?.()) throw new MergeCancelled();
    writer.finish();
    writer = null;
    report(bytesTotal, '', true);
    return {
      outPath,
      format: plan.format,
      method: config.method,
      tensors: tasks.length,
      bytesRead: bytesTotal,
      bytesWritten: plan.tensors.reduce((s, t) => s + (t.raw ? t.raw.length : t.numel * DTYPE_BYTES[t.out.dtype]), 0),
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (e) {
    writer?.abort();
    throw e;
  } finally {
    for (const m of opened.values()) m.close();
  }
}

/** Tensors (fractional) covered by `bytes` of input, in plan order. */
function progressTensors(tasks: TensorTask[], bytes: number): number {
  let n = 0;
  for (const t of tasks) {
    if (bytes < t.bytes) return n + (t.bytes ? bytes / t.bytes : 0);
    bytes -= t.bytes;
    n++;
  }
  return n;
}

/** The tensor being merged once `bytes` are done, as progress names it (threads finish out of order: approximate). */
function nameAt(plan: MergePlan, tasks: TensorTask[], bytes: number): string {
  const i = Math.min(tasks.length - 1, Math.floor(progressTensors(tasks, bytes)));
  return plan.tensors[i]?.out.name ?? '';
}
