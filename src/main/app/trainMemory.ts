import { statSync } from 'node:fs';
import type { TrainMemoryEstimate, TrainMemoryInput } from '../../shared/train';
import { AppError } from '../../shared/errors';
import type { DecoderConfig } from '../engine/model/config';

/**
 * Peak-memory estimate of a LoRA run, for the Train tab before a run starts. Reads config.json or
 * the GGUF header only (no weights, no tokenizer); the engine modules are loaded on first use.
 * The model file is untrusted: the `train.estimateMemory` call runs this in a one-shot worker
 * (JobRunner.runTask, task `train.estimateMemory`), never on the main thread.
 */
export async function trainingMemory(p: TrainMemoryInput): Promise<TrainMemoryEstimate> {
  const [{ readHfConfig }, { configFromGguf }, { readGguf }, { resolveLoraTargets }, { estimateTrainingMemory }] = await Promise.all([
    import('../engine/hf/model'),
    import('../engine/model/gguf-model'),
    import('../engine/gguf/reader'),
    import('../engine/train/lora'),
    import('../engine/train/memory'),
  ]);
  try {
    const cfg: DecoderConfig = isFolder(p.modelPath) ? readHfConfig(p.modelPath) : configFromGguf(readGguf(p.modelPath));
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
  } catch (e) {
    throw e instanceof AppError ? e : new AppError('invalid_input', (e as Error).message);
  }
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AppError('invalid_input', code === 'ENOENT' || code === 'ENOTDIR' ? `${path}: not found` : `${path}: cannot be read (${code ?? (e as Error).message})`);
  }
}
