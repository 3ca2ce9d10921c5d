/** Hugging Face model folders: config.json families → DecoderConfig, safetensors weights, tokenizer. */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { checkedInt, checkedPositive, checkHeads, CONFIG_LIMITS, type Architecture, type DecoderConfig, type RopeScaling } from '../model/config';
import { validateWeights } from '../model/decoderGraph';
import type { LoadedModel } from '../model/loaded';
import { describeJson, isPlainObject, ModelFileError, readJsonObject } from '../files';
import { SafetensorsWeights } from './safetensors';
import { HfTokenizer } from './tokenizer';

export class ModelFolderError extends ModelFileError {}

const SUPPORTED: Record<string, Architecture> = {
  llama: 'llama',
  mistral: 'mistral',
  qwen2: 'qwen2',
  gemma: 'gemma',
  gemma2: 'gemma2',
};

/** config.json files are a few kilobytes; anything past this is not one. */
export const MAX_CONFIG_BYTES = 16 * 2 ** 20;
/** Token ids (BOS, EOS) are below 2^31 in every tokenizer format. */
const MAX_TOKEN_ID = 2 ** 31 - 1;
const MAX_EOS_IDS = 1024;

type Json = Record<string, unknown>;

function given(j: Json, k: string): boolean {
  return j[k] !== undefined && j[k] !== null;
}

/** A whole-number field within [min, max] (or `def` when absent). */
function int(j: Json, k: string, file: string, max: number, def?: number, min = 1): number {
  if (!given(j, k)) {
    if (def !== undefined) return def;
    throw new ModelFolderError(`${file}: missing "${k}"`);
  }
  return checkedInt(j[k], file, `"${k}"`, min, max);
}

/** A positive finite number field (or `def` when absent). */
function positive(j: Json, k: string, file: string, def?: number): number {
  if (!given(j, k)) {
    if (def !== undefined) return def;
    throw new ModelFolderError(`${file}: missing "${k}"`);
  }
  return checkedPositive(j[k], file, `"${k}"`);
}

function optionalPositive(j: Json, k: string, file: string): number | null {
  return given(j, k) ? checkedPositive(j[k], file, `"${k}"`) : null;
}

function tokenIds(j: Json, k: string, file: string): number[] {
  const v = j[k];
  if (!given(j, k)) return [];
  const list = Array.isArray(v) ? v : [v];
  if (list.length > MAX_EOS_IDS) throw new ModelFolderError(`${file}: "${k}" lists ${list.length} ids (at most ${MAX_EOS_IDS})`);
  return list.map((x, i) => checkedInt(x, file, Array.isArray(v) ? `"${k}"[${i}]` : `"${k}"`, 0, MAX_TOKEN_ID));
}

function ropeScalingFrom(j: Json, file: string): RopeScaling | null {
  const rs = j['rope_scaling'];
  if (rs === undefined || rs === null) return null;
  if (!isPlainObject(rs)) throw new ModelFolderError(`${file}: "rope_scaling" is ${describeJson(rs)}; expected an object or null`);
  const type = String(rs['rope_type'] ?? rs['type'] ?? '');
  const at = `${file} rope_scaling`;
  if (type === 'llama3') {
    const lowFreqFactor = positive(rs, 'low_freq_factor', at, 1);
    const highFreqFactor = positive(rs, 'high_freq_factor', at, 4);
    if (highFreqFactor <= lowFreqFactor)
      throw new ModelFolderError(`${file}: rope_scaling "high_freq_factor" (${highFreqFactor}) must be greater than "low_freq_factor" (${lowFreqFactor})`);
    return {
      type: 'llama3',
      factor: positive(rs, 'factor', at),
      lowFreqFactor,
      highFreqFactor,
      originalMaxPositions: int(rs, 'original_max_position_embeddings', at, CONFIG_LIMITS.maxPositions, 8192),
    };
  }
  if (type === 'linear') return { type: 'linear', factor: positive(rs, 'factor', at) };
  if (type !== 'default') throw new ModelFolderError(`${file}: rope_scaling type "${type}" is not supported (supported: llama3, linear)`);
  return null;
}

/**
 * Parse a config.json object (already read) into a DecoderConfig. Every size is checked against
 * CONFIG_LIMITS before anything is sized by it; the error names the file and the field.
 */
