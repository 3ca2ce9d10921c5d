/** Export a Llama/Mistral-architecture model (GGUF or HF folder) to a GGUF file (F32, F16 or Q8_0). */
import { writeGguf, type GgufMetaInput, type GgufTensorSource, type GgufWriteType } from './writer';
import { HfTokenizer } from '../hf/tokenizer';
import type { LoadedModel } from '../model/loaded';
import { expectedWeightShapes } from '../model/decoderGraph';
import { hfToGgufName, permuteQK } from './weights';
import { SpmTokenizer } from './tokenizer';

export interface ExportGgufOptions {
  /** storage type of 2-D weight matrices (norms are always F32); default F16 */
  type?: 'F32' | 'F16' | 'Q8_0';
  name?: string;
  /** per-tensor storage types (GGUF names, ggml dims), e.g. a quantisation mix (gguf/quantize.ts); overrides `type` */
  tensorTypes?: (tensors: { name: string; dims: number[] }[]) => Map<string, GgufWriteType>;
  /** general.file_type to record with tensorTypes (llama.cpp's LLAMA_FTYPE_*) */
  fileType?: number;
}

const FILE_TYPE = { F32: 0, F16: 1, Q8_0: 7 } as const;

function tokenizerMeta(model: LoadedModel): Record<string, GgufMetaInput> {
  const tok = model.tokenizer;
  const out: Record<string, GgufMetaInput> = {};
  const put = (k: string, x: number | null) => {
    if (x !== null) out[k] = { type: 'u32', value: x };
  };
  if (tok instanceof SpmTokenizer) {
    const v = tok.vocab;
    const pad = Math.max(0, model.config.vocabSize - v.tokens.length);
    const padIds = Array.from({ length: pad }, (_, i) => v.tokens.length + i);
    out['tokenizer.ggml.model'] = 'llama';
    out['tokenizer.ggml.tokens'] = { type: 'array', itemType: 'string', value: [...v.tokens, ...padIds.map((i) => `[PAD${i}]`)] };
    out['tokenizer.ggml.scores'] = { type: 'array', itemType: 'f32', value: [...v.scores, ...padIds.map(() => -1e9)] };
    out['tokenizer.ggml.token_type'] = { type: 'array', itemType: 'i32', value: [...v.types, ...padIds.map(() => 5)] };
    put('tokenizer.ggml.bos_token_id', v.bosId);
    put('tokenizer.ggml.eos_token_id', v.eosId);
    put('tokenizer.ggml.unknown_token_id', v.unkId);
    put('tokenizer.ggml.padding_token_id', v.padId);
    out['tokenizer.ggml.add_bos_token'] = v.addBos;
    out['tokenizer.ggml.add_space_prefix'] = v.addSpacePrefix;
  } else if (tok instanceof HfTokenizer) {
    const json = (tok.tok as unknown as { model?: { merges?: unknown } }).model;
    const merges = json && Array.isArray((json as { merges?: unknown[] }).merges) ? (json as { merges: unknown[] }).merges : null;
    if (!merges) throw new Error(`${model.path}: only BPE tokenizer.json files can be exported to GGUF (this one is not BPE)`);
    const tokens: string[] = [];
    const types: number[] = [];
    // pad to the embedding size like llama.cpp's converter (llama.cpp sizes the vocab from this list)
    for (let i = 0; i < Math.max(tok.vocabSize, model.config.vocabSize); i++) {
      const t = tok.idToToken(i);
      tokens.push(t ?? `[PAD${i}]`);
      types.push(t === undefined ? 5 : tok.isSpecial(i) ? 3 : 1);
    }
    out['tokenizer.ggml.model'] = 'gpt2';
    out['tokenizer.ggml.tokens'] = { type: 'array', itemType: 'string', value: tokens };
    out['tokenizer.ggml.token_type'] = { type: 'array', itemType: 'i32', value: types };
    out['tokenizer.ggml.merges'] = {
      type: 'array',
      itemType: 'string',
      value: merges.map((m) => (Array.isArray(m) ? (m as string[]).join(' ') : String(m))),
    };
    put('tokenizer.ggml.bos_token_id', tok.bosId);
    put('tokenizer.ggml.eos_token_id', tok.eosIds[0] ?? null);
    out['tokenizer.ggml.add_bos_token'] = tok.addBos;
  } else throw new Error(`${model.path}: cannot export this tokenizer to GGUF`);
  if (model.chatTemplate) out['tokenizer.chat_template'] = model.chatTemplate;
  return out;
}

