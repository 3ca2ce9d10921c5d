/** Model information for the CLI/UI: size, context, execution provider and memory estimates. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Graph, createSession, f32Tensor, ort } from './graph';
import { parameterCount, type DecoderConfig } from './model/config';
import type { LoadedModel } from './model/loaded';
import { expectedWeightShapes } from './model/decoderGraph';
import { GGML_TYPE } from './gguf/reader';
import { canRepack, repackedBytes } from './gguf/repack';

export interface ExecutionProviderChoice {
  /** what sessions will use */
  name: string;
  /** backends onnxruntime-node lists on this machine */
  listed: { name: string; bundled: boolean }[];
  /** providers that were tried and failed, with the reason */
  unavailable: { name: string; reason: string }[];
  /** set when falling back to CPU */
  notice: string | null;
}

export interface MemoryEstimate {
  /** weights held by onnxruntime: float32, or block-quantised tensors in their quantised (MatMulNBits) layout */
  weightBytes: number;
  /** KV cache for one sequence at full context */
  kvCacheBytesPerSequence: number;
  /** weights + KV cache (batch 1, full context) + activations + runtime overhead */
  inferenceBytes: number;
  /** frozen fp32 weights + LoRA params/grads/Adam state + activations (batch 4 x 256, r 8 on q,v) */
  loraTrainingBytes: number;
  assumptions: string;
}

export interface ModelInfo {
  name: string;
  path: string;
  format: 'gguf' | 'hf';
  architecture: string;
  parameterCount: number;
  /** storage dtypes in the file, with tensor counts, e.g. { F32: 48 } */
  storageDtypes: Record<string, number>;
  /** dtype the engine computes in */
  computeDtype: 'float32';
  contextLength: number;
  vocabSize: number;
  layers: number;
  hiddenSize: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  tiedEmbeddings: boolean;
  hasChatTemplate: boolean;
  executionProvider: ExecutionProviderChoice;
  memory: MemoryEstimate;
}

const PREFERRED = ['cuda', 'dml', 'coreml', 'webgpu'];
let epCache: ExecutionProviderChoice | null = null;

function providerLibPresent(name: string): boolean {
  try {
    const req = createRequire(import.meta.url);
    const dir = join(dirname(req.resolve('onnxruntime-node')), '..', 'bin', 'napi-v6', process.platform, process.arch);
    if (name === 'cuda' || name === 'tensorrt') return existsSync(join(dir, `libonnxruntime_providers_${name}.so`));
    return true;
  } catch {
    return false;
  }
}

/** Pick the execution provider: the first preferred GPU provider that actually creates a session, else CPU. */
export async function chooseExecutionProvider(opts: { refresh?: boolean } = {}): Promise<ExecutionProviderChoice> {
  if (epCache && !opts.refresh) return epCache;
  const listed = ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  const unavailable: { name: string; reason: string }[] = [];
  const g = new Graph('probe');
  const x = g.input('x', 'float32', [2]);
  g.output(g.add(x, x), 'y');
  const model = g.build();
  for (const name of PREFERRED) {
    const l = listed.find((b) => b.name === name);
    if (!l) continue;
    if (name === 'webgpu' && process.platform === 'linux' && !existsSync('/dev/dri') && !existsSync('/dev/nvidia0')) {
      unavailable.push({ name, reason: 'no GPU device found (/dev/dri, /dev/nvidia0)' });
      continue;
    }
    if (!l.bundled && !providerLibPresent(name)) {
      unavailable.push({ name, reason: 'provider library not installed (onnxruntime-node downloads it at install time when online)' });
      continue;
    }
    try {
      const s = await createSession(model, { executionProviders: [name], logSeverityLevel: 4 });
      await s.run({ x: f32Tensor([1, 2], [2]) });
      await s.release();
      epCache = { name, listed, unavailable, notice: null };
      return epCache;
    } catch (e) {
      unavailable.push({
        name,
        reason: String((e as Error).message ?? e)
          .split('\n')[0]!
          .slice(0, 200),
      });
    }
  }
  epCache = {
    name: 'cpu',
    listed,
    unavailable,
    notice: `No GPU execution provider is usable here (${unavailable.map((u) => u.name).join(', ') || 'none listed'}); running on CPU.`,
  };
  return epCache;
}

