/**
 * The streaming merge driver: opens the inputs, checks that they are one architecture with the same
 * tensors and shapes, resolves every tensor's parameters and refuses bad values before anything is
 * written, then merges tensor by tensor — each tensor in chunks sized to a memory budget, so the
 * peak is a few chunks per thread, not a model — into the output writer, on the calling thread or
 * on worker threads (parallel.ts). Progress reports input bytes and an ETA; `shouldStop` cancels
 * between chunks, leaving nothing on disk.
 */
import { writeSync } from 'node:fs';
import { basename } from 'node:path';
import { sameRef, type MergeConfig, type MergeModelRef, type MergeRunResult } from '../../shared/merge';
import type { GgufExportPlan } from '../engine/gguf/export';
import { encodeGgufHeader, type GgufMetaInput } from '../engine/gguf/writer';
import { readGguf } from '../engine/gguf/reader';
import { ggufToHfName } from '../engine/gguf/weights';
import { BufferPool, chunkElements, runTask, type TensorTask } from './chunks';
import { DTYPE_BYTES, type FloatDtype } from './codec';
import { readRawGgufMetadata } from './gguf-meta';
import { lcm, openInput, refLabel, type MergeInput, type ModelShape } from './inputs';
import { MERGE_METHODS } from './methods';
import { createGgufWriter, createHfWriter, refuseExisting, type MergeWriter, type OutTensor, type WriteFn } from './outputs';
import { runParallel } from './parallel';
import { resolveTensorParams, type TensorParams } from './params';
import type { MergeMethodImpl } from './types';

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

export interface RunMergeOptions {
  onProgress?: (p: MergeProgress) => void;
  /** polled between chunks: true cancels the merge (MergeCancelled is thrown, nothing is left on disk) */
  shouldStop?: () => boolean;
  /** largest safetensors shard (default 5 GiB) */
  maxShardBytes?: number;
  /** memory for one tensor's chunk buffers (default 256 MiB); a larger tensor is streamed in several chunks */
  chunkBudgetBytes?: number;
  /** the merge's mergekit YAML, written into a folder output as mergekit_config.yml */
  mergeYaml?: string;
  /** the writers' write call (tests use one that fails like a full disk; single-threaded merges only) */
  writeFn?: WriteFn;
  /** tensors merged at once on worker threads (default 1: on the calling thread) */
  threads?: number;
}

export class MergeCancelled extends Error {
  constructor() {
    super('merge cancelled');
    this.name = 'MergeCancelled';
  }
}

/** What is compared between models: a merge needs the same architecture and sizes. */
const ARCH_FIELDS: (keyof ModelShape)[] = ['architecture', 'vocabSize', 'hiddenSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'intermediateSize', 'tieWordEmbeddings'];

function checkArchitectures(ref: MergeInput, others: MergeInput[]): void {
  for (const m of others) {
    if (m === ref) continue;
    for (const f of ARCH_FIELDS)
      if (m.shape[f] !== ref.shape[f])
        throw new Error(`cannot merge ${m.label} with ${ref.label}: ${f} is ${String(m.shape[f])} in one and ${String(ref.shape[f])} in the other (models must share an architecture and its sizes)`);
  }
}

/** One merged tensor of the plan (or a GGUF tensor copied unchanged from the reference). */
interface PlannedTensor {
  out: OutTensor;
  /** Hugging Face name; null for a raw copy */
  hfName: string | null;
  numel: number;
  params: TensorParams | null;
  align: number;
  /** input bytes it reads */
  bytes: number;
  /** raw copy: absolute offset and length in the reference GGUF */
  raw?: { offset: number; length: number };
}

const STORED: Record<string, FloatDtype> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };
const DTYPE: Record<string, FloatDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
/** llama.cpp's general.file_type for an all-F32 / F16 / BF16 model */
const GGUF_FILE_TYPE: Record<FloatDtype, number> = { F32: 0, F16: 1, BF16: 32 };