/** A llama-architecture GGUF for `model`: its metadata and tensors (GGUF names, HF source names, storage types). */
export interface GgufExportPlan {
  metadata: Record<string, GgufMetaInput>;
  tensors: { name: string; dims: number[]; type: GgufWriteType; hfName: string; hfShape: number[] }[];
}

/** What exportGguf writes, without the data (the model merger writes its own). */
export function ggufExportPlan(model: LoadedModel, opts: ExportGgufOptions = {}): GgufExportPlan {
  const c = model.config;
  if (c.architecture !== 'llama' && c.architecture !== 'mistral')
    throw new Error(`exportGguf: architecture ${c.architecture} is not supported yet (llama, mistral)`);
  if (c.ropeScaling) throw new Error('exportGguf: rope scaling is not supported yet');
  if (c.attentionBias) throw new Error('exportGguf: attention biases are not supported for the llama GGUF architecture');
  const type = opts.type ?? 'F16';
  const metadata: Record<string, GgufMetaInput> = {
    'general.architecture': 'llama',
    'general.name': opts.name ?? model.name,
    'general.file_type': { type: 'u32', value: opts.fileType ?? FILE_TYPE[type] },
    ...(opts.tensorTypes ? { 'general.quantization_version': { type: 'u32', value: 2 } as const } : {}),
    'llama.vocab_size': { type: 'u32', value: c.vocabSize },
    'llama.context_length': { type: 'u32', value: c.maxPositions },
    'llama.embedding_length': { type: 'u32', value: c.hiddenSize },
    'llama.block_count': { type: 'u32', value: c.numLayers },
    'llama.feed_forward_length': { type: 'u32', value: c.intermediateSize },
    'llama.rope.dimension_count': { type: 'u32', value: c.headDim },
    'llama.attention.head_count': { type: 'u32', value: c.numHeads },
    'llama.attention.head_count_kv': { type: 'u32', value: c.numKvHeads },
    'llama.attention.key_length': { type: 'u32', value: c.headDim },
    'llama.attention.value_length': { type: 'u32', value: c.headDim },
    'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: c.rmsNormEps },
    'llama.rope.freq_base': { type: 'f32', value: c.ropeTheta },
    ...tokenizerMeta(model),
  };
  const tensors: GgufExportPlan['tensors'] = [];
  for (const [name, shape] of expectedWeightShapes(c)) {
    const gname = hfToGgufName(name);
    if (!gname) throw new Error(`exportGguf: no GGUF name for ${name}`);
    const is2d = shape.length === 2;
    tensors.push({
      name: gname,
      hfName: name,
      hfShape: shape,
      dims: shape.slice().reverse(),
      type: is2d ? (type === 'Q8_0' && shape[1]! % 32 !== 0 ? 'F16' : type) : 'F32',
    });
  }
  if (opts.tensorTypes) {
    const chosen = opts.tensorTypes(tensors);
    for (const t of tensors) t.type = chosen.get(t.name) ?? t.type;
  }
  return { metadata, tensors };
}

/** Write `model` as a llama-architecture GGUF. Tensors are converted and written one at a time. */
export function exportGguf(model: LoadedModel, outPath: string, opts: ExportGgufOptions = {}): void {
  const c = model.config;
  const plan = ggufExportPlan(model, opts);
  const tensors: GgufTensorSource[] = plan.tensors.map(({ hfName, hfShape, ...t }) => {
    const qk = /self_attn\.(q|k)_proj\.weight$/.exec(hfName);
    return {
      ...t,
      data: () => {
        const d = model.weights.f32(hfName);
        return qk ? permuteQK(d, qk[1] === 'q' ? c.numHeads : c.numKvHeads, hfShape[1]!) : d;
      },
    };
  });
  writeGguf(outPath, plan.metadata, tensors);
}