/**
 * Bytes of the weights as the engine holds them for inference: block-quantised GGUF tensors stay in
 * their quantised layout (gguf/repack.ts), the rest is float32.
 */
export function inferenceWeightBytes(model: LoadedModel): number {
  let bytes = 0;
  for (const [name, shape] of expectedWeightShapes(model.config)) {
    const type = GGML_TYPE[model.weights.dtype(name) as keyof typeof GGML_TYPE] ?? -1;
    bytes += shape.length === 2 && canRepack(type) ? repackedBytes(type, shape[0]!, shape[1]!) : shape.reduce((a, b) => a * b, 1) * 4;
  }
  return bytes;
}

export function estimateMemory(cfg: DecoderConfig, opts: { loraRank?: number; batch?: number; seq?: number; weightBytes?: number } = {}): MemoryEstimate {
  const params = parameterCount(cfg);
  const weightBytes = opts.weightBytes ?? params * 4;
  const quantised = opts.weightBytes !== undefined && opts.weightBytes < params * 4;
  const kvPerTok = 2 * cfg.numLayers * cfg.numKvHeads * cfg.headDim * 4;
  const kv = kvPerTok * cfg.maxPositions;
  const actInfer = (cfg.hiddenSize * 8 + cfg.intermediateSize * 3 + cfg.vocabSize) * 4 * 64; // a 64-token prefill chunk
  // measured on the 100M benchmark model (smaps): node binary ~44 MiB, libonnxruntime ~24, native heap ~50, V8 ~23
  const overhead = 150 * 2 ** 20;
  const r = opts.loraRank ?? 8;
  const B = opts.batch ?? 4;
  const S = opts.seq ?? 256;
  const loraParams = cfg.numLayers * r * (2 * cfg.hiddenSize + cfg.numHeads * cfg.headDim + cfg.numKvHeads * cfg.headDim);
  const perTokLayer = cfg.hiddenSize * 10 + cfg.intermediateSize * 4 + cfg.numHeads * S * 2;
  const act = B * S * (cfg.numLayers * perTokLayer + cfg.vocabSize * 2) * 4;
  return {
    weightBytes,
    kvCacheBytesPerSequence: kv,
    inferenceBytes: weightBytes + kv + actInfer + overhead,
    // training holds float32 frozen weights (a quantised base is dequantised for training)
    loraTrainingBytes: params * 4 + loraParams * 4 * 4 + act + overhead,
    assumptions: `${quantised ? 'quantised weights kept quantised (MatMulNBits), fp32 activations' : 'fp32 compute'}; KV cache at ${cfg.maxPositions} positions; LoRA r=${r} on q_proj,v_proj, batch ${B} x ${S} tokens, activations kept for backward`,
  };
}

export async function modelInfo(model: LoadedModel): Promise<ModelInfo> {
  const cfg = model.config;
  const dtypes: Record<string, number> = {};
  for (const n of model.weights.names()) {
    const d = model.weights.dtype(n);
    dtypes[d] = (dtypes[d] ?? 0) + 1;
  }
  return {
    name: model.name,
    path: model.path,
    format: model.format,
    architecture: cfg.architecture,
    parameterCount: parameterCount(cfg),
    storageDtypes: dtypes,
    computeDtype: 'float32',
    contextLength: cfg.maxPositions,
    vocabSize: cfg.vocabSize,
    layers: cfg.numLayers,
    hiddenSize: cfg.hiddenSize,
    heads: cfg.numHeads,
    kvHeads: cfg.numKvHeads,
    headDim: cfg.headDim,
    tiedEmbeddings: cfg.tieWordEmbeddings,
    hasChatTemplate: model.chatTemplate !== null,
    executionProvider: await chooseExecutionProvider(),
    memory: estimateMemory(cfg, { weightBytes: inferenceWeightBytes(model) }),
  };
}