interface Plan {
  tensors: PlannedTensor[];
  writer: () => MergeWriter;
  format: 'hf' | 'gguf';
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
  const impl = MERGE_METHODS[config.method];
  const opened = new Map<string, MergeInput>();
  const open = (ref: MergeModelRef) => {
    const key = refLabel(ref);
    if (!opened.has(key)) opened.set(key, openInput(ref));
    return opened.get(key)!;
  };
  let writer: MergeWriter | null = null;
  try {
    const base = config.base ? open(config.base) : null;
    const models = config.models.map((m) => open(m.model));
    const contributors = impl.usesBase ? config.models.map((_, i) => i).filter((i) => !sameRef(config.models[i]!.model, config.base!)) : config.models.map((_, i) => i);
    const reference = base ?? models[0]!;
    const used = [...(impl.usesBase ? [base!] : []), ...contributors.map((i) => models[i]!)];
    checkArchitectures(reference, [...used, ...(base ? [base] : [])]);
    // a folder model written as GGUF: the engine's exporter gives its metadata (loaded only then: it pulls in the tokenizer libraries)
    const exporter = /\.gguf$/i.test(outPath) && reference.format === 'hf' ? await folderToGguf(reference.modelPath) : null;
    const plan = planOutput(config, impl, reference, used, contributors, outPath, opts, exporter);
    writer = plan.writer();
    const w = writer;
    const tasks: TensorTask[] = plan.tensors.map((t, i) => ({ hfName: t.hfName, numel: t.numel, params: t.params, align: t.align, bytes: t.bytes, ...(t.raw ? { raw: t.raw } : {}), target: w.targets[i]! }));
    const bytesTotal = tasks.reduce((s, t) => s + t.bytes, 0);
    let lastReport = 0;
    const report = (bytesDone: number, tensor: string, force = false) => {
      const now = performance.now();
      if (!force && now - lastReport < 200) return;
      lastReport = now;
      const elapsed = (now - t0) / 1000;
      const tensorsDone = Math.min(tasks.length, Math.floor(progressTensors(tasks, bytesDone)));
      opts.onProgress?.({ tensorsDone, tensorsTotal: tasks.length, tensor, bytesDone, bytesTotal, elapsedSeconds: elapsed, etaSeconds: bytesDone > 0 ? (elapsed * (bytesTotal - bytesDone)) / bytesDone : null });
    };
    const threads = Math.max(1, Math.min(opts.threads ?? 1, tasks.length));
    const slots = (impl.usesBase ? 1 : 0) + contributors.length;
    const chunkElems = chunkElements((opts.chunkBudgetBytes ?? 256 * 2 ** 20) / threads, slots);
    const baseRef = impl.usesBase ? config.base! : null;
    const modelRefs = contributors.map((i) => config.models[i]!.model);
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
      tasks.forEach((t, i) => {
        current = plan.tensors[i]!.out.name;
        report(bytesDone, current, true);
        runTask(t, ctx);
      });
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
function nameAt(plan: Plan, tasks: TensorTask[], bytes: number): string {
  const i = Math.min(tasks.length - 1, Math.floor(progressTensors(tasks, bytes)));
  return plan.tensors[i]?.out.name ?? '';
}

/** Per-tensor checks and parameters of one merged tensor. */
function planTensor(config: MergeConfig, impl: MergeMethodImpl, reference: MergeInput, used: MergeInput[], contributors: number[], hfName: string, out: OutTensor): PlannedTensor {
  const meta = reference.meta(hfName)!;
  let align = 1;
  let bytes = 0;
  for (const m of used) {
    const mm = m.meta(hfName);
    if (!mm) throw new Error(`tensor ${hfName} is missing from ${m.label} (it is in ${reference.label}): the models do not have the same tensors`);
    if (mm.shape.join(',') !== meta.shape.join(',')) throw new Error(`tensor ${hfName} has shape [${mm.shape.join(', ')}] in ${m.label} but [${meta.shape.join(', ')}] in ${reference.label}`);
    align = lcm(align, m.align(hfName));
    bytes += mm.bytes;
  }
  const params = resolveTensorParams(config, config.method, contributors, hfName, reference.shape.numLayers);
  impl.check?.(params, meta.numel, hfName);
  return { out, hfName, numel: meta.numel, params, align: lcm(align, out.headRows ? out.headRows * (out.shape[1] ?? 1) : 1), bytes };
}

/** Output dtype of a tensor: the config's (out_dtype, else dtype), else what the reference stores. */
function outputDtype(config: MergeConfig, stored: string): FloatDtype {
  const asked = config.outDtype ?? config.dtype;
  return asked ? DTYPE[asked]! : (STORED[stored] ?? 'F16');
}

/** The exporter's GGUF plan for a folder model (metadata from its config and tokenizer). */
async function folderToGguf(dir: string): Promise<(opts: { type: 'F32' | 'F16'; name: string }) => GgufExportPlan> {
  const [{ loadHfModel }, { ggufExportPlan }] = await Promise.all([import('../engine/hf/model'), import('../engine/gguf/export')]);
  const model = loadHfModel(dir);
  return (opts) => ggufExportPlan(model, opts);
}

function planOutput(config: MergeConfig, impl: MergeMethodImpl, reference: MergeInput, used: MergeInput[], contributors: number[], outPath: string, opts: RunMergeOptions, exporter: ((o: { type: 'F32' | 'F16'; name: string }) => GgufExportPlan) | null): Plan {
  const writeFn: WriteFn = opts.writeFn ?? ((fd, buf, off, len, pos) => writeSync(fd, buf, off, len, pos));
  const tensor = (hfName: string, out: OutTensor) => planTensor(config, impl, reference, used, contributors, hfName, out);
  const asGguf = /\.gguf$/i.test(outPath);
  if (!asGguf) {
    if (reference.format === 'gguf') throw new Error(`${reference.label} is a GGUF file, so the merged model is one too: give an output path ending in .gguf`);
    const tensors = reference.names().map((name) => {
      const meta = reference.meta(name)!;
      if (!STORED[meta.dtype]) throw new Error(`${reference.label}: tensor ${name} is stored as ${meta.dtype}; only float tensors can be merged`);
      return tensor(name, { name, shape: meta.shape, dtype: outputDtype(config, meta.dtype) });
    });
    return {
      tensors,
      format: 'hf',
      writer: () => createHfWriter(outPath, tensors.map((t) => t.out), { sourceDir: reference.modelPath, maxShardBytes: opts.maxShardBytes ?? 5 * 2 ** 30, mergeYaml: opts.mergeYaml, writeFn }),
    };
  }
  const c = reference.shape;
  const headRows = (hfName: string) => {
    const m = /self_attn\.(q|k)_proj\.weight$/.exec(hfName);
    return m ? c.headDim : undefined;
  };
  const name = `${config.method} merge of ${[...new Set(used.map((u) => basename(u.modelPath)))].join(', ')}`;
  if (reference.format === 'gguf') {
    const g = readGguf(reference.modelPath);
    const tensors: PlannedTensor[] = g.tensors.map((t) => {
      const hf = ggufToHfName(t.name);
      if (!hf || !reference.meta(hf)) return { out: { name: t.name, shape: t.dims.slice().reverse(), dtype: 'F32' }, hfName: null, numel: t.numElements, params: null, align: 1, bytes: t.byteLength, raw: { offset: t.fileOffset, length: t.byteLength } };
      const shape = t.dims.slice().reverse();
      const dtype = shape.length === 1 ? 'F32' : outputDtype(config, t.typeName);
      return tensor(hf, { name: t.name, shape, dtype, headRows: headRows(hf) });
    });
    const dtypes = new Set(tensors.filter((t) => t.out.shape.length > 1 && !t.raw).map((t) => t.out.dtype));
    const raw = readRawGgufMetadata(reference.modelPath)
      .filter((e) => e.key !== 'general.file_type' && e.key !== 'general.alignment' && e.key !== 'general.name')
      .map((e) => e.bytes);
    const meta: Record<string, GgufMetaInput> = { 'general.name': name };
    if (dtypes.size === 1) meta['general.file_type'] = { type: 'u32', value: GGUF_FILE_TYPE[[...dtypes][0]!] };
    return ggufPlan(outPath, tensors, meta, raw, g.alignment, writeFn, (t) => (t.raw ? rawType(g.tensors.find((x) => x.name === t.out.name)!.type) : t.out.dtype));
  }
  const asked = config.outDtype ?? config.dtype;
  const exportPlan = exporter!({ type: asked === 'float32' ? 'F32' : 'F16', name });
  const tensors = exportPlan.tensors.map((t) => {
    const dtype: FloatDtype = t.type === 'F32' && t.hfShape.length === 1 ? 'F32' : outputDtype(config, reference.meta(t.hfName)?.dtype ?? 'F16');
    return tensor(t.hfName, { name: t.name, shape: t.hfShape, dtype, headRows: headRows(t.hfName) });
  });
  const dtypes = new Set(tensors.filter((t) => t.out.shape.length > 1).map((t) => t.out.dtype));
  const meta = { ...exportPlan.metadata };
  meta['general.file_type'] = { type: 'u32', value: dtypes.size === 1 ? GGUF_FILE_TYPE[[...dtypes][0]!] : 1 };
  return ggufPlan(outPath, tensors, meta, [], 32, writeFn, (t) => t.out.dtype);
}

/** GGUF type of a tensor copied raw (the header declares it as stored). */
function rawType(code: number): 'F32' | 'F16' | 'BF16' | 'Q8_0' {
  const byCode: Record<number, 'F32' | 'F16' | 'BF16' | 'Q8_0'> = { 0: 'F32', 1: 'F16', 30: 'BF16', 8: 'Q8_0' };
  const t = byCode[code];
  if (!t) throw new Error(`cannot copy a GGUF tensor of type ${code} into the merged file`);
  return t;
}

function ggufPlan(outPath: string, tensors: PlannedTensor[], meta: Record<string, GgufMetaInput>, raw: Buffer[], alignment: number, writeFn: WriteFn, typeOf: (t: PlannedTensor) => 'F32' | 'F16' | 'BF16' | 'Q8_0'): Plan {
  return {
    tensors,
    format: 'gguf',
    writer: () => {
      const header = encodeGgufHeader(meta, tensors.map((t) => ({ name: t.out.name, dims: t.out.shape.slice().reverse(), type: typeOf(t) })), alignment, raw);
      return createGgufWriter(outPath, tensors.map((t) => t.out), { header: header.bytes, offsets: header.offsets, dataBytes: header.dataBytes, writeFn });
    },
  };
}
