/**
 * Tiny random-weight llama GGUF files for the quantisation tests, with a self-contained
 * SentencePiece vocabulary (control tokens, the 256 byte tokens, filler words) that both our engine
 * and llama.cpp load. Deterministic for a given seed.
 */
import { writeGguf, type GgufTensorSource } from '../../src/main/engine/gguf/writer';

export interface TinySpec {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  vocab: number;
  /** separate output.weight (else tied to token_embd) */
  untied?: boolean;
  /** weight standard deviation (default 0.05) */
  std?: number;
  seed?: number;
}

function gaussian(seed: number, std: number) {
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
    for (let i = 0; i < n; i++) f[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()) * std;
    return f;
  };
}

export function writeTinyLlamaGguf(path: string, s: TinySpec): void {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  for (let i = tokens.length; i < s.vocab; i++) {
    tokens.push(`▁w${i}`);
    types.push(1);
  }
  const rnd = gaussian(s.seed ?? 7, s.std ?? 0.05);
  const norm = (n: number) => Float32Array.from(rnd(n), (v) => 1 + v);
  const hd = s.hidden / s.heads;
  const t: GgufTensorSource[] = [];
  const mat = (name: string, rows: number, cols: number): GgufTensorSource => ({ name, dims: [cols, rows], type: 'F32', data: () => rnd(rows * cols) });
  t.push(mat('token_embd.weight', s.vocab, s.hidden));
  t.push({ name: 'output_norm.weight', dims: [s.hidden], type: 'F32', data: () => norm(s.hidden) });
  if (s.untied) t.push(mat('output.weight', s.vocab, s.hidden));
  for (let l = 0; l < s.layers; l++) {
    const p = `blk.${l}.`;
    t.push(mat(`${p}attn_q.weight`, s.hidden, s.hidden));
    t.push(mat(`${p}attn_k.weight`, s.kvHeads * hd, s.hidden));
    t.push(mat(`${p}attn_v.weight`, s.kvHeads * hd, s.hidden));
    t.push(mat(`${p}attn_output.weight`, s.hidden, s.hidden));
    t.push(mat(`${p}ffn_gate.weight`, s.ffn, s.hidden));
    t.push(mat(`${p}ffn_up.weight`, s.ffn, s.hidden));
    t.push(mat(`${p}ffn_down.weight`, s.hidden, s.ffn));
    t.push({ name: `${p}attn_norm.weight`, dims: [s.hidden], type: 'F32', data: () => norm(s.hidden) });
    t.push({ name: `${p}ffn_norm.weight`, dims: [s.hidden], type: 'F32', data: () => norm(s.hidden) });
  }
  const u32 = (value: number) => ({ type: 'u32' as const, value });
  writeGguf(
    path,
    {
      'general.architecture': 'llama',
      'general.name': 'tiny-random-llama',
      'general.file_type': u32(0),
      'llama.vocab_size': u32(s.vocab),
      'llama.context_length': u32(256),
      'llama.embedding_length': u32(s.hidden),
      'llama.block_count': u32(s.layers),
      'llama.feed_forward_length': u32(s.ffn),
      'llama.rope.dimension_count': u32(hd),
      'llama.attention.head_count': u32(s.heads),
      'llama.attention.head_count_kv': u32(s.kvHeads),
      'llama.attention.layer_norm_rms_epsilon': { type: 'f32', value: 1e-5 },
      'llama.rope.freq_base': { type: 'f32', value: 10000 },
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': { type: 'array', itemType: 'string', value: tokens },
      'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: tokens.map((_, i) => -i) },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: types },
      'tokenizer.ggml.bos_token_id': u32(1),
      'tokenizer.ggml.eos_token_id': u32(2),
      'tokenizer.ggml.unknown_token_id': u32(0),
    },
    t,
  );
}
