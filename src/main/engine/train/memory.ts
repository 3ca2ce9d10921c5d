/**
 * Rough peak-memory estimate of a training run on the CPU execution provider (what the trainer
 * holds: the frozen weights — once when they are streamed to a file onnxruntime memory-maps
 * (`weightCacheDir`, as the train.run job does), twice otherwise: the JS copy and onnxruntime's —
 * the trained tensors (a LoRA adapter, or with full-parameter training the model's trained weights)
 * with their gradients and AdamW moments, the forward activations kept for the backward pass (with
 * `recompute` the layer inputs and one layer's values; LoRA dropout keep-masks) and the [B,S,V]
 * logit-sized tensors of the loss). Calibrated against measured peak RSS (bench/train); expect ±25%.
 */
import type { DecoderConfig } from '../model/config';
import { parameterCount, projectionParameterCount } from '../model/config';
import type { LoadQuantType } from '../model/quantizeOnLoad';
import { quantizedFrozenWeights } from './baseQuant';
import { resolveTrainableWeights, trainableParameterCount, type FullTrainingConfig } from './full';

export interface TrainingMemoryEstimate {
  /** frozen weights */
  weightsBytes: number;
  /** LoRA adapter: A, B, gradient, accumulator, AdamW moments (0 in full-parameter training) */
  adapterBytes: number;
  /** full-parameter training: the trained weights (fp32), their gradients and AdamW moments (0 with LoRA) */
  trainedBytes: number;
  activationsBytes: number;
  logitsBytes: number;
  /** onnxruntime, Node and V8 baseline */
  runtimeBytes: number;
  totalBytes: number;
}

/**
 * fp16 or quantised frozen weights turn activation recomputation on (their fp32 casts or
 * dequantised copies would otherwise live from the forward to the backward pass)
 */
export function recomputesActivations(run: { recompute?: boolean; frozenWeightDtype?: 'float32' | 'float16'; baseQuant?: LoadQuantType }): boolean {
  return !!run.recompute || run.frozenWeightDtype === 'float16' || !!run.baseQuant;
}

/**
 * Without recomputation onnxruntime (its arena off) held ~20% more for the forward values than
 * counted above (its intermediate copies and allocator slack): bench:train's train-memory table,
 * 2026-12-04, measured peak RSS / the estimate before this factor: 134M model at 4×256 tokens 1.21,
 * 1×128 1.06, stories260K at 8×256 1.20 (LoRA) and 1.27 (full), stories15M full at 4×256 0.93.
 */
const KEPT_OVERHEAD = 1.2;

