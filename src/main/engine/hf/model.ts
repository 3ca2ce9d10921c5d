/** Hugging Face model folders: config.json families → DecoderConfig, safetensors weights, tokenizer. */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Architecture, DecoderConfig, RopeScaling } from '../model/config';
import { validateWeights } from '../model/decoder-graph';
import type { LoadedModel } from '../model/loaded';
import { SafetensorsWeights } from './safetensors';
import { HfTokenizer } from './tokenizer';

export class ModelFolderError extends Error {}

const SUPPORTED: Record<string, Architecture> = {
  llama: 'llama',
  mistral: 'mistral',
  qwen2: 'qwen2',
  gemma: 'gemma',
  gemma2: 'gemma2',
};

type Json = Record<string, unknown>;

function num(j: Json, k: string, file: string, def?: number): number {
  const v = j[k];
  if (v === undefined || v === null) {
    if (def !== undefined) return def;
    throw new ModelFolderError(`${file}: missing "${k}"`);
  }
  if (typeof v !== 'number') throw new ModelFolderError(`${file}: "${k}" must be a number`);
  return v;
}

/** Parse a config.json object (already read) into a DecoderConfig. */
export function configFromHf(j: Json, file = 'config.json'): DecoderConfig {
  const mt = String(j['model_type'] ?? '');
  const arch = SUPPORTED[mt];
  if (!arch) {
    const archs = Array.isArray(j['architectures']) ? ` (${(j['architectures'] as string[]).join(', ')})` : '';
    throw new ModelFolderError(`${file}: unknown architecture "${mt}"${archs}; supported model_type values: ${Object.keys(SUPPORTED).join(', ')}`);
  }
  const hidden = num(j, 'hidden_size', file);
  const heads = num(j, 'num_attention_heads', file);
  const kvHeads = num(j, 'num_key_value_heads', file, heads);
  const headDim = num(j, 'head_dim', file, hidden / heads);
  const layers = num(j, 'num_hidden_layers', file);
  const isGemma = arch === 'gemma' || arch === 'gemma2';
  let ropeScaling: RopeScaling | null = null;
  const rs = j['rope_scaling'] as Json | null | undefined;
  if (rs) {
    const type = String(rs['rope_type'] ?? rs['type'] ?? '');
    if (type === 'llama3')
      ropeScaling = {
        type: 'llama3',
        factor: num(rs, 'factor', file),
        lowFreqFactor: num(rs, 'low_freq_factor', file, 1),
        highFreqFactor: num(rs, 'high_freq_factor', file, 4),
        originalMaxPositions: num(rs, 'original_max_position_embeddings', file, 8192),
      };
    else if (type === 'linear') ropeScaling = { type: 'linear', factor: num(rs, 'factor', file) };
    else if (type !== 'default') throw new ModelFolderError(`${file}: rope_scaling type "${type}" is not supported (supported: llama3, linear)`);
  }
  const act = String(j['hidden_activation'] ?? j['hidden_act'] ?? (isGemma ? 'gelu_pytorch_tanh' : 'silu'));
  const activation = act === 'silu' ? 'silu' : act === 'gelu_pytorch_tanh' || act === 'gelu_new' ? 'gelu_tanh' : act === 'gelu' ? (isGemma ? 'gelu_tanh' : 'gelu') : null;
  if (!activation) throw new ModelFolderError(`${file}: activation "${act}" is not supported`);
  const window = typeof j['sliding_window'] === 'number' ? (j['sliding_window'] as number) : null;
  let slidingWindow: (number | null)[] = new Array<number | null>(layers).fill(null);
  if (arch === 'mistral' && window) slidingWindow = slidingWindow.map(() => window);
  if (arch === 'qwen2' && window && j['use_sliding_window'] === true) {
    const maxWin = num(j, 'max_window_layers', file, layers);
    slidingWindow = slidingWindow.map((_, l) => (l >= maxWin ? window : null));
  }
  if (arch === 'gemma2' && window) slidingWindow = slidingWindow.map((_, l) => (l % 2 === 0 ? window : null));
  const eos = j['eos_token_id'];
  const bos = j['bos_token_id'];
  return {
    architecture: arch,
    vocabSize: num(j, 'vocab_size', file),
    hiddenSize: hidden,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: num(j, 'intermediate_size', file),
    rmsNormEps: num(j, 'rms_norm_eps', file, 1e-6),
    ropeTheta: num(j, 'rope_theta', file, 10000),
    ropeScaling,
    maxPositions: num(j, 'max_position_embeddings', file, 2048),
    tieWordEmbeddings: (j['tie_word_embeddings'] as boolean | undefined) ?? (isGemma ? true : false),
    attentionBias: arch === 'qwen2' ? true : j['attention_bias'] === true,
    activation,
    normAddOne: isGemma,
    embedScale: isGemma ? Math.sqrt(hidden) : null,
    attnSoftcap: arch === 'gemma2' ? ((j['attn_logit_softcapping'] as number | null | undefined) ?? null) : null,
    finalSoftcap: arch === 'gemma2' ? ((j['final_logit_softcapping'] as number | null | undefined) ?? null) : null,
    attnScale: arch === 'gemma2' ? num(j, 'query_pre_attn_scalar', file, headDim) ** -0.5 : 1 / Math.sqrt(headDim),
    slidingWindow,
    sandwichNorms: arch === 'gemma2',
    bosTokenId: typeof bos === 'number' ? bos : null,
    eosTokenIds: typeof eos === 'number' ? [eos] : Array.isArray(eos) ? (eos as number[]) : [],
  };
}

/** Load a Hugging Face model folder (config.json, *.safetensors, tokenizer.json). Validates everything up front. */
export function loadHfModel(dir: string): LoadedModel {
  if (!existsSync(dir)) throw new ModelFolderError(`${dir}: folder not found`);
  const cfgPath = join(dir, 'config.json');
  if (!existsSync(cfgPath)) throw new ModelFolderError(`${dir}: missing config.json`);
  let j: Json;
  try {
    j = JSON.parse(readFileSync(cfgPath, 'utf8')) as Json;
  } catch (e) {
    throw new ModelFolderError(`${cfgPath}: not valid JSON (${(e as Error).message})`);
  }
  const config = configFromHf(j, cfgPath);
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
