/**
 * The merge plan: which tensors a merge reads and writes (names, shapes, dtypes, per-tensor
 * parameters checked), where every output byte goes (shard headers, GGUF header, copied files),
 * and the memory its chunked reads take — all from the inputs' headers, before anything is written.
 * `runMerge` executes a plan; `planMerge` returns its sizes for a preview (output size, peak memory,
 * free disk) without writing.
 */
import { statfsSync, existsSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname } from 'node:path';
import { sameRef, type MergeConfig, type MergeModelRef, type MergePlanSummary } from '../../shared/merge';
import type { GgufExportPlan } from '../engine/gguf/export';
import { readGguf } from '../engine/gguf/reader';
import { encodeGgufHeader, type GgufMetaInput } from '../engine/gguf/writer';
import { ggufToHfName } from '../engine/gguf/weights';
import { chunkElements } from './chunks';
import { DTYPE_BYTES, type FloatDtype } from './codec';
import { readRawGgufMetadata } from './ggufMeta';
import { lcm, openInput, refLabel, type MergeInput, type ModelShape } from './inputs';
import { MERGE_METHODS } from './methods';
import { createGgufWriter, createHfWriter, hfLayoutBytes, layoutHfFolder, type MergeWriter, type OutTensor, type WriteFn } from './outputs';
import { resolveTensorParams, type TensorParams } from './params';
import type { MergeMethodImpl } from './types';

export interface PlanOptions {
  /** largest safetensors shard (default 5 GiB) */
  maxShardBytes?: number | undefined;
  /** memory for the chunk buffers of all threads (default 256 MiB); a larger tensor is streamed in several chunks */
  chunkBudgetBytes?: number | undefined;
  /** the merge's mergekit YAML, written into a folder output as mergekit_config.yml */
  mergeYaml?: string | undefined;
  /** the writers' write call (tests use one that fails like a full disk) */
  writeFn?: WriteFn | undefined;
  /** tensors merged at once on worker threads (default 1) */
  threads?: number | undefined;
}

/** Tensors merged at once when the caller does not say: the machine's cores, at most 4. */
export function defaultMergeThreads(): number {
  return Math.min(4, availableParallelism());
}

/** Default memory for the chunk buffers of all threads. */
export const DEFAULT_CHUNK_BUDGET = 256 * 2 ** 20;
/** What a Node process holds besides the merge's buffers, and each worker thread on top (measured by bench:merge: ~75 MiB, ~45 MiB). */
const PROCESS_BYTES = 80 * 2 ** 20;
const WORKER_BYTES = 45 * 2 ** 20;

/** One merged tensor of the plan (or a GGUF tensor copied unchanged from the reference). */
export interface PlannedTensor {
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

/** A checked merge, ready to run: its inputs (open), tensors, output writer and sizes. */
export interface MergePlan {
  impl: MergeMethodImpl;
  /** the model the output's names, config and tokenizer come from */
  reference: MergeInput;
  /** the base (null when the method takes none) and the contributors' indexes into config.models */
  baseRef: MergeModelRef | null;
  contributors: number[];
  tensors: PlannedTensor[];
  format: 'hf' | 'gguf';
  writer: () => MergeWriter;
  /** the bytes the output takes once written (every file) */
  outputBytes: number;
  threads: number;
  /** elements per chunk buffer (each thread has one per input, and a mask) */
  chunkElems: number;
  summary: MergePlanSummary;
}

/** Opens each model once (a model named twice is one input). */
export type InputOpener = (ref: MergeModelRef) => MergeInput;

/** What is compared between models: a merge needs the same architecture and sizes. */
const ARCH_FIELDS: (keyof ModelShape)[] = [
  'architecture',
  'vocabSize',
  'hiddenSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'headDim',
  'intermediateSize',
  'tieWordEmbeddings',
];

function checkArchitectures(ref: MergeInput, others: MergeInput[]): void {
  for (const m of others) {
    if (m === ref) continue;
    for (const f of ARCH_FIELDS)
      if (m.shape[f] !== ref.shape[f])
        throw new Error(
          `cannot merge ${m.label} with ${ref.label}: ${f} is ${String(m.shape[f])} in one and ${String(ref.shape[f])} in the other (models must share an architecture and its sizes)`,
        );
  }
}

const STORED: Record<string, FloatDtype> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };
const DTYPE: Record<string, FloatDtype> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };
/** llama.cpp's general.file_type for an all-F32 / F16 / BF16 model */
const GGUF_FILE_TYPE: Record<FloatDtype, number> = { F32: 0, F16: 1, BF16: 32 };

