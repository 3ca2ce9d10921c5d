/** Load a Llama-architecture GGUF file as a DecoderConfig + weight source + tokenizer. */
import { metaNumber, metaString, readGguf, type GgufFile } from '../gguf/reader';
import { SpmTokenizer } from '../tokenizer/spm';
import type { DecoderConfig } from './config';
import { GgufWeights } from './weights';
import type { LoadedModel } from './loaded';

export function configFromGguf(g: GgufFile): DecoderConfig {
  const arch = metaString(g, 'general.architecture');
  if (arch !== 'llama')
    throw new Error(`${g.path}: GGUF architecture "${arch}" is not supported (supported: llama; convert other models from their Hugging Face folders)`);
  const k = (s: string) => `${arch}.${s}`;
  const hidden = metaNumber(g, k('embedding_length'));
  const heads = metaNumber(g, k('attention.head_count'));
  const kvHeads = metaNumber(g, k('attention.head_count_kv'), heads);
  const headDim = metaNumber(g, k('attention.key_length'), hidden / heads);
  const ropeDim = metaNumber(g, k('rope.dimension_count'), headDim);
  if (ropeDim !== headDim) throw new Error(`${g.path}: partial rotary embeddings (rope dim ${ropeDim} < head dim ${headDim}) are not supported`);
  const tokens = g.metadata.get('tokenizer.ggml.tokens');
  const vocab = metaNumber(g, k('vocab_size'), Array.isArray(tokens) ? tokens.length : g.tensorMap.get('token_embd.weight')?.dims[1] ?? 0);
  const ctx = metaNumber(g, k('context_length'), 2048);
  const scalingType = g.metadata.get(k('rope.scaling.type'));
  const factor = metaNumber(g, k('rope.scaling.factor'), 1);
  const eos = g.metadata.get('tokenizer.ggml.eos_token_id');
  const bos = g.metadata.get('tokenizer.ggml.bos_token_id');
  return {
    architecture: 'llama',
    vocabSize: vocab,
    hiddenSize: hidden,
    numLayers: metaNumber(g, k('block_count')),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: metaNumber(g, k('feed_forward_length')),
    rmsNormEps: metaNumber(g, k('attention.layer_norm_rms_epsilon'), 1e-5),
    ropeTheta: metaNumber(g, k('rope.freq_base'), 10000),
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
    throw new Error(`${path}: tokenizer has ${tokenizer.vocabSize} tokens but the embedding matrix has only ${config.vocabSize} rows`);
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
