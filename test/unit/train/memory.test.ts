import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { estimateTrainingMemory } from '../../../src/main/engine/train';
import { parameterCount } from '../../../src/main/engine/model/config';
import { repoRoot } from '../../helpers/shared';

describe('estimateTrainingMemory', () => {
  it('adds up its parts and grows with the batch and the adapter', () => {
    const cfg = loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config;
    const a = estimateTrainingMemory(cfg, { batch: 1, seq: 64, loraParams: 1000 });
    expect(a.weightsBytes).toBe(4 * parameterCount(cfg)); // memory-mapped, as the train job runs
    expect(estimateTrainingMemory(cfg, { batch: 1, seq: 64, loraParams: 1000, weightsMapped: false }).weightsBytes).toBe(2 * 4 * parameterCount(cfg));
    expect(a.adapterBytes).toBe(5 * 4 * 1000);
    expect(a.totalBytes).toBe(a.weightsBytes + a.adapterBytes + a.activationsBytes + a.logitsBytes + a.runtimeBytes);
    const b = estimateTrainingMemory(cfg, { batch: 4, seq: 64, loraParams: 1000 });
    expect(b.activationsBytes).toBe(4 * a.activationsBytes);
    expect(b.logitsBytes).toBe(4 * a.logitsBytes);
    expect(estimateTrainingMemory(cfg, { batch: 1, seq: 64, loraParams: 2000 }).totalBytes).toBeGreaterThan(a.totalBytes);
  });

  it('counts fewer activations with recomputation, but at least every layer input', () => {
    // 12 layers: with the fixture's 2 the layer inputs plus one layer in flight are no saving
    const cfg = { ...loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config, numLayers: 12 };
    const run = { batch: 2, seq: 64, loraParams: 1000 };
    const full = estimateTrainingMemory(cfg, run);
    const rc = estimateTrainingMemory(cfg, { ...run, recompute: true });
    expect(rc.activationsBytes).toBeLessThan(full.activationsBytes);
    expect(rc.activationsBytes).toBeGreaterThanOrEqual(2 * 64 * cfg.numLayers * cfg.hiddenSize * 4);
    expect({ ...rc, activationsBytes: 0, logitsBytes: 0, totalBytes: 0 }).toEqual({ ...full, activationsBytes: 0, logitsBytes: 0, totalBytes: 0 });
    // the arena recomputation turns on holds the loss's [B,S,V] tensors at ~1.5 times their size
    expect(rc.logitsBytes).toBe(1.5 * full.logitsBytes);
  });

  it('counts fp16 frozen projections at 2 bytes, and the recomputation they turn on', () => {
    const cfg = { ...loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config, numLayers: 12 };
    const run = { batch: 2, seq: 64, loraParams: 1000 };
    const h = cfg.hiddenSize;
    const q = cfg.numHeads * cfg.headDim;
    const kv = cfg.numKvHeads * cfg.headDim;
    const projections = cfg.numLayers * (2 * h * q + 2 * h * kv + 3 * h * cfg.intermediateSize);
    const half = estimateTrainingMemory(cfg, { ...run, frozenWeightDtype: 'float16' });
    expect(half.weightsBytes).toBe(4 * parameterCount(cfg) - 2 * projections);
    // recomputation, plus one layer's projections cast to fp32 at a time
    expect(half.activationsBytes).toBe(estimateTrainingMemory(cfg, { ...run, recompute: true }).activationsBytes + (4 * projections) / cfg.numLayers);
  });

  it('counts one byte per token and adapter input feature for LoRA dropout keep-masks', () => {
    const cfg = loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config;
    const run = { batch: 2, seq: 64, loraParams: 1000, loraInputFeatures: 3 * cfg.hiddenSize };
    const plain = estimateTrainingMemory(cfg, run);
    expect(estimateTrainingMemory(cfg, { ...run, dropout: true }).activationsBytes - plain.activationsBytes).toBe(2 * 64 * 3 * cfg.hiddenSize);
  });
});

describe('estimateTrainingMemory for full-parameter training', () => {
  const cfg = { ...loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config, numLayers: 12 };
  const P = parameterCount(cfg);

  it('counts 16 bytes per trained parameter (weights, gradients, AdamW m and v) plus the gradients returned by onnxruntime, and no frozen copy of them', () => {
    const lora = estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams: 1000 });
    const full = estimateTrainingMemory(cfg, { batch: 2, seq: 64, full: {} });
    expect(full.weightsBytes).toBe(0);
    expect(full.adapterBytes).toBe(0);
    expect(full.trainedBytes).toBe(20 * P);
    expect(full.activationsBytes).toBe(lora.activationsBytes);
    expect(full.totalBytes).toBe(full.weightsBytes + full.trainedBytes + full.activationsBytes + full.logitsBytes + full.runtimeBytes);
    // with accumulation the step's summed gradient is held besides each micro-batch's
    expect(estimateTrainingMemory(cfg, { batch: 2, seq: 64, full: {}, gradAccumSteps: 4 }).trainedBytes).toBe(24 * P);
  });

  it('counts the weights that do not train as frozen (fp16 projections at 2 bytes)', () => {
    const norms = estimateTrainingMemory(cfg, { batch: 1, seq: 32, full: { trainable: ['norms'] } });
    const normParams = cfg.hiddenSize * (2 * cfg.numLayers + 1);
    expect(norms.trainedBytes).toBe(20 * normParams);
    expect(norms.weightsBytes).toBe(4 * (P - normParams));
    const h = cfg.hiddenSize;
    const q = cfg.numHeads * cfg.headDim;
    const kv = cfg.numKvHeads * cfg.headDim;
    const mlp = cfg.numLayers * 3 * h * cfg.intermediateSize;
    const attention = cfg.numLayers * (2 * h * q + 2 * h * kv);
    const half = estimateTrainingMemory(cfg, { batch: 1, seq: 32, full: { trainable: ['mlp'] }, frozenWeightDtype: 'float16' });
    expect(half.trainedBytes).toBe(20 * mlp);
    expect(half.weightsBytes).toBe(4 * (P - mlp) - 2 * attention);
  });
});