/**
 * Plan merging `config` into `outPath` (a new folder, or a new .gguf file): opens the inputs with
 * `open`, checks that they are one architecture with the same tensors and shapes, resolves and
 * checks every tensor's parameters, and lays out the output. Throws naming the model, tensor and
 * value for anything it cannot merge. Reads headers only; writes nothing.
 */
export async function buildMergePlan(config: MergeConfig, outPath: string, opts: PlanOptions, open: InputOpener): Promise<MergePlan> {
  const impl = MERGE_METHODS[config.method];
  const base = config.base ? open(config.base) : null;
  const models = config.models.map((m) => open(m.model));
  const contributors = impl.usesBase
    ? config.models.map((_, i) => i).filter((i) => !sameRef(config.models[i]!.model, config.base!))
    : config.models.map((_, i) => i);
  const reference = base ?? models[0]!;
  const used = [...(impl.usesBase ? [base!] : []), ...contributors.map((i) => models[i]!)];
  checkArchitectures(reference, [...used, ...(base ? [base] : [])]);
  // a folder model written as GGUF: the engine's exporter gives its metadata (loaded only then: it pulls in the tokenizer libraries)
  const exporter = /\.gguf$/i.test(outPath) && reference.format === 'hf' ? await folderToGguf(reference.modelPath) : null;
  const out = planOutput(config, impl, reference, used, contributors, outPath, opts, exporter);
  const threads = Math.max(1, Math.min(opts.threads ?? 1, out.tensors.length));
  const slots = used.length;
  const chunkElems = chunkElements((opts.chunkBudgetBytes ?? DEFAULT_CHUNK_BUDGET) / threads, slots);
  const bytesRead = out.tensors.reduce((s, t) => s + t.bytes, 0);
  const merged = out.tensors.filter((t) => !t.raw);
  const largest = merged.reduce((m, t) => Math.max(m, t.numel), 0);
  const bufferBytes = threads * bufferBytesPerThread(merged, chunkElems, slots);
  // each thread opens the inputs: a LoRA adapter is held in memory by each
  const residentBytes = threads * used.reduce((s, m) => s + m.residentBytes(), 0);
  const summary: MergePlanSummary = {
    format: out.format,
    tensors: out.tensors.length,
    bytesRead,
    outputBytes: out.outputBytes,
    largestTensorBytes: merged.reduce((m, t) => Math.max(m, t.numel * DTYPE_BYTES[t.out.dtype]), 0),
    largestTensorElements: largest,
    threads,
    bufferBytes,
    peakMemoryBytes: PROCESS_BYTES + (threads > 1 ? threads * WORKER_BYTES : 0) + bufferBytes + residentBytes,
    freeBytes: freeDiskBytes(outPath),
  };
  return { impl, reference, baseRef: impl.usesBase ? config.base! : null, contributors, ...out, threads, chunkElems, summary };
}

/**
 * The sizes of merging `config` into `outPath` (output bytes, peak memory, free disk where it is
 * written), for a preview before the merge starts. Reads the inputs' headers only.
 */
export async function planMerge(config: MergeConfig, outPath: string, opts: PlanOptions = {}): Promise<MergePlanSummary> {
  const opened = new Map<string, MergeInput>();
  try {
    const plan = await buildMergePlan(config, outPath, opts, (ref) => {
      const key = refLabel(ref);
      if (!opened.has(key)) opened.set(key, openInput(ref));
      return opened.get(key)!;
    });
    return plan.summary;
  } finally {
    for (const m of opened.values()) m.close();
  }
}

