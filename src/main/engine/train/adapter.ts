/** PEFT adapter export/import for trained LoRA parameters (adapter_config.json + adapter_model.safetensors). */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../hf/safetensors';
import { writeFileDurable } from './fsutil';
import { loraTensorShape, normaliseTarget, type LoraConfig, type LoraParams, type LoraTarget } from './lora';

/** Write the adapter in PEFT format into `dir` (files are fsynced; the folder must exist). */
export function writePeftAdapter(dir: string, params: LoraParams, cfg: LoraConfig, opts: { baseModel?: string } = {}): void {
  const targets = [...new Set((cfg.targetModules ?? ['q', 'v']).map(normaliseTarget))];
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: cfg.rank,
    lora_alpha: cfg.alpha,
    lora_dropout: cfg.dropout ?? 0,
    target_modules: targets,
    bias: 'none',
    fan_in_fan_out: false,
    use_rslora: cfg.useRslora ?? false,
    layers_to_transform: cfg.layers ?? null,
    inference_mode: true,
    base_model_name_or_path: opts.baseModel ?? null,
  };
  writeFileDurable(join(dir, 'adapter_config.json'), JSON.stringify(config, null, 2));
  const tensors = params.targets.flatMap((t) =>
    (['A', 'B'] as const).map((w) => ({
      name: `base_model.model.${t.module}.lora_${w}.weight`,
      shape: loraTensorShape(t, w),
      dtype: 'F32' as const,
      data: () => params.tensors.get(`${t.weight}.lora_${w}`)!,
    })),
  );
  const path = join(dir, 'adapter_model.safetensors');
  writeSafetensors(path, tensors, { format: 'pt' });
  writeFileDurable(path, null);
}

/** Read trained parameters back (for resuming) into the given targets' layout. */
export function readPeftAdapter(dir: string, targets: LoraTarget[]): LoraParams {
  const path = join(dir, 'adapter_model.safetensors');
  if (!existsSync(path)) throw new Error(`${dir}: missing adapter_model.safetensors`);
  const f = new SafetensorsFile(path);
  const tensors = new Map<string, Float32Array>();
  for (const t of targets)
    for (const w of ['A', 'B'] as const) {
      const name = `base_model.model.${t.module}.lora_${w}.weight`;
      const info = f.info(name);
      const [r, c] = loraTensorShape(t, w);
      if (info.shape[0] !== r || info.shape[1] !== c) throw new Error(`${path}: ${name} has shape [${info.shape.join(', ')}], expected [${r}, ${c}]`);
      tensors.set(`${t.weight}.lora_${w}`, f.readF32(name));
    }
  return { targets, tensors };
}

export function readAdapterConfig(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
}
