import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { trainingMemory } from '../../../src/main/app/trainMemory';
import { loadModel } from '../../../src/main/engine';
import { estimateTrainingMemory } from '../../../src/main/engine/train';
import { repoRoot, sharedPath } from '../../helpers/shared';

const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const stories = sharedPath('models', 'stories260K.gguf');

describe('train.estimateMemory', () => {
  it('estimates a run from config.json alone, as the engine estimate of the loaded model does', async () => {
    const input = { modelPath: tinyLlama, batchSize: 2, maxLength: 64, rank: 4, targetModules: ['q', 'v'] as ('q' | 'v')[] };
    const e = await trainingMemory(input);
    const cfg = loadModel(tinyLlama).config;
    // q: 32→32, v: 32→16 per layer, rank 4, 2 layers
    const loraParams = 2 * 4 * (32 + 32 + 32 + 16);
    expect(e).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams }));
    expect((await trainingMemory({ ...input, batchSize: 4 })).activationsBytes).toBe(2 * e.activationsBytes);
    expect(await trainingMemory({ ...input, recompute: true })).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, recompute: true }));
    expect(await trainingMemory({ ...input, frozenWeightDtype: 'float16' })).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, frozenWeightDtype: 'float16' }));
    // dropout keep-masks: q and v take the 32 hidden features, 2 layers
    expect(await trainingMemory({ ...input, dropout: 0.05 })).toEqual(estimateTrainingMemory(cfg, { batch: 2, seq: 64, loraParams, loraInputFeatures: 2 * (32 + 32), dropout: true }));
    expect((await trainingMemory({ ...input, dropout: 0.05 })).activationsBytes).toBeGreaterThan(e.activationsBytes);
  });

  it.skipIf(!stories)('reads a GGUF header', async () => {
    const e = await trainingMemory({ modelPath: stories!, batchSize: 1, maxLength: 32, rank: 8, targetModules: ['q', 'k', 'v', 'o'] });
    expect(e.weightsBytes).toBeGreaterThan(4 * 250_000);
    expect(e.totalBytes).toBeGreaterThan(e.weightsBytes);
  });

  it('names the file it cannot read', async () => {
    await expect(trainingMemory({ modelPath: '/nonexistent/model', batchSize: 1, maxLength: 32, rank: 8, targetModules: ['q'] })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringMatching(/\/nonexistent\/model/),
    });
  });
});