export function configFromHf(j: Json, file = 'config.json'): DecoderConfig {
  if (!isPlainObject(j)) throw new ModelFolderError(`${file}: expected a JSON object, found ${describeJson(j)}`);
  const mt = String(j['model_type'] ?? '');
  const arch = Object.hasOwn(SUPPORTED, mt) ? SUPPORTED[mt] : undefined;
  if (!arch) {
    const archs = Array.isArray(j['architectures']) ? ` (${(j['architectures'] as unknown[]).map(String).join(', ')})` : '';
    throw new ModelFolderError(`${file}: unknown architecture "${mt}"${archs}; supported model_type values: ${Object.keys(SUPPORTED).join(', ')}`);
  }
  const hidden = int(j, 'hidden_size', file, CONFIG_LIMITS.hiddenSize);
  const heads = int(j, 'num_attention_heads', file, CONFIG_LIMITS.numHeads);
  const kvHeads = int(j, 'num_key_value_heads', file, CONFIG_LIMITS.numKvHeads, heads);
  if (!given(j, 'head_dim') && hidden % heads !== 0)
    throw new ModelFolderError(`${file}: "hidden_size" (${hidden}) is not a multiple of "num_attention_heads" (${heads}) and no "head_dim" is given`);
  const headDim = int(j, 'head_dim', file, CONFIG_LIMITS.headDim, hidden / heads);
  if (headDim > CONFIG_LIMITS.headDim)
    throw new ModelFolderError(
      `${file}: the head dimension ("hidden_size" / "num_attention_heads") is ${headDim}; at most ${CONFIG_LIMITS.headDim} is supported`,
    );
  checkHeads({ numHeads: heads, numKvHeads: kvHeads, headDim }, file, {
    heads: '"num_attention_heads"',
    kvHeads: '"num_key_value_heads"',
    headDim: '"head_dim"',
  });
  const layers = int(j, 'num_hidden_layers', file, CONFIG_LIMITS.numLayers);
  const maxPositions = int(j, 'max_position_embeddings', file, CONFIG_LIMITS.maxPositions, 2048);
  const isGemma = arch === 'gemma' || arch === 'gemma2';
  const ropeScaling = ropeScalingFrom(j, file);
  const act = String(j['hidden_activation'] ?? j['hidden_act'] ?? (isGemma ? 'gelu_pytorch_tanh' : 'silu'));
  const activation =
    act === 'silu' ? 'silu' : act === 'gelu_pytorch_tanh' || act === 'gelu_new' ? 'gelu_tanh' : act === 'gelu' ? (isGemma ? 'gelu_tanh' : 'gelu') : null;
  if (!activation) throw new ModelFolderError(`${file}: activation "${act}" is not supported`);
  // absent, null, false or 0: no sliding window
  const window =
    given(j, 'sliding_window') && j['sliding_window'] !== false ? int(j, 'sliding_window', file, CONFIG_LIMITS.maxPositions, undefined, 0) || null : null;
  let slidingWindow: (number | null)[] = new Array<number | null>(layers).fill(null);
  if (arch === 'mistral' && window) slidingWindow = slidingWindow.map(() => window);
  if (arch === 'qwen2' && window && j['use_sliding_window'] === true) {
    const maxWin = int(j, 'max_window_layers', file, CONFIG_LIMITS.numLayers, layers, 0);
    slidingWindow = slidingWindow.map((_, l) => (l >= maxWin ? window : null));
  }
  if (arch === 'gemma2' && window) slidingWindow = slidingWindow.map((_, l) => (l % 2 === 0 ? window : null));
  const tie = j['tie_word_embeddings'];
  if (tie !== undefined && tie !== null && typeof tie !== 'boolean')
    throw new ModelFolderError(`${file}: "tie_word_embeddings" is ${describeJson(tie)}; expected true or false`);
  const bos = tokenIds(j, 'bos_token_id', file);
  return {
    architecture: arch,
    vocabSize: int(j, 'vocab_size', file, CONFIG_LIMITS.vocabSize),
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: int(j, 'intermediate_size', file, CONFIG_LIMITS.intermediateSize),
    rmsNormEps: positive(j, 'rms_norm_eps', file, 1e-6),
    ropeTheta: positive(j, 'rope_theta', file, 10000),
    ropeScaling,
    maxPositions,
    tieWordEmbeddings: typeof tie === 'boolean' ? tie : isGemma,
    attentionBias: arch === 'qwen2' ? true : j['attention_bias'] === true,
    activation,
    normAddOne: isGemma,
    embedScale: isGemma ? Math.sqrt(hidden) : null,
    attnSoftcap: arch === 'gemma2' ? optionalPositive(j, 'attn_logit_softcapping', file) : null,
    finalSoftcap: arch === 'gemma2' ? optionalPositive(j, 'final_logit_softcapping', file) : null,
    attnScale: arch === 'gemma2' ? positive(j, 'query_pre_attn_scalar', file, headDim) ** -0.5 : 1 / Math.sqrt(headDim),
    slidingWindow,
    sandwichNorms: arch === 'gemma2',
    bosTokenId: bos.length ? bos[0]! : null,
    eosTokenIds: tokenIds(j, 'eos_token_id', file),
  };
}

/** Reads and checks a model folder's config.json (the folder must exist and hold one). */
export function readHfConfig(dir: string): DecoderConfig {
  if (!existsSync(dir)) throw new ModelFolderError(`${dir}: folder not found`);
  if (!statSync(dir).isDirectory()) throw new ModelFolderError(`${dir}: not a folder (expected a Hugging Face model folder)`);
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new ModelFolderError(`${dir}: missing config.json`);
  return configFromHf(readJsonObject(cfgPath, 'config.json', MAX_CONFIG_BYTES), cfgPath);
}

/** Load a Hugging Face model folder (config.json, *.safetensors, tokenizer.json). Validates everything up front. */
export function loadHfModel(dir: string): LoadedModel {
  const config = readHfConfig(dir);
  const weights = new SafetensorsWeights(dir, (n) => (n.startsWith('model.') || n === 'lm_head.weight' ? n : null));
  // some checkpoints carry lm_head.weight even when tied; honour the config but accept it
  validateWeights(config, weights);
  for (const n of weights.names()) {
    const dt = weights.dtype(n);
    if (!['F32', 'F16', 'BF16', 'F64'].includes(dt)) throw new ModelFolderError(`${dir}: tensor ${n} has dtype ${dt}; only F32/F16/BF16 weights are supported`);
  }
  const tokenizer = HfTokenizer.fromFolder(dir, config.eosTokenIds);
  if (tokenizer.vocabSize > config.vocabSize)
    throw new ModelFolderError(
      `${join(dir, 'tokenizer.json')}: tokenizer has ${tokenizer.vocabSize} tokens but the embedding matrix (config vocab_size) has only ${config.vocabSize} rows`,
    );
  return {
    format: 'hf',
    path: dir,
    name: basename(dir),
    config,
    tokenizer,
    weights,
    chatTemplate: tokenizer.chatTemplate(),
  };
}
