/**
 * GGUF weights as a WeightSource: llama.cpp's tensor names mapped to Hugging Face names, the Q/K
 * rows permuted back from llama.cpp's rotary layout, and block-quantised tensors repacked into
 * onnxruntime's blockwise layout; read lazily one tensor at a time.
 */
import type { WeightSource } from '../model/weights';
import { readTensorBytes, readTensorF32, type GgufFile } from './reader';
import { canRepack, permuteQuantRows, repackMatrix, type QuantMatrix } from './repack';

/** Llama-family GGUF tensor names → HF names. */
export function ggufToHfName(n: string): string | null {
  const fixed: Record<string, string> = {
    'token_embd.weight': 'model.embed_tokens.weight',
    'output_norm.weight': 'model.norm.weight',
    'output.weight': 'lm_head.weight',
  };
  if (fixed[n]) return fixed[n]!;
  const m = /^blk\.(\d+)\.(\w+)\.(weight|bias)$/.exec(n);
  if (!m) return null;
  const map: Record<string, string> = {
    attn_q: 'self_attn.q_proj',
    attn_k: 'self_attn.k_proj',
    attn_v: 'self_attn.v_proj',
    attn_output: 'self_attn.o_proj',
    attn_norm: 'input_layernorm',
    ffn_gate: 'mlp.gate_proj',
    ffn_up: 'mlp.up_proj',
    ffn_down: 'mlp.down_proj',
    ffn_norm: 'post_attention_layernorm',
    post_attention_norm: 'post_attention_layernorm',
    post_ffw_norm: 'post_feedforward_layernorm',
  };
  const t = map[m[2]!];
  return t ? `model.layers.${m[1]}.${t}.${m[3]}` : null;
}

export function hfToGgufName(n: string): string | null {
  const fixed: Record<string, string> = {
    'model.embed_tokens.weight': 'token_embd.weight',
    'model.norm.weight': 'output_norm.weight',
    'lm_head.weight': 'output.weight',
  };
  if (fixed[n]) return fixed[n]!;
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(n);
  if (!m) return null;
  const map: Record<string, string> = {
    'self_attn.q_proj': 'attn_q',
    'self_attn.k_proj': 'attn_k',
    'self_attn.v_proj': 'attn_v',
    'self_attn.o_proj': 'attn_output',
    input_layernorm: 'attn_norm',
    'mlp.gate_proj': 'ffn_gate',
    'mlp.up_proj': 'ffn_up',
    'mlp.down_proj': 'ffn_down',
    post_attention_layernorm: 'ffn_norm',
  };
  const t = map[m[2]!];
  return t ? `blk.${m[1]}.${t}.${m[3]}` : null;
}

/**
 * llama.cpp's converter permutes Q/K rows so that interleaved ("normal") RoPE matches HF's
 * rotate_half RoPE. `unpermute` restores HF order; `permute` is its inverse (for the GGUF writer).
 */
export function unpermuteQK(w: Float32Array, nHeads: number, rowLen: number): Float32Array {
  return remapQKRows(w, nHeads, rowLen, 'to-hf');
}

export function permuteQK(w: Float32Array, nHeads: number, rowLen: number): Float32Array {
  return remapQKRows(w, nHeads, rowLen, 'to-gguf');
}

/** Row (h, i, j) sits at h·hd + 2i + j in GGUF order and at h·hd + j·hd/2 + i in HF order. */
function remapQKRows(w: Float32Array, nHeads: number, rowLen: number, direction: 'to-hf' | 'to-gguf'): Float32Array {
  const order = qkRowOrder(w.length / rowLen, nHeads, direction);
  const out = new Float32Array(w.length);
  order.forEach((src, dst) => out.set(w.subarray(src * rowLen, (src + 1) * rowLen), dst * rowLen));
  return out;
}

/** For each destination row, the source row of the Q/K head-order permutation. */
export function qkRowOrder(rows: number, nHeads: number, direction: 'to-hf' | 'to-gguf'): Int32Array {
  const hd = rows / nHeads;
  const half = hd / 2;
  const order = new Int32Array(rows);
  for (let h = 0; h < nHeads; h++)
    for (let i = 0; i < half; i++)
      for (let j = 0; j < 2; j++) {
        const gguf = h * hd + i * 2 + j;
        const hf = h * hd + j * half + i;
        if (direction === 'to-hf') order[hf] = gguf;
        else order[gguf] = hf;
      }
  return order;
}

export class GgufWeights implements WeightSource {
  readonly origin: string;
  private readonly map = new Map<string, string>();
  constructor(
    private readonly g: GgufFile,
    private readonly heads: { numHeads: number; numKvHeads: number },
  ) {
    this.origin = g.path;
    for (const t of g.tensors) {
      const hf = ggufToHfName(t.name);
      if (hf) this.map.set(hf, t.name);
    }
  }
  names(): string[] {
    return [...this.map.keys()];
  }
  has(name: string): boolean {
    return this.map.has(name);
  }
  private info(name: string) {
    const g = this.map.get(name);
    const t = g ? this.g.tensorMap.get(g) : undefined;
    if (!t) throw new Error(`${this.origin}: tensor for ${name} not found`);
    return t;
  }
  shape(name: string): number[] {
    return this.info(name).dims.slice().reverse();
  }
  dtype(name: string): string {
    return this.info(name).typeName;
  }
  f32(name: string): Float32Array {
    const t = this.info(name);
    const data = readTensorF32(this.g, t);
    const m = /self_attn\.(q|k)_proj\.(weight|bias)$/.exec(name);
    if (m) {
      const nh = m[1] === 'q' ? this.heads.numHeads : this.heads.numKvHeads;
      return unpermuteQK(data, nh, m[2] === 'weight' ? t.dims[0]! : 1);
    }
    return data;
  }
  quantized(name: string): QuantMatrix | null {
    const t = this.info(name);
    if (!canRepack(t.type) || t.dims.length !== 2) return null;
    let q: QuantMatrix;
    try {
      q = repackMatrix(t.type, readTensorBytes(this.g, t), t.dims[1]!, t.dims[0]!);
    } catch (e) {
      throw new Error(`${this.origin}: tensor ${t.name}: ${(e as Error).message}`);
    }
    const m = /self_attn\.(q|k)_proj\.weight$/.exec(name);
    if (m) q = permuteQuantRows(q, qkRowOrder(q.rows, m[1] === 'q' ? this.heads.numHeads : this.heads.numKvHeads, 'to-hf'));
    return q;
  }
}
