/**
 * SafeLoRA (Hsu et al., arXiv 2405.16833): plain LoRA training, then each layer's update projected
 * onto the alignment subspace (aligned − base weights) where the similarity of the projected and
 * original update is under the threshold (the engine's safeLoraAdapter). The base model is read and
 * checked before the first step, so a missing or mismatched one fails before any training.
 */
import { existsSync } from 'node:fs';
import { loadModel } from '../engine';
import { resolveLoraTargets, safeLoraAdapter } from '../engine/train';
import type { TrainMethodParams } from '../../shared/train';
import type { TrainMethodImpl } from './types';

export const safelora: TrainMethodImpl<TrainMethodParams<'safelora'>> = {
  async prepare(ctx, p) {
    if (ctx.run.full) throw new Error('SafeLoRA projects a LoRA adapter: it does not run with full-parameter training');
    const path = p.baseModelPath;
    if (!path) throw new Error("SafeLoRA needs the aligned model's base (unaligned) model: give its path");
    if (!existsSync(path)) throw new Error(`SafeLoRA's base model ${path} does not exist: give the path of the aligned model's base (unaligned) model`);
    ctx.progress('reading the base model');
    let base: ReturnType<typeof loadModel>;
    try {
      base = loadModel(path);
    } catch (e) {
      throw new Error(`SafeLoRA's base model ${path} could not be read: ${(e as Error).message}`);
    }
    for (const t of resolveLoraTargets(ctx.model.config, ctx.run.lora)) {
      const shape = base.weights.has(t.weight) ? base.weights.shape(t.weight).join(', ') : null;
      if (shape !== `${t.outFeatures}, ${t.inFeatures}`) {
        throw new Error(
          `SafeLoRA's base model ${path} is not the aligned model's base: ${t.weight} is ${shape ? `[${shape}]` : 'missing'} there, [${t.outFeatures}, ${t.inFeatures}] in the aligned model`,
        );
      }
    }
    return {
      terms: [],
      finishAdapter: (adapter) => {
        const r = safeLoraAdapter(adapter, ctx.model.weights, base.weights, p.threshold);
        const projected = r.layers.filter((l) => l.projected).length;
        return {
          params: r.params,
          summary: { threshold: p.threshold, layers: r.layers.length, projectedLayers: projected, layerSimilarity: r.layers },
          message: `SafeLoRA projected ${projected} of ${r.layers.length} adapter layers (similarity under ${p.threshold})`,
        };
      },
    };
  },
};
