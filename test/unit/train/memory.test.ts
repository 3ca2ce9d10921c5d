import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { GGML_TYPE, readGguf } from '../../../src/main/engine/gguf/reader';
import { quantizeModel } from '../../../src/main/engine/gguf/quantize';
import { canRepack, repackedBytes } from '../../../src/main/engine/gguf/repack';
import { writeTinyLlamaGguf } from '../../helpers/tiny-gguf';
import { join } from 'node:path';
import { estimateTrainingMemoryForModel, loadModel, readModelConfig } from '../../../src/main/engine';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { estimateTrainingMemory, resolveLoraTargets } from '../../../src/main/engine/train';
import { parameterCount } from '../../../src/main/engine/model/config';
import { repoRoot, sharedPath } from '../../helpers/shared';

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

  it('counts a quantised base in its blockwise layout (rows of whole blocks only), one layer dequantised at a time, the head, and the recomputation it turns on', () => {
    // hidden 32, FFN 48: every matrix but down_proj (rows of 48) is whole Q4_0 blocks of 32
    const cfg = { ...loadHfModel(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama')).config, numLayers: 12 };
    const run = { batch: 2, seq: 64, loraParams: 1000 };
    const h = cfg.hiddenSize;
    const q = cfg.numHeads * cfg.headDim;
    const kv = cfg.numKvHeads * cfg.headDim;
    const down = cfg.numLayers * h * cfg.intermediateSize;
    const projections = cfg.numLayers * (2 * h * q + 2 * h * kv + 3 * h * cfg.intermediateSize);
    const quantised = projections - down + 2 * cfg.vocabSize * h; // + embeddings and the untied LM head
    // Q4_0 in onnxruntime's layout: 16 bytes of codes and a float32 scale per 32 weights
    const q4 = estimateTrainingMemory(cfg, { ...run, baseQuant: 'Q4_0' });
    expect(q4.weightsBytes).toBe(4 * (parameterCount(cfg) - quantised) + (20 / 32) * quantised);
    const rc = estimateTrainingMemory(cfg, { ...run, recompute: true });
    expect(q4.activationsBytes).toBe(rc.activationsBytes + (4 * projections) / cfg.numLayers + 4 * cfg.vocabSize * h);
    expect(q4.logitsBytes).toBe(rc.logitsBytes);
    // with fp16 storage too, what stays unquantised (down_proj) is fp16
    expect(estimateTrainingMemory(cfg, { ...run, baseQuant: 'Q4_0', frozenWeightDtype: 'float16' }).weightsBytes).toBe(q4.weightsBytes - 2 * down);
    // Q8_0: one byte per weight and the scale
    expect(estimateTrainingMemory(cfg, { ...run, baseQuant: 'Q8_0' }).weightsBytes).toBe(4 * (parameterCount(cfg) - quantised) + (36 / 32) * quantised);
    // Q4_K's blocks are 256 wide: no row of this model is whole blocks, the weights stay float32
    expect(estimateTrainingMemory(cfg, { ...run, baseQuant: 'Q4_K' }).weightsBytes).toBe(4 * parameterCount(cfg));
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

describe('estimateTrainingMemoryForModel (the engine entry the Train tab calls)', () => {
  const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
  const stories = sharedPath('models', 'stories260K.gguf');

  it('reads the model description as loadModel does and estimates from it', () => {
    const cfg = loadModel(tinyLlama).config;
    expect(readModelConfig(tinyLlama)).toEqual(cfg);
    const lora = { rank: 4, alpha: 8, targetModules: ['q', 'v', 'down'], dropout: 0.1 };
    const targets = resolveLoraTargets(cfg, lora);
    expect(estimateTrainingMemoryForModel(tinyLlama, { batch: 2, seq: 64, lora, recompute: true })).toEqual(
      estimateTrainingMemory(cfg, {
        batch: 2,
        seq: 64,
        loraParams: targets.reduce((s, t) => s + t.rank * (t.inFeatures + t.outFeatures), 0),
        loraInputFeatures: targets.reduce((s, t) => s + t.inFeatures, 0),
        dropout: true,
        recompute: true,
      }),
    );
    const full = { batch: 1, seq: 32, full: { trainable: ['mlp' as const] }, gradAccumSteps: 2 };
    expect(estimateTrainingMemoryForModel(tinyLlama, full)).toEqual(estimateTrainingMemory(cfg, full));
  });

  it.skipIf(!stories)('reads a GGUF header', () => {
    expect(readModelConfig(stories!)).toEqual(loadModel(stories!).config);
    expect(estimateTrainingMemoryForModel(stories!, { batch: 1, seq: 32, lora: { rank: 8, alpha: 16 } }).totalBytes).toBeGreaterThan(4 * 250_000);
  });

  it('a quantised base on a quantised GGUF counts the file’s own block types (kept as they are), not the chosen one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memory-q8-'));
    try {
      const f32 = join(dir, 'tiny.gguf');
      const q8 = join(dir, 'tiny-q8_0.gguf');
      writeTinyLlamaGguf(f32, { hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, vocab: 320, untied: true, seed: 3 });
      quantizeModel(f32, q8, 'q8_0');
      const run = { batch: 1, seq: 32, lora: { rank: 4, alpha: 8 }, baseQuant: 'Q4_0' as const };
      // what the file holds: block-quantised tensors in their blockwise layout, the rest float32
      let want = 0;
      for (const t of readGguf(q8).tensors) {
        const n = t.dims.reduce((x, y) => x * Number(y), 1);
        want += t.dims.length === 2 && canRepack(t.type) ? repackedBytes(t.type, Number(t.dims[1]), Number(t.dims[0])) : 4 * n;
      }
      expect(readGguf(q8).tensors.some((t) => t.type === GGML_TYPE.Q8_0)).toBe(true);
      expect(estimateTrainingMemoryForModel(q8, run).weightsBytes).toBe(want);
      // the float file is quantised to the chosen Q4_0: smaller
      expect(estimateTrainingMemoryForModel(f32, run).weightsBytes).toBeLessThan(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses what loadModel refuses, naming the path', () => {
    expect(() => readModelConfig('/nonexistent/model')).toThrow(/\/nonexistent\/model: not found/);
    const notAModel = join(tinyLlama, 'config.json');
    expect(() => estimateTrainingMemoryForModel(notAModel, { batch: 1, seq: 8 })).toThrow(/expected a \.gguf file or a Hugging Face model folder/);
    expect(() => loadModel(notAModel)).toThrow(/expected a \.gguf file or a Hugging Face model folder/);
  });
});
