/**
 * Per-tensor parameter values, as mergekit evaluates its YAML settings: a model's own setting, else
 * the top-level one, else the method's default. Conditions apply the first whose filter is a
 * substring of the tensor name; a gradient (list of numbers) is interpolated at t = layer / (layers
 * − 1) for layer tensors (t = 1 for a one-layer model) and read at t = 0 for the others (embeddings,
 * final norm, lm_head), as mergekit's planner does.
 */
import { MERGE_METHOD_INFO, type MergeConfig, type MergeMethodId, type ParamSetting } from '../../shared/merge';

export type ParamValue = number | boolean;

/** mergekit's evaluate_setting: the value of a setting for one tensor, or undefined when no condition matches. */
export function evaluateSetting(setting: ParamSetting, tensorName: string, t: number): ParamValue | undefined {
  if (typeof setting === 'number' || typeof setting === 'boolean') return setting;
  if (Array.isArray(setting) && setting.every((x) => typeof x === 'number')) {
    const g = setting as number[];
    const scaled = t * (g.length - 1);
    const i0 = Math.floor(scaled);
    const i1 = Math.min(g.length - 1, i0 + 1);
    const frac = scaled - i0;
    return (1 - frac) * g[i0]! + frac * g[i1]!;
  }
  const conds = Array.isArray(setting) ? setting : [setting];
  for (const c of conds) {
    if (typeof c === 'number') continue;
    if (c.filter === undefined || c.filter === null || c.filter === '*' || (tensorName && tensorName.includes(c.filter)))
      return evaluateSetting(c.value, tensorName, t);
  }
  return undefined;
}

/** The gradient position of a tensor: layer / (layers − 1) inside the layer stack, 0 outside it. */
export function gradientT(tensorName: string, numLayers: number): number {
  const m = /(?:^|\.)layers\.(\d+)\./.exec(tensorName) ?? /^blk\.(\d+)\./.exec(tensorName);
  if (!m) return 0;
  return numLayers > 1 ? Number(m[1]) / (numLayers - 1) : 1;
}

export interface TensorParams {
  /** global parameters (normalize, lambda, t, …) with defaults filled in */
  global: Record<string, ParamValue>;
  /** per-model parameters (weight, density), in config.models order; the base has none */
  perModel: Record<string, ParamValue>[];
}

function lookup(name: string, settings: (Record<string, ParamSetting> | undefined)[], tensorName: string, t: number): ParamValue | undefined {
  for (const s of settings) {
    if (!s || !(name in s)) continue;
    const v = evaluateSetting(s[name]!, tensorName, t);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * Resolve every parameter of `config` for one tensor. `contributors` are the indices into
 * config.models of the models whose task vectors (or values) the method combines. Throws naming
 * the tensor and model when a required value has no matching condition.
 */
export function resolveTensorParams(config: MergeConfig, method: MergeMethodId, contributors: number[], tensorName: string, numLayers: number): TensorParams {
  const info = MERGE_METHOD_INFO[method];
  const t = gradientT(tensorName, numLayers);
  const global: Record<string, ParamValue> = {};
  for (const [name, def] of Object.entries(info.global)) {
    const v = lookup(name, [config.parameters], tensorName, t) ?? def.default;
    if (v === undefined) throw new Error(`missing required parameter ${name} for tensor ${tensorName} (no condition matches it)`);
    global[name] = v;
  }
  const perModel = contributors.map((i) => {
    const m = config.models[i]!;
    const out: Record<string, ParamValue> = {};
    for (const [name, def] of Object.entries(info.perModel)) {
      const v = lookup(name, [m.parameters, config.parameters], tensorName, t) ?? def.default;
      if (v === undefined) throw new Error(`missing required parameter ${name} for ${m.model.modelPath} at tensor ${tensorName} (no condition matches it)`);
      out[name] = v;
    }
    return out;
  });
  return { global, perModel };
}