/**
 * Bytes one thread's buffers reach (chunks.ts and the readers): per input a float32 chunk, a mask
 * byte, the shared read buffer and the encode buffer (up to 4 bytes a value each), and a Q/K
 * permutation copy — for the largest chunk any tensor needs.
 */
function bufferBytesPerThread(tensors: PlannedTensor[], chunkElems: number, slots: number): number {
  let chunk = 0;
  for (const t of tensors) chunk = Math.max(chunk, Math.min(t.numel, Math.max(t.align, Math.floor(chunkElems / t.align) * t.align)));
  return chunk * (4 * slots + 9) + (tensors.some((t) => t.out.headRows) ? 4 * chunk : 0);
}

/** Free bytes of the file system the output goes to (its nearest existing folder); null when it cannot be read. */
function freeDiskBytes(outPath: string): number | null {
  let dir = dirname(outPath);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  try {
    const s = statfsSync(dir);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return null;
  }
}

/** Per-tensor checks and parameters of one merged tensor. */
function planTensor(
  config: MergeConfig,
  impl: MergeMethodImpl,
  reference: MergeInput,
  used: MergeInput[],
  contributors: number[],
  hfName: string,
  out: OutTensor,
): PlannedTensor {
  const meta = reference.meta(hfName)!;
  let align = 1;
  let bytes = 0;
  for (const m of used) {
    const mm = m.meta(hfName);
    if (!mm) throw new Error(`tensor ${hfName} is missing from ${m.label} (it is in ${reference.label}): the models do not have the same tensors`);
    if (mm.shape.join(',') !== meta.shape.join(','))
      throw new Error(`tensor ${hfName} has shape [${mm.shape.join(', ')}] in ${m.label} but [${meta.shape.join(', ')}] in ${reference.label}`);
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

type OutputPlan = Pick<MergePlan, 'tensors' | 'format' | 'writer' | 'outputBytes'>;

function planOutput(
  config: MergeConfig,
  impl: MergeMethodImpl,
  reference: MergeInput,
  used: MergeInput[],
  contributors: number[],
  outPath: string,
  opts: PlanOptions,
  exporter: ((o: { type: 'F32' | 'F16'; name: string }) => GgufExportPlan) | null,
): OutputPlan {
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
    const outs = tensors.map((t) => t.out);
    const layout = layoutHfFolder(outs, { sourceDir: reference.modelPath, maxShardBytes: opts.maxShardBytes ?? 5 * 2 ** 30, mergeYaml: opts.mergeYaml });
    return { tensors, format: 'hf', outputBytes: hfLayoutBytes(layout), writer: () => createHfWriter(outPath, outs, layout, writeFn) };
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
      if (!hf || !reference.meta(hf))
        return {
          out: { name: t.name, shape: t.dims.slice().reverse(), dtype: 'F32' },
          hfName: null,
          numel: t.numElements,
          params: null,
          align: 1,
          bytes: t.byteLength,
          raw: { offset: t.fileOffset, length: t.byteLength },
        };
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
    return ggufPlan(outPath, tensors, meta, raw, g.alignment, writeFn, (t) =>
      t.raw ? rawType(g.tensors.find((x) => x.name === t.out.name)!.type) : t.out.dtype,
    );
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

/** A GGUF output: the header encoded now (its size is part of the plan), the data after it. */
function ggufPlan(
  outPath: string,
  tensors: PlannedTensor[],
  meta: Record<string, GgufMetaInput>,
  raw: Buffer[],
  alignment: number,
  writeFn: WriteFn,
  typeOf: (t: PlannedTensor) => 'F32' | 'F16' | 'BF16' | 'Q8_0',
): OutputPlan {
  const header = encodeGgufHeader(
    meta,
    tensors.map((t) => ({ name: t.out.name, dims: t.out.shape.slice().reverse(), type: typeOf(t) })),
    alignment,
    raw,
  );
  return {
    tensors,
    format: 'gguf',
    outputBytes: header.bytes.length + header.dataBytes,
    writer: () =>
      createGgufWriter(
        outPath,
        tensors.map((t) => t.out),
        { header: header.bytes, offsets: header.offsets, dataBytes: header.dataBytes, writeFn },
      ),
  };
}
