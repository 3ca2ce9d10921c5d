/**
 * PEFT LoRA adapter folders (adapter_config.json + adapter_model.safetensors), read and written in
 * one place, as the other Hugging Face file formats are in hf/.
 *
 * The layout is the one Hugging Face PEFT's save_pretrained writes (and LLaMA-Factory, Axolotl and
 * the workbench's own trainer with it): keys `base_model.model.<module>.lora_A.weight` [r, in] and
 * `…lora_B.weight` [out, r].
 * - loadLoraAdapter reads any such adapter for inference: per module the rank and alpha of
 *   `rank_pattern` / `alpha_pattern` (PEFT's matching: the first key that matches the end of the
 *   module name at a dot) or `r` and `lora_alpha`; scale alpha/r, or alpha/√r with `use_rslora`;
 *   `target_modules` as a list or a regex string (the tensors present are what is applied).
 *   Variants that change the maths or the base weights are refused naming the config field: DoRA,
 *   trained biases (`bias` "all"/"lora_only" on a model that has biases), modules_to_save, inits
 *   that rewrite the base weights (PiSSA, OLoRA, LoftQ …), and so on. adapter_model.bin (a pickle)
 *   is never read.
 * - writePeftAdapter writes trained LoRA parameters in that layout (fsynced), and readPeftAdapter
 *   reads them back into the trainer's layout to resume a run.
 * Applying an adapter to a model (merged or unmerged) is ../lora.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LoraModule } from '../model/decoderGraph';
import { writeFileDurable } from '../train/fsutil';
import { loraTensorShape, normaliseTarget, type LoraConfig, type LoraParams, type LoraTarget } from '../train/lora';
import { SafetensorsFile, writeSafetensors } from './safetensors';

const CONFIG_FILE = 'adapter_config.json';
const WEIGHTS_FILE = 'adapter_model.safetensors';

/** PEFT's tensor key of a module's factor A [r, in] or B [out, r] (module: e.g. model.layers.0.self_attn.q_proj). */
const peftKey = (module: string, factor: 'A' | 'B') => `base_model.model.${module}.lora_${factor}.weight`;

// ---- reading any PEFT LoRA adapter (inference, merging)

export interface LoraAdapter {
  path: string;
  rank: number;
  alpha: number;
  targetModules: string[];
  /** base weight name (e.g. model.layers.0.self_attn.q_proj.weight) → module */
  modules: Map<string, LoraModule>;
}

/** The adapter_config.json fields this loader reads or refuses (PEFT's LoraConfig). */
interface PeftLoraConfig {
  peft_type?: unknown;
  r?: unknown;
  lora_alpha?: unknown;
  use_rslora?: unknown;
  target_modules?: unknown;
  rank_pattern?: unknown;
  alpha_pattern?: unknown;
  fan_in_fan_out?: unknown;
  lora_bias?: unknown;
  use_dora?: unknown;
  modules_to_save?: unknown;
  init_lora_weights?: unknown;
  layer_replication?: unknown;
  target_parameters?: unknown;
  trainable_token_indices?: unknown;
  use_qalora?: unknown;
  alora_invocation_tokens?: unknown;
  use_bdlora?: unknown;
}

/** init_lora_weights values that leave the base weights as they are (others, e.g. PiSSA, rewrite them). */
const PLAIN_INITS: readonly unknown[] = [true, false, null, undefined, 'gaussian', 'eva'];

const present = (v: unknown) =>
  v !== undefined &&
  v !== null &&
  v !== false &&
  !(Array.isArray(v) && v.length === 0) &&
  !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0);

/** Refuses the PEFT variants the engine cannot apply, naming the field and what to do instead. */
function refuseUnsupported(cfg: PeftLoraConfig, cfgPath: string): void {
  const no = (field: string, why: string) => {
    throw new Error(`${cfgPath}: ${field} ${why}`);
  };
  if (cfg.peft_type !== undefined && cfg.peft_type !== 'LORA')
    no('peft_type', `is ${JSON.stringify(cfg.peft_type)}: only LoRA adapters (peft_type "LORA") are supported`);
  if (cfg.use_dora === true) no('use_dora', 'is true: DoRA adapters (a learned magnitude per output) are not supported; train a plain LoRA (use_dora: false)');
  if (cfg.lora_bias === true) no('lora_bias', 'is true: a bias on lora_B is not supported');
  if (present(cfg.modules_to_save))
    no(
      'modules_to_save',
      `is ${JSON.stringify(cfg.modules_to_save)}: adapters that carry whole trained modules are not supported; merge the adapter with PEFT first or train without modules_to_save`,
    );
  if (!PLAIN_INITS.includes(cfg.init_lora_weights))
    no(
      'init_lora_weights',
      `is ${JSON.stringify(cfg.init_lora_weights)}: this initialisation rewrites the base weights, so the adapter only applies to that rewritten model; convert it to a plain LoRA first (PEFT save_pretrained(..., path_initial_model_for_weight_conversion=…), LLaMA-Factory pissa_convert: true)`,
    );
  if (present(cfg.layer_replication)) no('layer_replication', 'is set: adapters that replicate layers are not supported');
  if (present(cfg.target_parameters)) no('target_parameters', 'is set: LoRA on bare parameters (MoE experts) is not supported');
  if (present(cfg.trainable_token_indices)) no('trainable_token_indices', 'is set: trained token embeddings are not supported');
  if (cfg.use_qalora === true) no('use_qalora', 'is true: QA-LoRA adapters are not supported');
  if (present(cfg.alora_invocation_tokens)) no('alora_invocation_tokens', 'is set: activated LoRA (applied only after its invocation tokens) is not supported');
  if (present(cfg.use_bdlora)) no('use_bdlora', 'is set: block-diagonal LoRA is not supported');
}

