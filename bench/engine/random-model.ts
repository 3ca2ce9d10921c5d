/**
 * Deterministic random-weight Llama models for the benchmark, written as GGUF with our writer
 * (llama.cpp and our engine then read the very same file). The tokenizer is stories260K's
 * SentencePiece vocabulary padded with filler tokens to `vocabSize`.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { readGguf } from '../../src/main/engine/gguf/reader';
import { writeGguf, type GgufTensorSource } from '../../src/main/engine/gguf/writer';

export interface RandomLlamaSpec {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  context: number;
  /** a separate LM head (output.weight) instead of reusing the token embeddings, as Llama-2 has */
  untiedOutput?: boolean;
}

export const LLAMA_100M: RandomLlamaSpec = { hidden: 768, layers: 12, heads: 12, kvHeads: 4, ffn: 2048, vocab: 32000, context: 2048 };

export function paramCount(s: RandomLlamaSpec): number {
  const hd = s.hidden / s.heads;
  const attn = 2 * s.hidden * s.hidden + 2 * s.hidden * s.kvHeads * hd;
  return s.layers * (attn + 3 * s.hidden * s.ffn + 2 * s.hidden) + (s.untiedOutput ? 2 : 1) * s.vocab * s.hidden + s.hidden;
}

function gaussianFiller(seed: number, std: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) + 1) / 4294967297;
  };
  return (n: number) => {
    const f = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(u())) * std;
      const th = 2 * Math.PI * u();
      f[i] = r * Math.cos(th);
      if (i + 1 < n) f[i + 1] = r * Math.sin(th);
    }
    return f;
  };
}

/** Write (once) a random Llama GGUF; returns its path. */
export function ensureRandomLlama(path: string, spec: RandomLlamaSpec, tokenizerFrom: string, type: 'F32' | 'F16' = 'F32'): string {
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const src = readGguf(tokenizerFrom);
  const baseTokens = src.metadata.get('tokenizer.ggml.tokens') as string[];
  const baseScores = src.metadata.get('tokenizer.ggml.scores') as number[];
  const baseTypes = src.metadata.get('tokenizer.ggml.token_type') as number[];
  const tokens = [...baseTokens];
  const scores = [...baseScores];
  const types = [...baseTypes];
  for (let i = tokens.length; i < spec.vocab; i++) {
    tokens.push(`<filler_${i}>`);
    scores.push(-1e6);
    types.push(4); // user defined: never produced by the SentencePiece merges of normal text
  }
  const hd = spec.hidden / spec.heads;
  const rnd = gaussianFiller(1234, 0.02);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const t: GgufTensorSource[] = [];
  const mat = (name: string, rows: number, cols: number): GgufTensorSource => ({ name, dims: [cols, rows], type, data: () => rnd(rows * cols) });
  t.push(mat('token_embd.weight', spec.vocab, spec.hidden));
  t.push({ name: 'output_norm.weight', dims: [spec.hidden], type: 'F32', data: () => ones(spec.hidden) });
  if (spec.untiedOutput) t.push(mat('output.weight', spec.vocab, spec.hidden));
  for (let l = 0; l < spec.layers; l++) {
    const p = `blk.${l}.`;
    t.push(mat(p + 'attn_q.weight', spec.hidden, spec.hidden));
    t.push(mat(p + 'attn_k.weight', spec.kvHeads * hd, spec.hidden));
    t.push(mat(p + 'attn_v.weight', spec.kvHeads * hd, spec.hidden));
    t.push(mat(p + 'attn_output.weight', spec.hidden, spec.hidden));
    t.push(mat(p + 'ffn_gate.weight', spec.ffn, spec.hidden));
    t.push(mat(p + 'ffn_up.weight', spec.ffn, spec.hidden));
    t.push(mat(p + 'ffn_down.weight', spec.hidden, spec.ffn));
    t.push({ name: p + 'attn_norm.weight', dims: [spec.hidden], type: 'F32', data: () => ones(spec.hidden) });
    t.push({ name: p + 'ffn_norm.weight', dims: [spec.hidden], type: 'F32', data: () => ones(spec.hidden) });
  }
  const u32 = (value: number) => ({ type: 'u32' as const, value });
  writeGguf(
    path,
    {
      'general.architecture': 'llama',
      'general.name': `random-llama-${Math.round(paramCount(spec) / 1e6)}M`,
      'general.file_type': u32(type === 'F32' ? 0 : 1),
      'llama.vocab_size': u32(spec.vocab),
      'llama.context_length': u32(spec.context),
      'llama.embedding_length': u32(spec.hidden),
      'llama.block_count': u32(spec.layers),
      'llama.feed_forward_length': u32(spec.ffn),
      'llama.rope.dimension_count': u32(hd),
      'llama.attention.head_count': u32(spec.heads),
      'llama.attention.head_count_kv': u32(spec.kvHeads),
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
      'llama.rope.freq_base': { type: 'f32', value: 10000 },
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: tokens },
      'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: scores },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
      'tokenizer.ggml.bos_token_id': u32(1),
      'tokenizer.ggml.eos_token_id': u32(2),
      'tokenizer.ggml.unknown_token_id': u32(0),
    },
    t,
  );
  return path;
}
