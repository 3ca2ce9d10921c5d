/**
 * LoRA configuration for training: which linear layers get adapters, their shapes and PEFT
 * initialisation (A: kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)); B: zeros).
 */
import type { DecoderConfig } from '../model/config';
import { expectedWeightShapes } from '../model/decoderGraph';
import type { Rng } from './rng';

export interface LoraConfig {
  /** rank r */
  rank: number;
  /** lora_alpha (scale = alpha / r, or alpha / sqrt(r) with rsLoRA) */
  alpha: number;
  /** dropout on the adapter input (PEFT lora_dropout), default 0 */
  dropout?: number;
  /** short names: q, k, v, o, gate, up, down (or q_proj, ..., down_proj); default q, v */
  targetModules?: string[];
  /** rank-stabilised scaling */
  useRslora?: boolean;
  /** only these layer indices (default all) */
  layers?: number[];
}

export interface LoraTarget {
  /** base weight name, e.g. model.layers.0.self_attn.q_proj.weight */
  weight: string;
  /** PEFT module path without ".weight" */
  module: string;
  /** short module name (q_proj...) */
  kind: string;
  inFeatures: number;
  outFeatures: number;
  rank: number;
  scale: number;
}

/** Trainable tensors of an adapter: A [r, in] and B [out, r] per target, in target order. */
export interface LoraParams {
  targets: LoraTarget[];
  /** "<weight>.lora_A" / "<weight>.lora_B" → data */
  tensors: Map<string, Float32Array>;
}

const MODULE_PATHS: Record<string, string> = {
  q_proj: 'self_attn.q_proj',
  k_proj: 'self_attn.k_proj',
  v_proj: 'self_attn.v_proj',
  o_proj: 'self_attn.o_proj',
  gate_proj: 'mlp.gate_proj',
  up_proj: 'mlp.up_proj',
  down_proj: 'mlp.down_proj',
};

export class LoraConfigError extends Error {}

export function normaliseTarget(t: string): string {
  const s = t.trim();
  if (MODULE_PATHS[s]) return s;
  if (MODULE_PATHS[`${s}_proj`]) return `${s}_proj`;
  return s;
}

export function loraScale(c: LoraConfig): number {
  return c.useRslora ? c.alpha / Math.sqrt(c.rank) : c.alpha / c.rank;
}

/** Resolve the target modules against a model config; names a target the model does not have. */
export function resolveLoraTargets(cfg: DecoderConfig, c: LoraConfig): LoraTarget[] {
  if (!Number.isInteger(c.rank) || c.rank < 1) throw new LoraConfigError(`LoRA rank must be a positive integer, got ${c.rank}`);
  if (!(c.alpha > 0)) throw new LoraConfigError(`LoRA alpha must be positive, got ${c.alpha}`);
  if (c.dropout !== undefined && !(c.dropout >= 0 && c.dropout < 1)) throw new LoraConfigError(`LoRA dropout must be in [0, 1), got ${c.dropout}`);
  const shapes = expectedWeightShapes(cfg);
  const kinds = (c.targetModules ?? ['q', 'v']).map(normaliseTarget);
  if (kinds.length === 0) throw new LoraConfigError('LoRA needs at least one target module');
  const available = Object.keys(MODULE_PATHS).filter((k) => shapes.has(`model.layers.0.${MODULE_PATHS[k]}.weight`));
  const layers = c.layers ?? [...Array(cfg.numLayers).keys()];
  for (const l of layers)
    if (!Number.isInteger(l) || l < 0 || l >= cfg.numLayers)
      throw new LoraConfigError(`LoRA layer ${l} does not exist (the model has ${cfg.numLayers} layers)`);
  const out: LoraTarget[] = [];
  for (const kind of [...new Set(kinds)]) {
    const path = MODULE_PATHS[kind];
    if (!path || !shapes.has(`model.layers.0.${path}.weight`))
      throw new LoraConfigError(`LoRA target module "${kind}" does not exist in this ${cfg.architecture} model (available: ${available.join(', ')})`);
    for (const l of layers) {
      const weight = `model.layers.${l}.${path}.weight`;
      const [o, i] = shapes.get(weight)!;
      out.push({ weight, module: `model.layers.${l}.${path}`, kind, inFeatures: i!, outFeatures: o!, rank: c.rank, scale: loraScale(c) });
    }
  }
  out.sort((a, b) => (a.weight < b.weight ? -1 : a.weight > b.weight ? 1 : 0));
  return out;
}

/** PEFT initialisation: A ~ U(-1/sqrt(in), 1/sqrt(in)), B = 0 (or N(0, bStd²) when bStd > 0, for tests). */
export function initLoraParams(targets: LoraTarget[], rng: Rng, opts: { bStd?: number } = {}): LoraParams {
  const tensors = new Map<string, Float32Array>();
  for (const t of targets) {
    const a = new Float32Array(t.rank * t.inFeatures);
    const bound = 1 / Math.sqrt(t.inFeatures);
    for (let i = 0; i < a.length; i++) a[i] = rng.uniform(-bound, bound);
    const b = new Float32Array(t.outFeatures * t.rank);
    if (opts.bStd) for (let i = 0; i < b.length; i++) b[i] = rng.normal() * opts.bStd;
    tensors.set(`${t.weight}.lora_A`, a);
    tensors.set(`${t.weight}.lora_B`, b);
  }
  return { targets, tensors };
}

/** [rows, cols] of a trainable tensor name */
export function loraTensorShape(t: LoraTarget, which: 'A' | 'B'): [number, number] {
  return which === 'A' ? [t.rank, t.inFeatures] : [t.outFeatures, t.rank];
}
