/**
 * Random fp16 Llama-shaped Hugging Face folders for the merge benchmark: a base and "fine-tunes"
 * (base + small noise), written tensor by tensor into 2 GB shards as Hugging Face does, with a
 * config.json. Values come from mulberry32 seeded per tensor, so a fine-tune regenerates its base's
 * tensor instead of reading it.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { encodeInto } from '../../src/main/merge/codec';
import { hashName } from '../../src/main/merge/sparsify';
import { mulberry32 } from '../../src/main/util/prng';

export interface BenchShape {
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ff: number;
}

/** TinyLlama-1.1B's shape: 1.1 B parameters, 2.2 GB in fp16, largest tensor 65.5 M values (131 MB). */
export const LLAMA_1B: BenchShape = { vocab: 32000, hidden: 2048, layers: 22, heads: 32, kvHeads: 4, ff: 5632 };

export function benchTensors(s: BenchShape): [string, number[]][] {
  const hd = s.hidden / s.heads;
  const out: [string, number[]][] = [['model.embed_tokens.weight', [s.vocab, s.hidden]]];
  for (let l = 0; l < s.layers; l++) {
    const p = `model.layers.${l}.`;
    out.push(
      [p + 'self_attn.q_proj.weight', [s.heads * hd, s.hidden]],
      [p + 'self_attn.k_proj.weight', [s.kvHeads * hd, s.hidden]],
      [p + 'self_attn.v_proj.weight', [s.kvHeads * hd, s.hidden]],
      [p + 'self_attn.o_proj.weight', [s.hidden, s.heads * hd]],
      [p + 'mlp.gate_proj.weight', [s.ff, s.hidden]],
      [p + 'mlp.up_proj.weight', [s.ff, s.hidden]],
      [p + 'mlp.down_proj.weight', [s.hidden, s.ff]],
      [p + 'input_layernorm.weight', [s.hidden]],
      [p + 'post_attention_layernorm.weight', [s.hidden]],
    );
  }
  out.push(['model.norm.weight', [s.hidden]], ['lm_head.weight', [s.vocab, s.hidden]]);
  return out;
}

export const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function values(name: string, shape: number[], noiseSeed: number | null): Float32Array {
  const n = numelOf(shape);
  const out = new Float32Array(n);
  const rand = mulberry32(hashName(name));
  if (shape.length === 1) for (let i = 0; i < n; i++) out[i] = 1 + (rand() - 0.5) * 0.1;
  else for (let i = 0; i < n; i++) out[i] = (rand() - 0.5) * 0.04;
  if (noiseSeed !== null) {
    const noise = mulberry32(hashName(name) ^ Math.imul(noiseSeed, 0x9e3779b1));
    for (let i = 0; i < n; i++) out[i]! += (noise() - 0.5) * 0.004;
  }
  return out;
}

/** Write one folder: `noiseSeed` null for the base, a number for a fine-tune. Returns the bytes of tensor data. */
export function writeBenchModel(dir: string, s: BenchShape, noiseSeed: number | null, shardBytes = 2e9): number {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify(
      {
        model_type: 'llama',
        architectures: ['LlamaForCausalLM'],
        vocab_size: s.vocab,
        hidden_size: s.hidden,
        intermediate_size: s.ff,
        num_hidden_layers: s.layers,
        num_attention_heads: s.heads,
        num_key_value_heads: s.kvHeads,
        rms_norm_eps: 1e-5,
        max_position_embeddings: 2048,
        tie_word_embeddings: false,
        torch_dtype: 'float16',
      },
      null,
      2,
    ),
  );
  const tensors = benchTensors(s);
  const shards: [string, number[]][][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const b = numelOf(t[1]) * 2;
    if (size > 0 && size + b > shardBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += b;
  }
  const pad = (n: number) => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  let total = 0;
  shards.forEach((shard, k) => {
    const file = `model-${pad(k + 1)}-of-${pad(shards.length)}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let off = 0;
    for (const [name, shape] of shard) {
      const b = numelOf(shape) * 2;
      header[name] = { dtype: 'F16', shape, data_offsets: [off, off + b] };
      off += b;
      weightMap[name] = file;
    }
    total += off;
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - (json.length % 8)) % 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const fd = openSync(join(dir, file), 'w');
    try {
      writeSync(fd, len);
      writeSync(fd, json);
      for (const [name, shape] of shard) {
        const v = values(name, shape, noiseSeed);
        const bytes = new Uint8Array(v.length * 2);
        encodeInto('F16', v, bytes);
        for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30));
      }
    } finally {
      closeSync(fd);
    }
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }));
  return total;
}
