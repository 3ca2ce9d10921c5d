/**
 * Decoder-only transformer graphs (Llama / Mistral / Qwen2 / Gemma / Gemma 2) built from one
 * DecoderConfig, so the full-sequence graph and the KV-cache step graph cannot drift.
 *
 * Inputs: input_ids [B,S] int64, attention_mask [B,T] int64 (T = past + S; 1 keeps a position, 0
 * is padding), position_ids [B,S] int64, and with kvCache past_key_values [B, 2·layers·kvHeads, P,
 * headDim]: every layer's keys then values stacked on axis 1 (layer l's keys are channels
 * [2l·kvHeads, (2l+1)·kvHeads), its values the next kvHeads). Outputs: logits [B,S,V] (or [B,1,V]
 * with logits: 'last') and with kvCache new_key_values [B, 2·layers·kvHeads, S, headDim] in the same
 * layout: only the new positions, which the caller appends to its cache.
 * Why not Optimum's per-layer past/present tensors: onnxruntime-node copies every output into a
 * fresh ArrayBuffer on each run (returning the whole present cache would allocate it anew every
 * token), and each input or output tensor costs ~5 µs in the binding per run, so one packed tensor
 * each way instead of 2·layers is ~10% of a small model's decode step.
 */
import { Graph, type Value } from '../graph';
import { toHalfArray } from '../half';
import { concatQuantRows, type QuantMatrix } from '../gguf/repack';
import { ropeInvFreq, type DecoderConfig } from './config';
import type { WeightSource } from './weights';

export interface LoraModule {
  /** [r, in] */
  a: Float32Array;
  /** [out, r] */
  b: Float32Array;
  rank: number;
  scale: number;
}

export interface DecoderGraphOptions {
  /** past_key_values input and new_key_values output (packed, see above) */
  kvCache: boolean;
  /** logits for every position ('all') or only the last one ('last', cheaper for generation) */
  logits: 'all' | 'last';
  /** use onnxruntime fused ops (SimplifiedLayerNormalization, FusedMatMul); inference only */
  fused?: boolean;
  /** declare these weights as graph inputs instead of initializers (e.g. for training graphs) */
  weightAsInput?: (name: string) => boolean;
  /** how frozen weights become initializers (default: g.weight, in-memory external data); see WeightFileWriter */
  storeWeight?: (g: Graph, name: string, data: Float32Array | Uint16Array | Uint8Array, shape: number[], dtype: 'float32' | 'float16' | 'uint8') => Value;
  /**
   * Keep the weights the source holds block-quantised (WeightSource.quantized) quantised in memory
   * instead of dequantising them to float32. Fused graphs run them with com.microsoft MatMulNBits
   * (projections, LM head) and GatherBlockQuantized (embeddings); accuracyLevel 4 quantises the
   * activations to int8 per block (fast, like llama.cpp's CPU kernels), 0 computes in float32; the
   * CPU kernel needs onnxruntime pre-packing. Plain-op graphs (training: QLoRA-style LoRA on a
   * quantised frozen base) dequantise each frozen matrix to float32 where it is used
   * (GatherBlockQuantized of all rows, indices computed from the layer input so onnxruntime cannot
   * fold it into a permanent float32 copy, as the fp16 path does) and differentiate through the
   * plain MatMul; accuracyLevel is unused there.
   */
  quant?: { accuracyLevel: 0 | 4 };
  /**
   * Storage of the projection matrices in fused graphs (default float32). 'float16' stores them in
   * fp16 (fp16 Gemm on fp16-cast activations, outputs cast back to fp32; norms, attention and
   * residuals stay fp32; embeddings and a tied LM head stay fp32). Measured on this x86 CPU (no
   * native fp16 GEMM): ~40% slower decoding and no lower peak RSS, because onnxruntime converts per
   * call; it is meant for GPU execution providers. Keep float32 on CPU.
   * In plain-op (training) graphs, 'float16' stores the frozen projection matrices in fp16 and
   * casts each to fp32 where it is used (see `linear`): half the frozen-weight memory, fp32 compute.
   */
  weightDtype?: 'float32' | 'float16';
  /** unmerged LoRA: module weight name (e.g. "model.layers.0.self_attn.q_proj.weight") → adapter */
  lora?: Map<string, LoraModule>;
  /**
   * LoRA factors as graph inputs (training): weight name → { rank, scale }. Declares inputs
   * "<weight>.lora_A" [rank, in] and "<weight>.lora_B" [out, rank] and adds
   * scale · (x Aᵀ) Bᵀ with plain MatMul/Transpose/Mul ops.
   */
  loraInputs?: Map<string, { rank: number; scale: number }>;
  /** ai.onnx opset (default 21) */
  opset?: number;
  /**
   * Called with every linear layer's input and output (after bias and unmerged LoRA); the value it
   * returns replaces the output. Training graphs use it to add LoRA terms whose A/B are graph inputs.
   */
  linearHook?: (g: Graph, x: Value, y: Value, weightName: string, label: string) => Value;
}

