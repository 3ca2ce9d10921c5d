/** Load a Llama-architecture GGUF file as a DecoderConfig + weight source + tokenizer. */
import { GgufError, metaNumber, metaString, readGguf, type GgufFile } from './reader';
import { SpmTokenizer } from './tokenizer';
import { checkedInt, checkedPositive, checkHeads, CONFIG_LIMITS, type DecoderConfig } from '../model/config';
import { GgufWeights } from './weights';
import type { LoadedModel } from '../model/loaded';

/** The model description in a GGUF header; every size is checked against CONFIG_LIMITS, the error names the key. */
export function configFromGguf(g: GgufFile): DecoderConfig {
  const arch = metaString(g, 'general.architecture');
  if (arch !== 'llama')
    throw new GgufError(`${g.path}: GGUF architecture "${arch}" is not supported (supported: llama; convert other models from their Hugging Face folders)`);
  const k = (s: string) => `${arch}.${s}`;
  const int = (key: string, max: number, def?: number) => checkedInt(metaNumber(g, k(key), def), g.path, `metadata ${k(key)}`, 1, max);
  const positive = (key: string, def: number) => checkedPositive(metaNumber(g, k(key), def), g.path, `metadata ${k(key)}`);
  const hidden = int('embedding_length', CONFIG_LIMITS.hiddenSize);
  const heads = int('attention.head_count', CONFIG_LIMITS.numHeads);
  const kvHeads = int('attention.head_count_kv', CONFIG_LIMITS.numKvHeads, heads);
  if (!g.metadata.has(k('attention.key_length')) && hidden % heads !== 0)
    throw new GgufError(`${g.path}: metadata ${k('embedding_length')} (${hidden}) is not a multiple of ${k('attention.head_count')} (${heads})`);
  const headDim = int('attention.key_length', CONFIG_LIMITS.headDim, hidden / heads);
  checkHeads({ numHeads: heads, numKvHeads: kvHeads, headDim }, g.path, {
    heads: `metadata ${k('attention.head_count')}`,
    kvHeads: `metadata ${k('attention.head_count_kv')}`,
    headDim: 'the head dimension',
  });
  const ropeDim = metaNumber(g, k('rope.dimension_count'), headDim);
  if (ropeDim !== headDim) throw new GgufError(`${g.path}: partial rotary embeddings (rope dim ${ropeDim} < head dim ${headDim}) are not supported`);
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const vocab = int('vocab_size', CONFIG_LIMITS.vocabSize, Array.isArray(tokens) ? tokens.length : g.tensorMap.get('token_embd.weight')?.dims[1]);
  const ctx = int('context_length', CONFIG_LIMITS.maxPositions, 2048);
  const scalingType = g.metadata.get(k('rope.scaling.type'));
  const factor = positive('rope.scaling.factor', 1);
  const eos = g.metadata.get('tokenizer.ggml.eos_token_id');
  const bos = g.metadata.get('tokenizer.ggml.bos_token_id');
  return {
    architecture: 'llama',
    vocabSize: vocab,
    hiddenSize: hidden,
    numLayers: int('block_count', CONFIG_LIMITS.numLayers),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: int('feed_forward_length', CONFIG_LIMITS.intermediateSize),
    rmsNormEps: positive('attention.layer_norm_rms_epsilon', 1e-5),
    ropeTheta: positive('rope.freq_base', 10000),
    ropeScaling: scalingType === 'linear' && factor !== 1 ? { type: 'linear', factor } : null,
    maxPositions: ctx,
    tieWordEmbeddings: !g.tensorMap.has('output.weight'),
    attentionBias: g.tensorMap.has('blk.0.attn_q.bias'),
    activation: 'silu',
    normAddOne: false,
    embedScale: null,
    attnSoftcap: null,
    finalSoftcap: null,
    attnScale: 1 / Math.sqrt(headDim),
    slidingWindow: [],
    sandwichNorms: false,
    bosTokenId: typeof bos === 'number' ? bos : null,
    eosTokenIds: typeof eos === 'number' ? [eos] : [],
  };
}

export function loadGgufModel(path: string): LoadedModel {
  const g = readGguf(path);
  const config = configFromGguf(g);
  const tokenizer = SpmTokenizer.fromGguf(g);
  if (tokenizer.vocabSize > config.vocabSize)
    throw new GgufError(`${path}: tokenizer has ${tokenizer.vocabSize} tokens but the embedding matrix has only ${config.vocabSize} rows`);
  const weights = new GgufWeights(g, { numHeads: config.numHeads, numKvHeads: config.numKvHeads });
  const tmpl = g.metadata.get('tokenizer.chat_template');
  return {
    format: 'gguf',
    path,
    name: typeof g.metadata.get('general.name') === 'string' ? (g.metadata.get('general.name') as string) : path,
    config,
    tokenizer,
    weights,
    chatTemplate: typeof tmpl === 'string' ? tmpl : null,
  };
}
