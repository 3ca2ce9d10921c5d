/** Tiny random Llama folders for the merge tests (config, safetensors, a byte-level BPE tokenizer). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../../../src/main/engine/hf/safetensors';
import { mulberry32 } from '../../../src/main/util/prng';
import { repoRoot } from '../../helpers/shared';

export const MERGE_FIX = join(repoRoot, 'test', 'fixtures', 'merge');

export interface LlamaShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
}

/** 258 tokens: the byte-level BPE tokenizer below, padded (so folders also export to GGUF) */
export const SMALL: LlamaShape = { vocab: 264, hidden: 32, layers: 2, heads: 4, kvHeads: 2, ff: 64 };

/** GPT-2's byte → printable character table. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  let n = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(bs.includes(b) ? b : 256 + n++);
  return map;
}

/** A byte-level BPE tokenizer (256 byte tokens, no merges, BOS/EOS at 256/257). */
function writeBpeTokenizer(dir: string): void {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((u, i) => (vocab[u] = i));
  const special = ['<s>', '</s>'];
  special.forEach((tkn, i) => (vocab[tkn] = 256 + i));
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      added_tokens: special.map((content, i) => ({ id: 256 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    }),
  );
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>' }));
}

export function llamaShapes(s: LlamaShape): Map<string, number[]> {
  const hd = s.hidden / s.heads;
  const m = new Map<string, number[]>([['model.embed_tokens.weight', [s.vocab, s.hidden]]]);
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    m.set(p + 'self_attn.q_proj.weight', [s.heads * hd, s.hidden]);
    m.set(p + 'self_attn.k_proj.weight', [s.kvHeads * hd, s.hidden]);
    m.set(p + 'self_attn.v_proj.weight', [s.kvHeads * hd, s.hidden]);
    m.set(p + 'self_attn.o_proj.weight', [s.hidden, s.heads * hd]);
    m.set(p + 'mlp.gate_proj.weight', [s.ff, s.hidden]);
    m.set(p + 'mlp.up_proj.weight', [s.ff, s.hidden]);
    m.set(p + 'mlp.down_proj.weight', [s.hidden, s.ff]);
    m.set(p + 'input_layernorm.weight', [s.hidden]);
    m.set(p + 'post_attention_layernorm.weight', [s.hidden]);
  }
  m.set('model.norm.weight', [s.hidden]);
  m.set('lm_head.weight', [s.vocab, s.hidden]);
  return m;
}

export type Tensors = Map<string, Float32Array>;

/** Random weights: norms near 1, matrices ~ U(−scale, scale); `from` + noise for a "fine-tuned" model. */
export function randomTensors(shape: LlamaShape, seed: number, from?: Tensors, scale = 0.3): Tensors {
  const rand = mulberry32(seed);
  const out: Tensors = new Map();
  for (const [name, sh] of llamaShapes(shape)) {
    const n = sh.reduce((a, b) => a * b, 1);
    const base = from?.get(name);
    out.set(
      name,
      Float32Array.from({ length: n }, (_, i) =>
        base ? base[i]! + (rand() - 0.5) * 0.1 : sh.length === 1 ? 1 + (rand() - 0.5) * 0.2 : (rand() - 0.5) * 2 * scale,
      ),
    );
  }
  return out;
}

/** Write a Hugging Face folder (config.json, model.safetensors in `dtype`, a byte-level BPE tokenizer). */
export function writeLlamaFolder(
  dir: string,
  shape: LlamaShape,
  tensors: Tensors,
  opts: { dtype?: 'F32' | 'F16' | 'BF16'; omit?: string[]; reshape?: Record<string, number[]> } = {},
): string {
  mkdirSync(dir, { recursive: true });
  const cfg = {
    model_type: 'llama',
    architectures: ['LlamaForCausalLM'],
    vocab_size: shape.vocab,
    hidden_size: shape.hidden,
    intermediate_size: shape.ff,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: shape.kvHeads,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 64,
    tie_word_embeddings: false,
    bos_token_id: 256,
    eos_token_id: 257,
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg, null, 2));
  writeBpeTokenizer(dir);
  const shapes = llamaShapes(shape);
  writeSafetensors(
    join(dir, 'model.safetensors'),
    [...tensors]
      .filter(([n]) => !opts.omit?.includes(n))
      .map(([name, data]) => ({ name, shape: opts.reshape?.[name] ?? shapes.get(name)!, dtype: opts.dtype ?? 'F32', data: () => data })),
  );
  return dir;
}

/** Every tensor of a folder's model.safetensors as float32. */
export function readFolder(dir: string): Tensors {
  const f = new SafetensorsFile(join(dir, 'model.safetensors'));
  return new Map([...f.tensors.keys()].map((n) => [n, f.readF32(n)]));
}