export const NEG_INF = -1e9;

export class ShapeMismatchError extends Error {}

/** Expected PyTorch-order shapes of every weight the config implies. */
export function expectedWeightShapes(cfg: DecoderConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const H = cfg.hiddenSize;
  const q = cfg.numHeads * cfg.headDim;
  const kv = cfg.numKvHeads * cfg.headDim;
  m.set('model.embed_tokens.weight', [cfg.vocabSize, H]);
  m.set('model.norm.weight', [H]);
  if (!cfg.tieWordEmbeddings) m.set('lm_head.weight', [cfg.vocabSize, H]);
  for (let l = 0; l < cfg.numLayers; l++) {
    const p = `model.layers.${l}`;
    m.set(`${p}.self_attn.q_proj.weight`, [q, H]);
    m.set(`${p}.self_attn.k_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.v_proj.weight`, [kv, H]);
    m.set(`${p}.self_attn.o_proj.weight`, [H, q]);
    if (cfg.attentionBias) {
      m.set(`${p}.self_attn.q_proj.bias`, [q]);
      m.set(`${p}.self_attn.k_proj.bias`, [kv]);
      m.set(`${p}.self_attn.v_proj.bias`, [kv]);
    }
    m.set(`${p}.mlp.gate_proj.weight`, [cfg.intermediateSize, H]);
    m.set(`${p}.mlp.up_proj.weight`, [cfg.intermediateSize, H]);
    m.set(`${p}.mlp.down_proj.weight`, [H, cfg.intermediateSize]);
    m.set(`${p}.input_layernorm.weight`, [H]);
    m.set(`${p}.post_attention_layernorm.weight`, [H]);
    if (cfg.sandwichNorms) {
      m.set(`${p}.pre_feedforward_layernorm.weight`, [H]);
      m.set(`${p}.post_feedforward_layernorm.weight`, [H]);
    }
  }
  return m;
}

/** Check that a weight source has every tensor the config needs, with matching shapes. */
export function validateWeights(cfg: DecoderConfig, src: WeightSource): void {
  const problems: string[] = [];
  for (const [name, shape] of expectedWeightShapes(cfg)) {
    if (!src.has(name)) {
      problems.push(`missing tensor ${name}`);
      continue;
    }
    const s = src.shape(name);
    if (s.join(',') !== shape.join(',')) problems.push(`tensor ${name} has shape [${s.join(', ')}] but the config implies [${shape.join(', ')}]`);
  }
  if (problems.length)
    throw new ShapeMismatchError(
      `${src.origin}: weights do not match the model config: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? ` (and ${problems.length - 5} more)` : ''}`,
    );
}