function positive(v: unknown, field: string, cfgPath: string, fallback: number): number {
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new Error(`${cfgPath}: ${field} must be a positive number, got ${JSON.stringify(v)}`);
  return v;
}

/** rank_pattern / alpha_pattern as [compiled key, key, value], in the file's order (PEFT takes the first match). */
function patterns(v: unknown, field: string, cfgPath: string): Array<[RegExp, string, number]> {
  if (v === undefined || v === null) return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${cfgPath}: ${field} must be an object of module pattern → number`);
  return Object.entries(v as Record<string, unknown>).map(([key, value]) => {
    const n = positive(value, `${field}["${key}"]`, cfgPath, NaN);
    try {
      // PEFT: re.match(rf"(.*\.)?({key})$", module_name)
      return [new RegExp(`^(?:.*\\.)?(?:${key})$`), key, n];
    } catch (e) {
      throw new Error(`${cfgPath}: ${field} key "${key}" is not a regular expression this loader can read: ${(e as Error).message}`);
    }
  });
}

function patternValue(pats: Array<[RegExp, string, number]>, module: string, fallback: number): number {
  for (const [re, , value] of pats) if (re.test(module)) return value;
  return fallback;
}

function readConfig(cfgPath: string): PeftLoraConfig {
  let cfg: unknown;
  try {
    cfg = JSON.parse(readFileSync(cfgPath, 'utf8'));
  } catch (e) {
    throw new Error(`${cfgPath}: not a readable JSON file: ${(e as Error).message}`);
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) throw new Error(`${cfgPath}: must hold a JSON object`);
  return cfg as PeftLoraConfig;
}

/** A tensor key that is not a LoRA factor: why the adapter cannot be applied, naming the config field. */
function unexpectedTensor(name: string, wPath: string): Error {
  if (/\.lora_magnitude_vector(\.|$)/.test(name)) return new Error(`${wPath}: ${name} is a DoRA magnitude (use_dora): DoRA adapters are not supported`);
  if (/\.lora_embedding_[AB](\.|$)/.test(name))
    return new Error(`${wPath}: ${name} is a LoRA on an embedding layer (target_modules includes embed_tokens): not supported; target the linear layers only`);
  if (/\.lora_B(\.[^.]+)?\.bias$/.test(name)) return new Error(`${wPath}: ${name} is a bias on lora_B (lora_bias): not supported`);
  if (/\.modules_to_save\./.test(name)) return new Error(`${wPath}: ${name} is a whole trained module (modules_to_save): not supported`);
  if (/\.bias$/.test(name)) return new Error(`${wPath}: ${name} is a trained bias (bias "all" or "lora_only"): not supported; train with bias "none"`);
  if (/(^|\.)(embed_tokens|lm_head|wte|embed_in)\.weight$/.test(name))
    return new Error(
      `${wPath}: ${name} is a full embedding or output matrix saved with the adapter (the vocabulary was resized or the layer trained): not supported`,
    );
  return new Error(`${wPath}: ${name} is not a LoRA factor (…lora_A.weight / …lora_B.weight): this is not a plain PEFT LoRA adapter`);
}

/** Load a PEFT LoRA adapter folder. */
export function loadLoraAdapter(dir: string): LoraAdapter {
  const cfgPath = join(dir, CONFIG_FILE);
  const wPath = join(dir, WEIGHTS_FILE);
  if (!existsSync(cfgPath)) throw new Error(`${dir}: missing adapter_config.json (not a PEFT adapter folder)`);
  if (!existsSync(wPath)) {
    if (existsSync(join(dir, 'adapter_model.bin')))
      throw new Error(
        `${dir}: only adapter_model.bin is there, a Python pickle, which is never loaded (unpickling can run code); save the adapter as safetensors (PEFT save_pretrained(..., safe_serialization=True), the default)`,
      );
    throw new Error(`${dir}: missing ${WEIGHTS_FILE}`);
  }
  const cfg = readConfig(cfgPath);
  refuseUnsupported(cfg, cfgPath);
  const r = positive(cfg.r, 'r', cfgPath, 8);
  const alpha = positive(cfg.lora_alpha, 'lora_alpha', cfgPath, 8);
  if (cfg.use_rslora !== undefined && typeof cfg.use_rslora !== 'boolean') throw new Error(`${cfgPath}: use_rslora must be true or false`);
  // fan_in_fan_out only concerns GPT-2-style Conv1D layers; every layer the engine adapts is a
  // Linear, for which PEFT itself turns it off, so the factors are [r, in] and [out, r] either way.
  const rankPatterns = patterns(cfg.rank_pattern, 'rank_pattern', cfgPath);
  const alphaPatterns = patterns(cfg.alpha_pattern, 'alpha_pattern', cfgPath);

  const f = new SafetensorsFile(wPath);
  const modules = new Map<string, LoraModule>();
  for (const name of f.tensors.keys()) {
    if (/\.lora_B(\.[^.]+)?\.weight$/.test(name)) continue;
    const m = /^(?:base_model\.model\.)?(.*)\.lora_A(\.[^.]+)?\.weight$/.exec(name);
    if (!m) throw unexpectedTensor(name, wPath);
    const bName = name.replace('.lora_A', '.lora_B');
    if (!f.tensors.has(bName)) throw new Error(`${wPath}: ${name} has no matching lora_B tensor`);
    const a = f.info(name);
    const b = f.info(bName);
    const rank = a.shape[0]!;
    if (a.shape.length !== 2 || b.shape.length !== 2 || b.shape[1] !== rank)
      throw new Error(`${wPath}: ${name} [${a.shape.join(', ')}] and ${bName} [${b.shape.join(', ')}] are not LoRA factors [r, in] and [out, r]`);
    const module = m[1]!;
    const wantRank = patternValue(rankPatterns, module, r);
    if (rank !== wantRank)
      throw new Error(`${wPath}: ${module} has rank ${rank}, but the config gives it ${wantRank} (r${rankPatterns.length ? ' / rank_pattern' : ''})`);
    const moduleAlpha = patternValue(alphaPatterns, module, alpha);
    const scale = cfg.use_rslora === true ? moduleAlpha / Math.sqrt(rank) : moduleAlpha / rank;
    const base = module.startsWith('model.') || module.startsWith('lm_head') ? module : `model.${module}`;
    modules.set(`${base}.weight`, { a: f.readF32(name), b: f.readF32(bName), rank, scale });
  }
  for (const name of f.tensors.keys()) {
    if (/\.lora_B(\.[^.]+)?\.weight$/.test(name) && !f.tensors.has(name.replace('.lora_B', '.lora_A')))
      throw new Error(`${wPath}: ${name} has no matching lora_A tensor`);
  }
  if (modules.size === 0) throw new Error(`${wPath}: no lora_A/lora_B tensors found`);
  const tm = cfg.target_modules;
  const targetModules = Array.isArray(tm) ? tm.map(String) : typeof tm === 'string' ? [tm] : [];
  return { path: dir, rank: r, alpha, targetModules, modules };
}

// ---- the trainer's adapters: written at the end of a run and in each checkpoint, read back to resume

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
  writeFileDurable(join(dir, CONFIG_FILE), JSON.stringify(config, null, 2));
  const tensors = params.targets.flatMap((t) =>
    (['A', 'B'] as const).map((w) => ({
      name: peftKey(t.module, w),
      shape: loraTensorShape(t, w),
      dtype: 'F32' as const,
      data: () => params.tensors.get(`${t.weight}.lora_${w}`)!,
    })),
  );
  const path = join(dir, WEIGHTS_FILE);
  writeSafetensors(path, tensors, { format: 'pt' });
  writeFileDurable(path, null);
}

/** Read trained parameters back (for resuming) into the given targets' layout; each factor's shape is checked. */
export function readPeftAdapter(dir: string, targets: LoraTarget[]): LoraParams {
  const path = join(dir, WEIGHTS_FILE);
  if (!existsSync(path)) throw new Error(`${dir}: missing ${WEIGHTS_FILE}`);
  const f = new SafetensorsFile(path);
  const tensors = new Map<string, Float32Array>();
  for (const t of targets)
    for (const w of ['A', 'B'] as const) {
      const name = peftKey(t.module, w);
      const info = f.info(name);
      const [r, c] = loraTensorShape(t, w);
      if (info.shape[0] !== r || info.shape[1] !== c) throw new Error(`${path}: ${name} has shape [${info.shape.join(', ')}], expected [${r}, ${c}]`);
      tensors.set(`${t.weight}.lora_${w}`, f.readF32(name));
    }
  return { targets, tensors };
}