export function estimateTrainingMemory(
  cfg: DecoderConfig,
  run: {
    batch: number;
    seq: number;
    /** LoRA: trainable values of the adapter */
    loraParams?: number;
    /** full-parameter training: which weights train (instead of an adapter) */
    full?: FullTrainingConfig;
    /** micro-batches per optimiser step (full-parameter training holds one more gradient copy when above 1) */
    gradAccumSteps?: number;
    /** Σ of the LoRA targets' input features: with `dropout`, one byte of keep-mask per token each */
    loraInputFeatures?: number;
    dropout?: boolean;
    distillK?: number;
    weightsMapped?: boolean;
    recompute?: boolean;
    frozenWeightDtype?: 'float32' | 'float16';
    /** the frozen matrices quantised on load to this ggml type (QLoRA-style; see ./baseQuant) */
    baseQuant?: LoadQuantType;
    /** with baseQuant: the ggml types of the tensors the file holds block-quantised, by name (kept as they are; ./baseQuant storedBlockTypes) */
    storedBlockTypes?: ReadonlyMap<string, number>;
  },
): TrainingMemoryEstimate {
  const f = 4;
  const tokens = run.batch * run.seq;
  const H = cfg.hiddenSize;
  const kv = cfg.numKvHeads * cfg.headDim;
  const F = cfg.intermediateSize;
  const half = run.frozenWeightDtype === 'float16';
  // full-parameter training: the trained weights are graph inputs, not frozen weights
  const trained = run.full ? resolveTrainableWeights(cfg, run.full) : [];
  const trainedCount = trainableParameterCount(trained);
  const trainedProjections = trainableParameterCount(trained.filter((w) => /_proj\.weight$/.test(w.name)));
  // a quantised base: the matrices whose rows are whole blocks, in onnxruntime's blockwise layout
  const q = run.baseQuant
    ? quantizedFrozenWeights(cfg, run.baseQuant, new Set(trained.map((w) => w.name)), run.storedBlockTypes)
    : { bytes: 0, params: 0, projectionParams: 0, head: false };
  // frozen fp32 weights: memory-mapped from the weight file, or read into JS and then copied by onnxruntime
  // (fp16 storage halves the projection matrices not quantised: q, k, v, o, gate, up, down)
  const stored =
    (parameterCount(cfg) - trainedCount - q.params) * f + q.bytes - (half ? (projectionParameterCount(cfg) - trainedProjections - q.projectionParams) * 2 : 0);
  const weightsBytes = (run.weightsMapped === false ? 2 : 1) * stored;
  // A, B + gradient + gradient accumulator + Adam m, v
  const adapterBytes = 5 * (run.loraParams ?? 0) * f;
  // weights + gradient + Adam m, v (16 bytes per parameter), and while a micro-batch's gradients are
  // returned they exist twice (onnxruntime's outputs and their JS copies), plus the step's
  // accumulated gradient when there are several micro-batches
  const trainedBytes = trainedCount * f * (4 + 1 + ((run.gradAccumSteps ?? 1) > 1 ? 1 : 0));
  // values kept per token and layer for the backward pass (norms, q/k/v, RoPE halves, context,
  // residuals, gate/up/SiLU products) + attention scores and probabilities (heads × S per token)
  const perTokenLayer = 16 * H + 2 * kv + 5 * F + 2 * cfg.numHeads * run.seq;
  const kept = tokens * cfg.numLayers * perTokenLayer * f;
  // with activation checkpointing (fp16 frozen weights turn it on) the backward pass holds every
  // layer's input and one layer's values at a time (counted twice: the recomputed forward values and
  // their gradients), and with fp16 weights that layer's projections cast to fp32. Measured with the
  // trainer's layer-by-layer gradient order and onnxruntime's arena (bench/RESULTS.md): 7B Llama
  // shape at 1×512 tokens 2.8 GB besides the weights (this estimate: 3.3 GB).
  const recompute = recomputesActivations(run);
  // A quantised base likewise dequantises one layer's matrices to fp32 at a time, and its LM head
  // (dequantised where the logits are computed) lives until the backward pass has used it.
  const layerSet = recompute
    ? Math.min(kept, tokens * (cfg.numLayers * H + 2 * perTokenLayer) * f) +
      (half || q.params ? (projectionParameterCount(cfg) / cfg.numLayers) * f : 0) +
      (q.head ? cfg.vocabSize * H * f : 0)
    : KEPT_OVERHEAD * kept;
  const masks = run.dropout ? tokens * (run.loraInputFeatures ?? 0) : 0;
  const activationsBytes = layerSet + masks;
  // logits, log-softmax, its exp and the logits' gradient; with recomputation the trainer turns
  // onnxruntime's arena on, whose blocks for these took about 1.5 times as much (134M model at 4×256
  // tokens: 2.05–2.16 GB measured, 1.5–1.7 GB estimated with 4 copies)
  const logitsBytes = (recompute ? 6 : 4) * tokens * cfg.vocabSize * f + (run.distillK ? 4 * tokens * run.distillK * 8 : 0);
  const runtimeBytes = 150 * 2 ** 20;
  const totalBytes = weightsBytes + adapterBytes + trainedBytes + activationsBytes + logitsBytes + runtimeBytes;
  return { weightsBytes, adapterBytes, trainedBytes, activationsBytes, logitsBytes, runtimeBytes, totalBytes };
}