/** Build a decoder graph. Weights are read from `src` one by one as the graph is declared. */
export function buildDecoderGraph(cfg: DecoderConfig, src: WeightSource, opts: DecoderGraphOptions): Graph {
  const fused = opts.fused ?? true;
  const g = new Graph(`${cfg.architecture}_${opts.kvCache ? 'step' : 'full'}`, opts.opset ?? 21);
  const H = cfg.hiddenSize;
  const nh = cfg.numHeads;
  const kvh = cfg.numKvHeads;
  const hd = cfg.headDim;
  const rep = nh / kvh;
  if (!Number.isInteger(rep)) throw new Error(`config: num_attention_heads ${nh} is not a multiple of num_key_value_heads ${kvh}`);
  const shapes = expectedWeightShapes(cfg);

  const weights = new Map<string, Value>();
  const W = (name: string, transform?: (d: Float32Array) => Float32Array): Value => {
    const cached = weights.get(name);
    if (cached) return cached;
    const shape = shapes.get(name);
    if (!shape) throw new Error(`internal: no expected shape for ${name}`);
    let v: Value;
    if (opts.weightAsInput?.(name)) v = g.input(name, 'float32', shape);
    else {
      if (!src.has(name)) throw new ShapeMismatchError(`${src.origin}: missing tensor ${name}`);
      const s = src.shape(name);
      if (s.join(',') !== shape.join(','))
        throw new ShapeMismatchError(`${src.origin}: tensor ${name} has shape [${s.join(', ')}] but the config implies [${shape.join(', ')}]`);
      let d = src.f32(name);
      if (transform) d = transform(d);
      v = opts.storeWeight ? opts.storeWeight(g, name, d, shape, 'float32') : g.weight(name, d, shape);
    }
    weights.set(name, v);
    return v;
  };
  const half = fused && opts.weightDtype === 'float16';
  /** fp16 copy of a projection weight (fused graphs with weightDtype float16) */
  const W16 = (name: string): Value => {
    const key = `${name}#f16`;
    const cached = weights.get(key);
    if (cached) return cached;
    const shape = shapes.get(name)!;
    if (!src.has(name)) throw new ShapeMismatchError(`${src.origin}: missing tensor ${name}`);
    const s = src.shape(name);
    if (s.join(',') !== shape.join(','))
      throw new ShapeMismatchError(`${src.origin}: tensor ${name} has shape [${s.join(', ')}] but the config implies [${shape.join(', ')}]`);
    const d = toHalfArray(src.f32(name));
    const v = opts.storeWeight ? opts.storeWeight(g, name, d, shape, 'float16') : g.weight(name, d, shape, 'float16');
    weights.set(key, v);
    return v;
  };
  /** y = x2 · Wᵀ (+ bias) for a 2-D x2, in fp32 or through fp16 weights */
  const gemm = (x2: Value, wName: string, bias: Value | null, label: string): Value => {
    if (!half) return g.op('Gemm', [x2, W(wName), bias], { transB: 1 }, { name: label });
    const y16 = g.op('Gemm', [g.cast(x2, 'float16', `${label}_in_f16`), W16(wName)], { transB: 1 }, { name: label });
    const y = g.cast(y16, 'float32', `${label}_out_f32`);
    return bias ? g.add(y, bias, `${label}_bias`) : y;
  };

  // [B,S] of the current activations, for reshaping 2-D fp16 Gemm outputs back to 3-D (built on
  // first use: fp32 graphs multiply the 3-D activations directly and need no shapes)
  let bsFull: Value | null = null;
  let lastOnly = false;
  let bsShape: Value | null = null;
  const outShapes = new Map<number, Value>();
  const shape3 = (out: number): Value => {
    if (!bsShape) {
      bsFull ??= g.op('Shape', [ids], {}, { name: 'batch_seq' }); // [B,S]
      bsShape = lastOnly ? g.concat([g.slice(bsFull, [0], [1], [0]), g.constInt64([1])], 0, 'batch_one') : bsFull;
    }
    let v = outShapes.get(out);
    if (!v) {
      v = g.concat([bsShape, g.constInt64([out])], 0, `${lastOnly ? 'shape_b1' : 'shape_bs'}_${out}`);
      outShapes.set(out, v);
    }
    return v;
  };

  // ---- block-quantised weights (opts.quant): MatMulNBits / GatherBlockQuantized
  const quantCache = new Map<string, QuantMatrix | null>();
  /** the quantised form of a frozen weight in a fused graph with opts.quant, else null */
  const quantized = (name: string): QuantMatrix | null => {
    if (!opts.quant || opts.weightAsInput?.(name) || !src.quantized) return null;
    if (!quantCache.has(name)) {
      if (!src.has(name)) throw new ShapeMismatchError(`${src.origin}: missing tensor ${name}`);
      const qm = src.quantized(name);
      const shape = shapes.get(name)!;
      if (qm && (qm.rows !== shape[0] || qm.cols !== shape[1]))
        throw new ShapeMismatchError(`${src.origin}: tensor ${name} has shape [${qm.rows}, ${qm.cols}] but the config implies [${shape.join(', ')}]`);
      quantCache.set(name, qm);
    }
    return quantCache.get(name)!;
  };
  const storeAny = (name: string, data: Float32Array | Uint8Array, shape: number[], dtype: 'float32' | 'uint8'): Value =>
    opts.storeWeight ? opts.storeWeight(g, name, data, shape, dtype) : g.weight(name, data, shape, dtype);
  /** the initializers of a quantised matrix, declared once (the LM head may share the embedding's) */
  const quantInits = new Map<string, { codes: Value; scales: Value; mins: Value | null; zeros: Value | null }>();
  const quantInitsFor = (name: string, qm: QuantMatrix) => {
    let v = quantInits.get(name);
    if (!v) {
      const kb = qm.cols / qm.blockSize;
      const codes = storeAny(`${name}#codes`, qm.codes, [qm.rows, kb, (qm.blockSize * qm.bits) / 8], 'uint8');
      const scales = storeAny(`${name}#scales`, qm.scales, [qm.rows, kb], 'float32');
      const mins = qm.mins ? storeAny(`${name}#mins`, qm.mins, [qm.rows, kb], 'float32') : null;
      const zeros = qm.zeroPoints ? storeAny(`${name}#zero_points`, qm.zeroPoints, [qm.rows, qm.zeroPoints.length / qm.rows], 'uint8') : null;
      v = { codes, scales, mins, zeros };
      quantInits.set(name, v);
    }
    return v;
  };
  /** Σx over each block of the last axis ([..., K] → [..., K/block]), once per activation and block size */
  const blockSums = new Map<string, Value>();
  const blockSum = (x: Value, K: number, bs: number, label: string): Value => {
    const key = `${x.name}/${bs}`;
    let v = blockSums.get(key);
    if (!v) {
      v = g.op('ReduceSum', [g.reshape(x, [0, 0, K / bs, bs], `${label}_blocks`), g.constInt64([-1])], { keepdims: 0 }, { name: `${label}_block_sums` });
      blockSums.set(key, v);
    }
    return v;
  };
  /** y = x·Wᵀ with W block-quantised: MatMulNBits, minus Σ_block min·Σx for formats with (residual) mins */
  const quantMatMul = (x: Value, name: string, qm: QuantMatrix, label: string): Value => {
    const q = quantInitsFor(name, qm);
    let y = g.op(
      'MatMulNBits',
      [x, q.codes, q.scales, q.zeros],
      { K: qm.cols, N: qm.rows, bits: qm.bits, block_size: qm.blockSize, accuracy_level: opts.quant!.accuracyLevel },
      { domain: 'com.microsoft', name: label },
    );
    if (q.mins) {
      const m = g.op('FusedMatMul', [blockSum(x, qm.cols, qm.blockSize, label), q.mins], { transB: 1 }, { domain: 'com.microsoft', name: `${label}_mins` });
      y = g.sub(y, m, `${label}_minus_mins`);
    }
    return y;
  };
  /** plain-op graphs: the float32 matrix of a quantised weight, recomputed where it is used (after `x`) */
  const dequantAfter = (x: Value, name: string, qm: QuantMatrix, label: string): Value => {
    const q = quantInitsFor(name, qm);
    const data = storeAny(`${name}#rows`, qm.codes, [qm.rows, (qm.cols * qm.bits) / 8], 'uint8');
    const idx = g.add(
      g.op('Range', [g.constInt64([0], []), g.constInt64([qm.rows], []), g.constInt64([1], [])], {}, { name: `${label}_w_rows` }),
      zeroOf(x, label),
      `${label}_w_idx`,
    );
    let w = g.op(
      'GatherBlockQuantized',
      [data, idx, q.scales, q.zeros],
      { bits: qm.bits, block_size: qm.blockSize, gather_axis: 0, quantize_axis: 1 },
      { domain: 'com.microsoft', name: `${label}_w_dequant` },
    );
    if (q.mins) {
      const kb = qm.cols / qm.blockSize;
      const blocks = g.sub(g.reshape(w, [qm.rows, kb, qm.blockSize], `${label}_w_blocks`), g.unsqueeze(q.mins, [-1]), `${label}_w_minus_mins`);
      w = g.reshape(blocks, [qm.rows, qm.cols], `${label}_w32`);
    }
    return w;
  };
  /** embedding rows of a block-quantised table */
  const quantGather = (name: string, qm: QuantMatrix, idx: Value): Value => {
    const q = quantInitsFor(name, qm);
    const kb = qm.cols / qm.blockSize;
    // the same bytes as the MatMulNBits codes, seen as [rows, cols·bits/8]
    const data = storeAny(`${name}#rows`, qm.codes, [qm.rows, (qm.cols * qm.bits) / 8], 'uint8');
    let x = g.op(
      'GatherBlockQuantized',
      [data, idx, q.scales, q.zeros],
      { bits: qm.bits, block_size: qm.blockSize, gather_axis: 0, quantize_axis: 1 },
      { domain: 'com.microsoft', name: 'embed_tokens' },
    );
    if (q.mins) {
      const m = g.unsqueeze(g.op('Gather', [q.mins, idx], {}, { name: 'embed_mins' }), [-1]); // [B,S,kb,1]
      const blocks = g.sub(g.reshape(x, [0, 0, kb, qm.blockSize], 'embed_blocks'), m, 'embed_minus_mins');
      x = g.reshape(blocks, [0, 0, qm.cols], 'embed_rows');
    }
    return x;
  };

  /** fp16 and quantised plain-op graphs: an int64 0 computed from a linear layer's input, per input value */
  const zeroAfter = new Map<string, Value>();
  const zeroOf = (x: Value, label: string): Value => {
    let zero = zeroAfter.get(x.name);
    if (!zero) {
      zero = g.mul(g.op('Size', [x], {}, { name: `${label}_w_after` }), g.constInt64([0], []), `${label}_w_zero`);
      zeroAfter.set(x.name, zero); // q, k and v (gate and up) read the same x: one zero for them
    }
    return zero;
  };
  /** y = x·Wᵀ (+ bias, LoRA, hook); `product` is x·Wᵀ when already computed (a fused group's part) */
  const linear = (x: Value, wName: string, label: string, product?: Value): Value => {
    const [out, inn] = shapes.get(wName)!;
    const bName = wName.replace(/\.weight$/, '.bias');
    const hasBias = shapes.has(bName);
    let y: Value;
    const qm = product ? null : quantized(wName);
    if (qm && !fused) {
      y = g.matmul(x, g.transpose(dequantAfter(x, wName, qm, label), [1, 0], `${label}_wT`), label);
      if (hasBias) y = g.add(y, W(bName), `${label}_bias`);
    } else if (product || qm) {
      y = product ?? quantMatMul(x, wName, qm!, label);
      if (hasBias) y = g.add(y, W(bName), `${label}_bias`);
    } else if (!fused && opts.weightDtype === 'float16' && !opts.weightAsInput?.(wName)) {
      // fp16 storage in a plain-op graph: an fp32 copy per use. The cast reads the weight through a
      // Reshape to a shape computed from x (the same [out, in]; Reshape aliases its input), so
      // onnxruntime cannot constant-fold it into a permanent fp32 copy, and a recomputed layer
      // (train/graph.ts) casts again only when the backward pass reaches it.
      const zero = zeroOf(x, label);
      const w = g.cast(
        g.op('Reshape', [W16(wName), g.add(g.constInt64([out!, inn!]), zero, `${label}_w_shape`)], {}, { name: `${label}_w16` }),
        'float32',
        `${label}_w32`,
      );
      y = g.op('FusedMatMul', [x, w], { transB: 1 }, { domain: 'com.microsoft', name: label });
      if (hasBias) y = g.add(y, W(bName), `${label}_bias`);
    } else if (fused && !half) {
      // FusedMatMul with transB reads the [out, in] weight as stored (no transpose copy; memory-mapped
      // when compiled to a cache) and takes the [B, S, in] activations as they are (no reshapes)
      y = g.op('FusedMatMul', [x, W(wName)], { transB: 1 }, { domain: 'com.microsoft', name: label });
      if (hasBias) y = g.add(y, W(bName), `${label}_bias`);
    } else if (fused) {
      const x2 = g.reshape(x, [-1, inn!], `${label}_in2d`);
      const y2 = gemm(x2, wName, hasBias ? W(bName) : null, label);
      y = g.op('Reshape', [y2, shape3(out!)], {}, { name: `${label}_out3d` });
    } else {
      y = g.matmul(x, g.transpose(W(wName), [1, 0], `${label}_wT`), label);
      if (hasBias) y = g.add(y, W(bName), `${label}_bias`);
    }
    const lora = opts.lora?.get(wName);
    if (lora) {
      const store = (n: string, d: Float32Array, sh: number[]) => (opts.storeWeight ? opts.storeWeight(g, n, d, sh, 'float32') : g.weight(n, d, sh));
      const a = store(`${wName}.lora_A`, lora.a, [lora.rank, inn!]);
      const b = store(`${wName}.lora_B`, lora.b, [out!, lora.rank]);
      const xa = g.op('FusedMatMul', [x, a], { transB: 1 }, { domain: 'com.microsoft', name: `${label}_lora_a` });
      const xab = g.op('FusedMatMul', [xa, b], { transB: 1, alpha: lora.scale }, { domain: 'com.microsoft', name: `${label}_lora_b` });
      y = g.add(y, xab, `${label}_lora_add`);
    }
    const li = opts.loraInputs?.get(wName);
    if (li) {
      const a = g.input(`${wName}.lora_A`, 'float32', [li.rank, inn!]);
      const b = g.input(`${wName}.lora_B`, 'float32', [out!, li.rank]);
      const xa = g.matmul(x, g.transpose(a, [1, 0], `${label}_lora_aT`), `${label}_lora_a`);
      const xab = g.matmul(xa, g.transpose(b, [1, 0], `${label}_lora_bT`), `${label}_lora_b`);
      y = g.add(y, g.mul(xab, g.constFloat(li.scale), `${label}_lora_scale`), `${label}_lora_add`);
    }
    if (opts.linearHook) y = opts.linearHook(g, x, y, wName, label);
    return y;
  };
  /**
   * Several projections of the same input (q, k, v; gate, up). Quantised ones with the same bits and
   * block size run as one MatMulNBits on their stacked rows (one activation quantisation, one
   * minimum term, fewer nodes per token), split afterwards; otherwise one linear each.
   */
  const linears = (x: Value, names: string[], labels: string[]): Value[] => {
    if (!fused) return names.map((n, i) => linear(x, n, labels[i]!));
    const qms = names.map((n) => quantized(n));
    // group the quantised ones by layout (Q4_K_M's attn_v may be Q6_K while q and k are Q4_K)
    const groups = new Map<string, number[]>();
    qms.forEach((q, i) => {
      if (q) groups.set(`${q.bits}/${q.blockSize}`, [...(groups.get(`${q.bits}/${q.blockSize}`) ?? []), i]);
    });
    const products: (Value | undefined)[] = [];
    for (const idx of groups.values()) {
      if (idx.length < 2) continue;
      const group = `${names[idx[0]!]}+${idx
        .slice(1)
        .map((i) => names[i]!.split('.').at(-2))
        .join('+')}`;
      const label = `${labels[idx[0]!]}_group`;
      const all = quantMatMul(x, group, concatQuantRows(idx.map((i) => qms[i]!)), label);
      const parts = g.opN('Split', [all, g.constInt64(idx.map((i) => qms[i]!.rows))], { axis: -1 }, { outputs: idx.length, name: `${label}_split` });
      idx.forEach((i, k) => (products[i] = parts[k]));
    }
    return names.map((n, i) => linear(x, n, labels[i]!, products[i]));
  };

  const addOne = (d: Float32Array) => (cfg.normAddOne ? d.map((x) => x + 1) : d);
  const rmsNorm = (x: Value, wName: string, label: string): Value => {
    let w = W(wName, addOne);
    if (cfg.normAddOne && opts.weightAsInput?.(wName)) w = g.add(w, g.constFloat(1), `${label}_plus1`);
    if (fused) return g.op('SimplifiedLayerNormalization', [x, w], { epsilon: cfg.rmsNormEps, axis: -1 }, { name: label });
    const ms = g.reduceMean(g.mul(x, x, `${label}_sq`), [-1], true, `${label}_ms`);
    const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.constFloat(cfg.rmsNormEps))])], {}, { name: `${label}_inv` });
    return g.mul(g.mul(x, inv, `${label}_norm`), w, `${label}_scale`);
  };

  const softcap = (x: Value, cap: number, label: string): Value =>
    g.mul(g.op('Tanh', [g.div(x, g.constFloat(cap))], {}, { name: `${label}_tanh` }), g.constFloat(cap), label);

  // ---- inputs
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total']);
  const pos = g.input('position_ids', 'int64', ['batch', 'seq']);

  // ---- RoPE tables from position ids: [B,1,S,hd/2]
  const invFreqData = ropeInvFreq(cfg);
  // fused (inference): com.microsoft RotaryEmbedding on [B,S,heads*hd] with cos/sin caches over all positions
  let fusedRope: ((x3: Value, n: number, label: string) => Value) | null = null;
  if (fused) {
    const P = cfg.maxPositions;
    const cosC = new Float32Array(P * (hd / 2));
    const sinC = new Float32Array(P * (hd / 2));
    for (let t = 0; t < P; t++)
      for (let i = 0; i < hd / 2; i++) {
        const a = Math.fround(t * invFreqData[i]!);
        cosC[t * (hd / 2) + i] = Math.cos(a);
        sinC[t * (hd / 2) + i] = Math.sin(a);
      }
    const cosV = opts.storeWeight ? opts.storeWeight(g, 'rope_cos_cache', cosC, [P, hd / 2], 'float32') : g.weight('rope_cos_cache', cosC, [P, hd / 2]);
    const sinV = opts.storeWeight ? opts.storeWeight(g, 'rope_sin_cache', sinC, [P, hd / 2], 'float32') : g.weight('rope_sin_cache', sinC, [P, hd / 2]);
    fusedRope = (x3, n, label) => g.op('RotaryEmbedding', [x3, pos, cosV, sinV], { interleaved: 0, num_heads: n }, { domain: 'com.microsoft', name: label });
  }
  // plain ops (training-friendly): cos/sin from position ids, rotate_half
  let cosSin: [Value, Value] | null = null;
  const rope = (x: Value, label: string): Value => {
    if (!cosSin) {
      const invFreq = g.initializer('rope_inv_freq', invFreqData, [hd / 2]);
      const posF = g.unsqueeze(g.cast(pos, 'float32'), [-1]); // [B,S,1]
      const freqs = g.unsqueeze(g.mul(posF, invFreq, 'rope_freqs'), [1]); // [B,1,S,hd/2]
      cosSin = [g.op('Cos', [freqs], {}, { name: 'rope_cos' }), g.op('Sin', [freqs], {}, { name: 'rope_sin' })];
    }
    const [cos, sin] = cosSin;
    const x1 = g.slice(x, [0], [hd / 2], [-1], `${label}_x1`);
    const x2 = g.slice(x, [hd / 2], [hd], [-1], `${label}_x2`);
    const r1 = g.sub(g.mul(x1, cos), g.mul(x2, sin), `${label}_r1`);
    const r2 = g.add(g.mul(x2, cos), g.mul(x1, sin), `${label}_r2`);
    return g.concat([r1, r2], -1, label);
  };

  // ---- attention mask (additive) [B,1,rep*S,T]: grouped scores put rep query heads' rows (r, s) together
  const total = g.op('Shape', [mask], { start: 1, end: 2 }, { name: 'total_len' }); // [1]
  const seqLen = g.op('Shape', [ids], { start: 1, end: 2 }, { name: 'seq_len' }); // [1]
  const totalS = g.squeeze(total, [0]);
  const pastLen = g.sub(totalS, g.squeeze(seqLen, [0]), 'past_len');
  const one = g.constInt64([1], []);
  const qpos = g.op('Range', [pastLen, totalS, one], {}, { name: 'q_positions' }); // [S]
  const kpos = g.op('Range', [g.constInt64([0], []), totalS, one], {}, { name: 'k_positions' }); // [T]
  const q2 = g.unsqueeze(qpos, [1]); // [S,1]
  const k2 = g.unsqueeze(kpos, [0]); // [1,T]
  const causal = g.op('LessOrEqual', [k2, q2], {}, { name: 'causal' }); // [S,T]
  const keep = g.op('Equal', [g.unsqueeze(mask, [1]), g.constInt64([1], [])], {}, { name: 'pad_keep' }); // [B,1,T]
  const masks = new Map<number | null, Value>();
  const maskFor = (window: number | null): Value => {
    const cached = masks.get(window);
    if (cached) return cached;
    let allowed = g.op('And', [causal, keep], {}, { name: `allowed_${window ?? 'full'}` }); // [B,S,T]
    if (window !== null) {
      const inWin = g.op('Greater', [k2, g.sub(q2, g.constInt64([window], []))], {}, { name: `window_${window}` });
      allowed = g.op('And', [allowed, inWin]);
    }
    const add = g.op('Where', [allowed, g.constFloat(0), g.constFloat(NEG_INF)], {}, { name: `mask_add_${window ?? 'full'}` }); // [B,S,T]
    let m4 = g.unsqueeze(add, [1]); // [B,1,S,T]
    if (rep > 1) m4 = g.op('Tile', [m4, g.constInt64([1, 1, rep, 1])], {}, { name: `mask_tile_${window ?? 'full'}` }); // [B,1,rep*S,T]
    masks.set(window, m4);
    return m4;
  };

  // ---- embeddings
  const embQ = quantized('model.embed_tokens.weight');
  let x = embQ ? quantGather('model.embed_tokens.weight', embQ, ids) : g.op('Gather', [W('model.embed_tokens.weight'), ids], {}, { name: 'embed_tokens' }); // [B,S,H]
  if (cfg.embedScale !== null) x = g.mul(x, g.constFloat(cfg.embedScale), 'embed_scale');

  // step graphs: the packed past split per layer, and the new keys/values to pack
  let pastParts: Value[] | null = null;
  const newParts: Value[] = [];

  /** Self-attention of layer `l` over the normed input `h` (grouped-query, RoPE, KV cache in step graphs): the o_proj output. */
  const attention = (h: Value, l: number): Value => {
    const p = `model.layers.${l}`;
    const L = `l${l}`;
    const heads = (x3: Value, n: number, label: string) => g.transpose(g.reshape(x3, [0, 0, n, hd], `${label}_split`), [0, 2, 1, 3], `${label}_heads`);
    const proj = (n: string) => `${p}.self_attn.${n}_proj.weight`;
    const qkv = linears(h, [proj('q'), proj('k'), proj('v')], [`${L}_q_proj`, `${L}_k_proj`, `${L}_v_proj`]);
    let q3 = qkv[0]!;
    let k3 = qkv[1]!;
    if (fusedRope) {
      q3 = fusedRope(q3, nh, `${L}_q_rope`);
      k3 = fusedRope(k3, kvh, `${L}_k_rope`);
    }
    const qh = heads(q3, nh, `${L}_q`);
    const kh = heads(k3, kvh, `${L}_k`);
    const vh = g.transpose(g.reshape(qkv[2]!, [0, 0, kvh, hd]), [0, 2, 1, 3]);
    const qr = fusedRope ? qh : rope(qh, `${L}_q_rope`); // [B,nh,S,hd]
    let kAll = fusedRope ? kh : rope(kh, `${L}_k_rope`); // [B,kvh,S,hd]
    let vAll = vh;
    if (opts.kvCache) {
      pastParts ??= g.opN(
        'Split',
        [g.input('past_key_values', 'float32', ['batch', 2 * cfg.numLayers * kvh, 'past', hd]), g.constInt64(new Array<number>(2 * cfg.numLayers).fill(kvh))],
        { axis: 1 },
        { outputs: 2 * cfg.numLayers, name: 'past_split' },
      );
      newParts.push(kAll, vAll);
      kAll = g.concat([pastParts[2 * l]!, kAll], 2, `${L}_k_cat`);
      vAll = g.concat([pastParts[2 * l + 1]!, vAll], 2, `${L}_v_cat`);
    }
    // grouped-query attention: q [B,kvh,rep*S,hd] against k [B,kvh,T,hd]
    const qg = g.reshape(qr, [0, kvh, -1, hd], `${L}_q_group`);
    const qs = g.mul(qg, g.constFloat(cfg.attnScale), `${L}_q_scale`);
    const kT = g.transpose(kAll, [0, 1, 3, 2], `${L}_kT`);
    let scores = g.matmul(qs, kT, `${L}_scores`); // [B,kvh,rep*S,T]
    if (cfg.attnSoftcap !== null) scores = softcap(scores, cfg.attnSoftcap, `${L}_attn_softcap`);
    const masked = g.add(scores, maskFor(cfg.slidingWindow[l] ?? null), `${L}_masked`);
    const probs = g.softmax(masked, -1, `${L}_softmax`); // [B,kvh,rep*S,T]
    const ctx = g.matmul(probs, vAll, `${L}_ctx`); // [B,kvh,rep*S,hd]
    const ctxH = g.transpose(g.reshape(ctx, [0, nh, -1, hd]), [0, 2, 1, 3]); // [B,S,nh,hd]
    return linear(g.reshape(ctxH, [0, 0, nh * hd], `${L}_ctx_flat`), `${p}.self_attn.o_proj.weight`, `${L}_o_proj`);
  };

  /** The gate's activation (SiLU, GELU or its tanh approximation). */
  const activate = (gate: Value, L: string): Value => {
    if (cfg.activation === 'silu') return g.mul(gate, g.op('Sigmoid', [gate], {}, { name: `${L}_sigmoid` }), `${L}_silu`);
    if (cfg.activation === 'gelu')
      return g.mul(g.mul(gate, g.constFloat(0.5)), g.add(g.op('Erf', [g.mul(gate, g.constFloat(Math.SQRT1_2))]), g.constFloat(1)), `${L}_gelu`);
    // gelu tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const x3 = g.mul(g.mul(gate, gate), gate);
    const inner = g.mul(g.add(gate, g.mul(x3, g.constFloat(0.044715))), g.constFloat(Math.sqrt(2 / Math.PI)));
    return g.mul(g.mul(gate, g.constFloat(0.5)), g.add(g.op('Tanh', [inner]), g.constFloat(1)), `${L}_gelu_tanh`);
  };

  /** The gated MLP of layer `l` over the normed input `h`: down(act(gate(h)) · up(h)). */
  const feedForward = (h: Value, l: number): Value => {
    const p = `model.layers.${l}`;
    const L = `l${l}`;
    const [gate, up] = linears(h, [`${p}.mlp.gate_proj.weight`, `${p}.mlp.up_proj.weight`], [`${L}_gate_proj`, `${L}_up_proj`]) as [Value, Value];
    return linear(g.mul(activate(gate, L), up, `${L}_glu`), `${p}.mlp.down_proj.weight`, `${L}_down_proj`);
  };

  /** One decoder layer, as nanoGPT's Block reads: x + attn(norm(x)), then x + mlp(norm(x)) (Gemma 2: norms after each too). */
  const decoderBlock = (x: Value, l: number): Value => {
    const p = `model.layers.${l}`;
    const L = `l${l}`;
    let attn = attention(rmsNorm(x, `${p}.input_layernorm.weight`, `${L}_input_norm`), l);
    if (cfg.sandwichNorms) attn = rmsNorm(attn, `${p}.post_attention_layernorm.weight`, `${L}_post_attn_norm`);
    const x1 = g.add(x, attn, `${L}_attn_residual`);
    const h2 = cfg.sandwichNorms
      ? rmsNorm(x1, `${p}.pre_feedforward_layernorm.weight`, `${L}_pre_ffn_norm`)
      : rmsNorm(x1, `${p}.post_attention_layernorm.weight`, `${L}_post_attn_norm`);
    let mlp = feedForward(h2, l);
    if (cfg.sandwichNorms) mlp = rmsNorm(mlp, `${p}.post_feedforward_layernorm.weight`, `${L}_post_ffn_norm`);
    return g.add(x1, mlp, `${L}_mlp_residual`);
  };

  for (let l = 0; l < cfg.numLayers; l++) x = decoderBlock(x, l);
  if (opts.logits === 'last') {
    x = g.slice(x, [-1], [2 ** 62], [1], 'last_position');
    lastOnly = true;
    bsShape = null;
    outShapes.clear();
  }
  const hN = rmsNorm(x, 'model.norm.weight', 'final_norm');
  const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  let logits: Value;
  const headQ = quantized(head);
  if (headQ && fused) logits = quantMatMul(hN, head, headQ, 'lm_head');
  else if (headQ) logits = g.matmul(hN, g.transpose(dequantAfter(hN, head, headQ, 'lm_head'), [1, 0], 'lm_head_wT'), 'lm_head');
  else if (fused && (!half || cfg.tieWordEmbeddings)) {
    // fp32 (a tied head is the fp32 embedding table, also in fp16 graphs)
    logits = g.op('FusedMatMul', [hN, W(head)], { transB: 1 }, { domain: 'com.microsoft', name: 'lm_head' });
  } else if (fused) {
    logits = g.op('Reshape', [gemm(g.reshape(hN, [-1, H], 'lm_head_in2d'), head, null, 'lm_head'), shape3(cfg.vocabSize)], {}, { name: 'lm_head_out3d' });
  } else logits = g.matmul(hN, g.transpose(W(head), [1, 0], 'lm_head_wT'), 'lm_head');
  if (cfg.finalSoftcap !== null) logits = softcap(logits, cfg.finalSoftcap, 'final_softcap');
  g.output(logits, 'logits');
  if (opts.kvCache) g.output(g.concat(newParts, 1, 'new_kv_pack'), 'new_key_values');
  return g;
}
