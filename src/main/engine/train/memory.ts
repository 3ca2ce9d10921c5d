/**
 * Rough peak-memory estimate of a LoRA training run on the CPU execution provider (what the
 * trainer holds: the frozen weights — once when they are streamed to a file onnxruntime
 * memory-maps (`weightCacheDir`, as the train.run job does), twice otherwise: the JS copy and
 * onnxruntime's — the adapter with its gradients and AdamW moments, the forward activations kept for the backward
 * pass (about half of them with `recompute`) and the [B,S,V] logit-sized tensors of the loss).
 * Calibrated against measured peak RSS
 * (bench/train); expect ±25%.
 */
import type { DecoderConfig } from '../model/config';
import { parameterCount, projectionParameterCount } from '../model/config';

export interface TrainingMemoryEstimate {
  weightsBytes: number;
  adapterBytes: number;
  activationsBytes: number;
  logitsBytes: number;
  /** onnxruntime, Node and V8 baseline */
  runtimeBytes: number;
  totalBytes: number;
}

export function estimateTrainingMemory(
  cfg: DecoderConfig,
  run: { batch: number; seq: number; loraParams: number; distillK?: number; weightsMapped?: boolean; recompute?: boolean; frozenWeightDtype?: 'float32' | 'float16' },
): TrainingMemoryEstimate {
  const f = 4;
  const tokens = run.batch * run.seq;
  const H = cfg.hiddenSize;
  const kv = cfg.numKvHeads * cfg.headDim;
  const F = cfg.intermediateSize;
  // frozen fp32 weights: memory-mapped from the weight file, or read into JS and then copied by onnxruntime
  // (fp16 storage halves the projection matrices: q, k, v, o, gate, up, down)
  const stored = parameterCount(cfg) * f - (run.frozenWeightDtype === 'float16' ? projectionParameterCount(cfg) * 2 : 0);
  const weightsBytes = (run.weightsMapped === false ? 2 : 1) * stored;
  // A, B + gradient + gradient accumulator + Adam m, v
  const adapterBytes = 5 * run.loraParams * f;
  // values kept per token and layer for the backward pass (norms, q/k/v, RoPE halves, context,
  // residuals, gate/up/SiLU products) + attention scores and probabilities (heads × S per token)
  const perTokenLayer = 16 * H + 2 * kv + 5 * F + 2 * cfg.numHeads * run.seq;
  const kept = tokens * cfg.numLayers * perTokenLayer * f;
  // with activation checkpointing the backward pass holds the layer inputs and one layer's values
  // at a time; on the CPU EP about a third of the activation memory stayed (134M model, 4×256
  // tokens: 2.54 vs 4.54 GB peak; allocator high-water marks), counted here as half to stay on the
  // safe side (estimate 2.85 GB)
  // (fp16 frozen weights turn recomputation on)
  const activationsBytes = run.recompute || run.frozenWeightDtype === 'float16' ? Math.min(kept, Math.max(tokens * (cfg.numLayers * H + 2 * perTokenLayer) * f, kept / 2)) : kept;
  // logits, log-softmax, its exp and the logits' gradient
  const logitsBytes = 4 * tokens * cfg.vocabSize * f + (run.distillK ? 4 * tokens * run.distillK * 8 : 0);
  const runtimeBytes = 150 * 2 ** 20;
  const totalBytes = weightsBytes + adapterBytes + activationsBytes + logitsBytes + runtimeBytes;
  return { weightsBytes, adapterBytes, activationsBytes, logitsBytes, runtimeBytes, totalBytes };
}
