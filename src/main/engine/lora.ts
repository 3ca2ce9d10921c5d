/**
 * PEFT LoRA adapters at inference: load adapter_config.json + adapter_model.safetensors, then either
 * merge W' = W + scale·B·A into the weights (mergeLora) or pass the modules to the runtime
 * (RuntimeOptions.lora) for unmerged low-rank MatMuls in the graph.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile } from './hf/safetensors';
import type { LoraModule } from './model/decoder-graph';
import type { LoadedModel } from './model/loaded';
import type { WeightSource } from './model/weights';

export interface LoraAdapter {
  path: string;
  rank: number;
  alpha: number;
  targetModules: string[];
  /** base weight name (e.g. model.layers.0.self_attn.q_proj.weight) → module */
  modules: Map<string, LoraModule>;
}

/** Load a PEFT LoRA adapter folder. */
export function loadLoraAdapter(dir: string): LoraAdapter {
  const cfgPath = join(dir, 'adapter_config.json');
  const wPath = join(dir, 'adapter_model.safetensors');
  if (!existsSync(cfgPath)) throw new Error(`${dir}: missing adapter_config.json`);
  if (!existsSync(wPath)) throw new Error(`${dir}: missing adapter_model.safetensors (adapter_model.bin is not supported)`);
  const cfg = JSON.parse(readFileSync(cfgPath, 'utf8')) as {
    peft_type?: string;
    r?: number;
    lora_alpha?: number;
    use_rslora?: boolean;
    target_modules?: string[] | string;
    rank_pattern?: Record<string, number>;
    alpha_pattern?: Record<string, number>;
  };
  if (cfg.peft_type && cfg.peft_type !== 'LORA') throw new Error(`${cfgPath}: peft_type ${cfg.peft_type} is not supported (only LORA)`);
  if (cfg.rank_pattern && Object.keys(cfg.rank_pattern).length) throw new Error(`${cfgPath}: rank_pattern is not supported`);
  const r = cfg.r ?? 8;
  const alpha = cfg.lora_alpha ?? r;
  const f = new SafetensorsFile(wPath);
  const modules = new Map<string, LoraModule>();
  for (const name of f.tensors.keys()) {
    const m = /^(?:base_model\.model\.)?(.*)\.lora_A(?:\.default)?\.weight$/.exec(name);
    if (!m) continue;
    const bName = name.replace('.lora_A', '.lora_B');
    if (!f.tensors.has(bName)) throw new Error(`${wPath}: ${name} has no matching lora_B tensor`);
    const a = f.info(name);
    const b = f.info(bName);
    const rank = a.shape[0]!;
    if (b.shape[1] !== rank) throw new Error(`${wPath}: ${bName} shape [${b.shape.join(', ')}] does not match rank ${rank}`);
    const scale = cfg.use_rslora ? alpha / Math.sqrt(rank) : alpha / rank;
    let base = m[1]!;
    if (!base.startsWith('model.') && !base.startsWith('lm_head')) base = `model.${base}`;
    modules.set(`${base}.weight`, { a: f.readF32(name), b: f.readF32(bName), rank, scale });
  }
  if (modules.size === 0) throw new Error(`${wPath}: no lora_A/lora_B tensors found`);
  const tm = cfg.target_modules;
  return { path: dir, rank: r, alpha, targetModules: Array.isArray(tm) ? tm : tm ? [tm] : [], modules };
}

/** Check an adapter's modules against a model (names and shapes). */
export function checkAdapter(model: LoadedModel, adapter: LoraAdapter): void {
  for (const [name, m] of adapter.modules) {
    if (!model.weights.has(name)) throw new Error(`${adapter.path}: adapter targets ${name}, which the model does not have`);
    const [out, inn] = model.weights.shape(name);
    if (m.a.length !== m.rank * inn! || m.b.length !== out! * m.rank)
      throw new Error(`${adapter.path}: adapter for ${name} has A ${m.a.length / m.rank}x${m.rank}, B ${m.b.length / m.rank}; weight is [${out}, ${inn}]`);
  }
}

/** W + scale·B·A for one module (W: [out, in], A: [r, in], B: [out, r]). */
export function mergeModule(w: Float32Array, out: number, inn: number, m: LoraModule): Float32Array {
  const res = Float32Array.from(w);
  const r = m.rank;
  for (let o = 0; o < out; o++) {
    const row = o * inn;
    for (let k = 0; k < r; k++) {
      const bk = m.b[o * r + k]! * m.scale;
      if (bk === 0) continue;
      const ar = k * inn;
      for (let i = 0; i < inn; i++) res[row + i]! += bk * m.a[ar + i]!;
    }
  }
  return res;
}

/** A model whose weights have the adapter merged in (lazily, per tensor). */
export function mergeLora(model: LoadedModel, adapter: LoraAdapter): LoadedModel {
  checkAdapter(model, adapter);
  const base = model.weights;
  const merged: WeightSource = {
    origin: `${base.origin} + ${adapter.path}`,
    names: () => base.names(),
    has: (n) => base.has(n),
    shape: (n) => base.shape(n),
    dtype: (n) => base.dtype(n),
    // merged modules become float32; the others keep their quantised form
    quantized: (n) => (adapter.modules.has(n) ? null : (base.quantized?.(n) ?? null)),
    f32: (n) => {
      const m = adapter.modules.get(n);
      const w = base.f32(n);
      if (!m) return w;
      const [out, inn] = base.shape(n);
      return mergeModule(w, out!, inn!, m);
    },
  };
  return { ...model, weights: merged, name: `${model.name}+lora` };
}
