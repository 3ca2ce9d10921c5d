import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededRandom } from '../../src/main/engine/generate';
import { writeSafetensors } from '../../src/main/engine/hf/safetensors';
import type { LoadedModel } from '../../src/main/engine';

/**
 * Write a PEFT adapter with random A and B for `targets` (e.g. q_proj, v_proj) of every layer of
 * `model`, shaped from the model's own weights.
 */
export function writeRandomAdapter(dir: string, model: LoadedModel, targets: string[], r = 4, alpha = 8, seed = 77): void {
  mkdirSync(dir, { recursive: true });
  const rand = seededRandom(seed);
  const tensors = [];
  for (let l = 0; l < model.config.numLayers; l++)
    for (const t of targets) {
      const [out, inn] = model.weights.shape(`model.layers.${l}.self_attn.${t}.weight`) as [number, number];
      const base = `base_model.model.model.layers.${l}.self_attn.${t}`;
      tensors.push({
        name: `${base}.lora_A.weight`,
        shape: [r, inn],
        dtype: 'F32' as const,
        data: () => Float32Array.from({ length: r * inn }, () => rand() - 0.5),
      });
      tensors.push({
        name: `${base}.lora_B.weight`,
        shape: [out, r],
        dtype: 'F32' as const,
        data: () => Float32Array.from({ length: out * r }, () => rand() - 0.5),
      });
    }
  writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ peft_type: 'LORA', r, lora_alpha: alpha, target_modules: targets }));
}
