import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainMemoryEstimate, TrainMemoryInput } from '../../shared/train';
import { AppError } from '../../shared/errors';
import type { DecoderConfig } from '../engine/model/config';

/**
 * Peak-memory estimate of a LoRA run, for the Train tab before a run starts. Reads config.json or
 * the GGUF header only (no weights, no tokenizer); the engine modules are loaded on first use.
 */
export async function trainingMemory(p: TrainMemoryInput): Promise<TrainMemoryEstimate> {
  const [{ configFromHf }, { configFromGguf }, { readGguf }, { resolveLoraTargets }, { estimateTrainingMemory }] = await Promise.all([
    import('../engine/hf/model'),
    import('../engine/model/gguf-model'),
    import('../engine/gguf/reader'),
    import('../engine/train/lora'),
    import('../engine/train/memory'),
  ]);
  let cfg: DecoderConfig;
  try {
    const file = join(p.modelPath, 'config.json');
    cfg = statSync(p.modelPath).isDirectory() ? configFromHf(JSON.parse(readFileSync(file, 'utf8')), file) : configFromGguf(readGguf(p.modelPath));
  } catch (e) {
    throw new AppError('invalid_input', (e as Error).message);
  }
  const targets = resolveLoraTargets(cfg, { rank: p.rank, alpha: 2 * p.rank, targetModules: p.targetModules });
  const loraParams = targets.reduce((s, t) => s + t.rank * (t.inFeatures + t.outFeatures), 0);
  return estimateTrainingMemory(cfg, {
    batch: p.batchSize,
    seq: p.maxLength,
    loraParams,
    loraInputFeatures: targets.reduce((s, t) => s + t.inFeatures, 0),
    dropout: (p.dropout ?? 0) > 0,
    recompute: p.recompute ?? false,
    frozenWeightDtype: p.frozenWeightDtype ?? 'float32',
  });
}
