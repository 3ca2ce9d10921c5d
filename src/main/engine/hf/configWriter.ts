/**
 * config.json for a DecoderConfig (Llama, Mistral, Qwen2): what Hugging Face's model classes and this
 * engine's loader read. Every config written is parsed back with the loader's own configFromHf and
 * must give the same DecoderConfig, so a model is never described wrongly; a configuration this
 * file cannot express is refused by name.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DecoderConfig } from '../model/config';
import { configFromHf } from './model';

const CLASS: Partial<Record<DecoderConfig['architecture'], string>> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

const ACT: Record<DecoderConfig['activation'], string> = { silu: 'silu', gelu_tanh: 'gelu_pytorch_tanh', gelu: 'gelu' };

/** The config.json object of `cfg` (`extra` fields are added, e.g. torch_dtype). */
export function hfConfigJson(cfg: DecoderConfig, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cls = CLASS[cfg.architecture];
  if (!cls) throw new Error(`config.json: writing a ${cfg.architecture} configuration is not supported (llama, mistral, qwen2)`);
  const windows = [...new Set(cfg.slidingWindow)];
  const j: Record<string, unknown> = {
    architectures: [cls],
    model_type: cfg.architecture,
    vocab_size: cfg.vocabSize,
    hidden_size: cfg.hiddenSize,
    intermediate_size: cfg.intermediateSize,
    num_hidden_layers: cfg.numLayers,
    num_attention_heads: cfg.numHeads,
    num_key_value_heads: cfg.numKvHeads,
    head_dim: cfg.headDim,
    hidden_act: ACT[cfg.activation],
    max_position_embeddings: cfg.maxPositions,
    rms_norm_eps: cfg.rmsNormEps,
    rope_theta: cfg.ropeTheta,
    rope_scaling:
      cfg.ropeScaling?.type === 'llama3'
        ? {
            rope_type: 'llama3',
            factor: cfg.ropeScaling.factor,
            low_freq_factor: cfg.ropeScaling.lowFreqFactor,
            high_freq_factor: cfg.ropeScaling.highFreqFactor,
            original_max_position_embeddings: cfg.ropeScaling.originalMaxPositions,
          }
        : cfg.ropeScaling?.type === 'linear'
          ? { rope_type: 'linear', factor: cfg.ropeScaling.factor }
          : null,
    tie_word_embeddings: cfg.tieWordEmbeddings,
    bos_token_id: cfg.bosTokenId,
    eos_token_id: cfg.eosTokenIds.length === 1 ? cfg.eosTokenIds[0] : cfg.eosTokenIds.length ? cfg.eosTokenIds : null,
    ...extra,
  };
  if (cfg.architecture === 'llama') j['attention_bias'] = cfg.attentionBias;
  if (cfg.architecture === 'mistral') j['sliding_window'] = windows.length === 1 ? windows[0] : null;
  if (cfg.architecture === 'qwen2') {
    // Qwen2: layers from max_window_layers on use the window
    const first = cfg.slidingWindow.findIndex((w) => w !== null);
    j['use_sliding_window'] = first >= 0;
    if (first >= 0) {
      j['sliding_window'] = cfg.slidingWindow[first];
      j['max_window_layers'] = first;
    }
  }
  // (a GGUF model's config lists no per-layer windows; config.json's reader lists a null for each layer)
  const want = { ...cfg, slidingWindow: Array.from({ length: cfg.numLayers }, (_, l) => cfg.slidingWindow[l] ?? null) };
  const back = configFromHf(j, 'config.json');
  if (!isDeepStrictEqual(back, want)) {
    const diff = (Object.keys(want) as (keyof DecoderConfig)[]).filter((k) => !isDeepStrictEqual(back[k], want[k]));
    throw new Error(
      `config.json: this ${cfg.architecture} configuration cannot be written as a Hugging Face config (it would read back differently: ${diff.join(', ')})`,
    );
  }
  return j;
}
