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

/**
 * Build a decoder graph. Weights are read from `src` one by one as the graph is declared.
 * Reads top-down like nanoGPT's GPT.forward: embed, one `decoderBlock` a layer, final norm, LM head.
 */
export function buildDecoderGraph(cfg: DecoderConfig, src: WeightSource, opts: DecoderGraphOptions): Graph {
  const c = startGraph(cfg, src, opts);
  let x = embed(c); // [B,S,H]
  for (let l = 0; l < cfg.numLayers; l++) x = decoderBlock(c, x, l);
  if (opts.logits === 'last') x = lastPosition(c, x);
  const logits = lmHead(c, rmsNorm(c, x, 'model.norm.weight', 'final_norm'));
  c.g.output(logits, 'logits');
  if (c.kv) c.g.output(c.g.concat(c.kv.fresh, 1, 'new_kv_pack'), 'new_key_values');
  return c.g;
}

/** One decoder layer, as nanoGPT's Block reads: x = x + attention(norm(x)); x = x + mlp(norm(x)). */
function decoderBlock(c: Ctx, x: Value, l: number): Value {
  const n = blockNorms(c.cfg, l);
  x = c.g.add(x, postNorm(c, attention(c, rmsNorm(c, x, ...n.attnIn), l), n.attnOut), `l${l}_attn_residual`);
  x = c.g.add(x, postNorm(c, mlp(c, rmsNorm(c, x, ...n.mlpIn), l), n.mlpOut), `l${l}_mlp_residual`);
  return x;
}

/** [weight name, node label] of an RMS norm */
type NormRef = [string, string];

/** The norms before each of layer l's two branches, and after each in Gemma 2's sandwich layout. */
function blockNorms(cfg: DecoderConfig, l: number): { attnIn: NormRef; attnOut: NormRef | null; mlpIn: NormRef; mlpOut: NormRef | null } {
  const norm = (weight: string, label: string): NormRef => [`model.layers.${l}.${weight}.weight`, `l${l}_${label}`];
  const attnIn = norm('input_layernorm', 'input_norm');
  if (!cfg.sandwichNorms) return { attnIn, attnOut: null, mlpIn: norm('post_attention_layernorm', 'post_attn_norm'), mlpOut: null };
  return {
    attnIn,
    attnOut: norm('post_attention_layernorm', 'post_attn_norm'),
    mlpIn: norm('pre_feedforward_layernorm', 'pre_ffn_norm'),
    mlpOut: norm('post_feedforward_layernorm', 'post_ffn_norm'),
  };
}

const postNorm = (c: Ctx, x: Value, norm: NormRef | null): Value => (norm ? rmsNorm(c, x, ...norm) : x);

// ---- the graph being built

/** The values declared once per graph and reused by every layer. */
interface Declared {
  /** frozen weights (fp16 copies under "<name>#f16", quantised rows under "<name>#rows") and weight inputs */
  weights: Map<string, Value>;
  /** WeightSource.quantized per weight name (null: not quantised) */
  quant: Map<string, QuantMatrix | null>;
  /** the initializers of a quantised matrix (the LM head may share the embedding's) */
  quantInits: Map<string, QuantInits>;
  /** Σx over each block, per activation and block size */
  blockSums: Map<string, Value>;
  /** an int64 0 computed from a linear layer's input, per input value */
  zeros: Map<string, Value>;
}

/** A graph being built: what every step reads, passed explicitly. */
interface Ctx {
  readonly g: Graph;
  readonly cfg: DecoderConfig;
  readonly src: WeightSource;
  readonly opts: DecoderGraphOptions;
  /** onnxruntime fused ops (inference) rather than plain ai.onnx ops (training) */
  readonly fused: boolean;
  /** fused graphs with the projections stored in fp16 */
  readonly half: boolean;
  /** expected PyTorch-order shape of every weight */
  readonly shapes: Map<string, number[]>;
  readonly ids: Value;
  readonly pos: Value;
  readonly declared: Declared;
  readonly act: ActivationShapes;
  readonly rope: Rope;
  readonly mask: CausalMask;
  /** step graphs: the packed past split per layer, and the new keys/values to pack */
  readonly kv: { past: Value[] | null; fresh: Value[] } | null;
}

/** The graph, its inputs, and the tables every layer shares (rotary caches, the causal mask's parts). */
function startGraph(cfg: DecoderConfig, src: WeightSource, opts: DecoderGraphOptions): Ctx {
  const fused = opts.fused ?? true;
  const g = new Graph(`${cfg.architecture}_${opts.kvCache ? 'step' : 'full'}`, opts.opset ?? 21);
  const rep = cfg.numHeads / cfg.numKvHeads;
  if (!Number.isInteger(rep)) throw new Error(`config: num_attention_heads ${cfg.numHeads} is not a multiple of num_key_value_heads ${cfg.numKvHeads}`);
  const ids = g.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = g.input('attention_mask', 'int64', ['batch', 'total']);
  const pos = g.input('position_ids', 'int64', ['batch', 'seq']);
  const rope = ropeTables(g, cfg, opts, fused);
  return {
    g,
    cfg,
    src,
    opts,
    fused,
    half: fused && opts.weightDtype === 'float16',
    shapes: expectedWeightShapes(cfg),
    ids,
    pos,
    declared: { weights: new Map(), quant: new Map(), quantInits: new Map(), blockSums: new Map(), zeros: new Map() },
    act: { bsFull: null, lastOnly: false, bs: null, outShapes: new Map() },
    rope,
    mask: causalMask(g, ids, mask),
    kv: opts.kvCache ? { past: null, fresh: [] } : null,
  };
}

// ---- weights

/** A frozen weight as an initializer (opts.storeWeight, or in-memory external data). */
function store(c: Ctx, name: string, data: Float32Array | Uint16Array | Uint8Array, shape: number[], dtype: 'float32' | 'float16' | 'uint8'): Value {
  return c.opts.storeWeight ? c.opts.storeWeight(c.g, name, data, shape, dtype) : c.g.weight(name, data, shape, dtype);
}

/** The source's tensor `name`, checked against the shape the config implies. */
function sourceTensor(c: Ctx, name: string, shape: number[]): Float32Array {
  if (!c.src.has(name)) throw new ShapeMismatchError(`${c.src.origin}: missing tensor ${name}`);
  const s = c.src.shape(name);
  if (s.join(',') !== shape.join(','))
    throw new ShapeMismatchError(`${c.src.origin}: tensor ${name} has shape [${s.join(', ')}] but the config implies [${shape.join(', ')}]`);
  return c.src.f32(name);
}

/** A weight, declared once: a graph input (opts.weightAsInput) or a float32 initializer (after `transform`). */
function weight(c: Ctx, name: string, transform?: (d: Float32Array) => Float32Array): Value {
  const cached = c.declared.weights.get(name);
  if (cached) return cached;
  const shape = c.shapes.get(name);
  if (!shape) throw new Error(`internal: no expected shape for ${name}`);
  let v: Value;
  if (c.opts.weightAsInput?.(name)) v = c.g.input(name, 'float32', shape);
  else {
    let d = sourceTensor(c, name, shape);
    if (transform) d = transform(d);
    v = store(c, name, d, shape, 'float32');
  }
  c.declared.weights.set(name, v);
  return v;
}

/** An fp16 copy of a projection weight, declared once (weightDtype float16). */
function weightF16(c: Ctx, name: string): Value {
  const key = `${name}#f16`;
  const cached = c.declared.weights.get(key);
  if (cached) return cached;
  const shape = c.shapes.get(name)!;
  const v = store(c, name, toHalfArray(sourceTensor(c, name, shape)), shape, 'float16');
  c.declared.weights.set(key, v);
  return v;
}

/** The quantised form of a frozen weight when opts.quant keeps it block-quantised, else null. */
function quantized(c: Ctx, name: string): QuantMatrix | null {
  const { src, opts } = c;
  if (!opts.quant || opts.weightAsInput?.(name) || !src.quantized) return null;
  if (!c.declared.quant.has(name)) {
    if (!src.has(name)) throw new ShapeMismatchError(`${src.origin}: missing tensor ${name}`);
    const qm = src.quantized(name);
    const shape = c.shapes.get(name)!;
    if (qm && (qm.rows !== shape[0] || qm.cols !== shape[1]))
      throw new ShapeMismatchError(`${src.origin}: tensor ${name} has shape [${qm.rows}, ${qm.cols}] but the config implies [${shape.join(', ')}]`);
    c.declared.quant.set(name, qm);
  }
  return c.declared.quant.get(name)!;
}

interface QuantInits {
  codes: Value;
  scales: Value;
  mins: Value | null;
  zeros: Value | null;
}

/** The initializers of a quantised matrix, declared once. */
function quantInits(c: Ctx, name: string, qm: QuantMatrix): QuantInits {
  let v = c.declared.quantInits.get(name);
  if (!v) {
    const kb = qm.cols / qm.blockSize;
    const codes = store(c, `${name}#codes`, qm.codes, [qm.rows, kb, (qm.blockSize * qm.bits) / 8], 'uint8');
    const scales = store(c, `${name}#scales`, qm.scales, [qm.rows, kb], 'float32');
    const mins = qm.mins ? store(c, `${name}#mins`, qm.mins, [qm.rows, kb], 'float32') : null;
    const zeros = qm.zeroPoints ? store(c, `${name}#zero_points`, qm.zeroPoints, [qm.rows, qm.zeroPoints.length / qm.rows], 'uint8') : null;
    v = { codes, scales, mins, zeros };
    c.declared.quantInits.set(name, v);
  }
  return v;
}

// ---- activation shapes

/** [B,S] of the current activations (or [B,1] once only the last position is kept), for reshaping 2-D fp16 Gemm outputs back to 3-D. */
interface ActivationShapes {
  bsFull: Value | null;
  lastOnly: boolean;
  bs: Value | null;
  outShapes: Map<number, Value>;
}

/** [B, S, out] (or [B, 1, out]), built on first use: fp32 graphs multiply the 3-D activations directly and need no shapes. */
function shape3(c: Ctx, out: number): Value {
  const { g, act } = c;
  if (!act.bs) {
    act.bsFull ??= g.op('Shape', [c.ids], {}, { name: 'batch_seq' }); // [B,S]
    act.bs = act.lastOnly ? g.concat([g.slice(act.bsFull, [0], [1], [0]), g.constInt64([1])], 0, 'batch_one') : act.bsFull;
  }
  let v = act.outShapes.get(out);
  if (!v) {
    v = g.concat([act.bs, g.constInt64([out])], 0, `${act.lastOnly ? 'shape_b1' : 'shape_bs'}_${out}`);
    act.outShapes.set(out, v);
  }
  return v;
}

/** Keep only the last position (logits: 'last'); later reshapes use [B,1]. */
function lastPosition(c: Ctx, x: Value): Value {
  const last = c.g.slice(x, [-1], [2 ** 62], [1], 'last_position');
  c.act.lastOnly = true;
  c.act.bs = null;
  c.act.outShapes.clear();
  return last;
}

/** fp16 and quantised plain-op graphs: an int64 0 computed from a linear layer's input, per input value. */
function zeroOf(c: Ctx, x: Value, label: string): Value {
  let zero = c.declared.zeros.get(x.name);
  if (!zero) {
    zero = c.g.mul(c.g.op('Size', [x], {}, { name: `${label}_w_after` }), c.g.constInt64([0], []), `${label}_w_zero`);
    c.declared.zeros.set(x.name, zero); // q, k and v (gate and up) read the same x: one zero for them
  }
  return zero;
}

// ---- projections

/** y = x·Wᵀ (+ bias, LoRA, hook); `product` is x·Wᵀ when already computed (a fused group's part). */
function linear(c: Ctx, x: Value, wName: string, label: string, product?: Value): Value {
  const y = withLora(c, x, projection(c, x, wName, label, product), wName, label);
  return c.opts.linearHook ? c.opts.linearHook(c.g, x, y, wName, label) : y;
}

/** The codes of a quantised matrix seen as [rows, cols·bits/8] (GatherBlockQuantized), declared once: a tied head gathers the embedding's. */
function quantRows(c: Ctx, name: string, qm: QuantMatrix): Value {
  const key = `${name}#rows`;
  let v = c.declared.weights.get(key);
  if (!v) {
    v = store(c, key, qm.codes, [qm.rows, (qm.cols * qm.bits) / 8], 'uint8');
    c.declared.weights.set(key, v);
  }
  return v;
}

/** x·Wᵀ + bias, as the weight is stored: block-quantised, fp16, or float32 (fused or plain ops). */
function projection(c: Ctx, x: Value, wName: string, label: string, product?: Value): Value {
  const { g, fused } = c;
  const [out, inn] = c.shapes.get(wName)!;
  const bName = wName.replace(/\.weight$/, '.bias');
  const bias = (y: Value) => (c.shapes.has(bName) ? g.add(y, weight(c, bName), `${label}_bias`) : y);
  const qm = product ? null : quantized(c, wName);
  // FusedMatMul with transB (as the fp16 path): no transposed copy of the dequantised matrix, forward or backward
  if (qm && !fused) return bias(g.op('FusedMatMul', [x, dequantAfter(c, x, wName, qm, label)], { transB: 1 }, { domain: 'com.microsoft', name: label }));
  if (product || qm) return bias(product ?? quantMatMul(c, x, wName, qm!, label));
  if (!fused && c.opts.weightDtype === 'float16' && !c.opts.weightAsInput?.(wName)) {
    // fp16 storage in a plain-op graph: an fp32 copy per use. The cast reads the weight through a
    // Reshape to a shape computed from x (the same [out, in]; Reshape aliases its input), so
    // onnxruntime cannot constant-fold it into a permanent fp32 copy, and a recomputed layer
    // (train/graph.ts) casts again only when the backward pass reaches it.
    const zero = zeroOf(c, x, label);
    const w = g.cast(
      g.op('Reshape', [weightF16(c, wName), g.add(g.constInt64([out!, inn!]), zero, `${label}_w_shape`)], {}, { name: `${label}_w16` }),
      'float32',
      `${label}_w32`,
    );
    return bias(g.op('FusedMatMul', [x, w], { transB: 1 }, { domain: 'com.microsoft', name: label }));
  }
  if (fused && !c.half) {
    // FusedMatMul with transB reads the [out, in] weight as stored (no transpose copy; memory-mapped
    // when compiled to a cache) and takes the [B, S, in] activations as they are (no reshapes)
    return bias(g.op('FusedMatMul', [x, weight(c, wName)], { transB: 1 }, { domain: 'com.microsoft', name: label }));
  }
  if (fused) {
    const x2 = g.reshape(x, [-1, inn!], `${label}_in2d`);
    const y2 = gemm(c, x2, wName, c.shapes.has(bName) ? weight(c, bName) : null, label);
    return g.op('Reshape', [y2, shape3(c, out!)], {}, { name: `${label}_out3d` });
  }
  return bias(g.matmul(x, g.transpose(weight(c, wName), [1, 0], `${label}_wT`), label));
}

/** y = x2 · Wᵀ (+ bias) for a 2-D x2, in fp32 or through fp16 weights. */
function gemm(c: Ctx, x2: Value, wName: string, bias: Value | null, label: string): Value {
  const { g } = c;
  if (!c.half) return g.op('Gemm', [x2, weight(c, wName), bias], { transB: 1 }, { name: label });
  const y16 = g.op('Gemm', [g.cast(x2, 'float16', `${label}_in_f16`), weightF16(c, wName)], { transB: 1 }, { name: label });
  const y = g.cast(y16, 'float32', `${label}_out_f32`);
  return bias ? g.add(y, bias, `${label}_bias`) : y;
}

/**
 * LoRA on a projection: y + scale · (x Aᵀ) Bᵀ, with A and B the adapter's frozen factors (unmerged
 * LoRA at inference, opts.lora) or graph inputs (training, opts.loraInputs).
 */
function withLora(c: Ctx, x: Value, y: Value, wName: string, label: string): Value {
  const { g, opts } = c;
  const [out, inn] = c.shapes.get(wName)!;
  const lora = opts.lora?.get(wName);
  if (lora) {
    const a = store(c, `${wName}.lora_A`, lora.a, [lora.rank, inn!], 'float32');
    const b = store(c, `${wName}.lora_B`, lora.b, [out!, lora.rank], 'float32');
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
  return y;
}

/**
 * Several projections of the same input (q, k, v; gate, up). Quantised ones with the same bits and
 * block size run as one MatMulNBits on their stacked rows (one activation quantisation, one
 * minimum term, fewer nodes per token), split afterwards; otherwise one linear each.
 */
function linears(c: Ctx, x: Value, names: string[], labels: string[]): Value[] {
  if (!c.fused) return names.map((n, i) => linear(c, x, n, labels[i]!));
  const qms = names.map((n) => quantized(c, n));
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
    const all = quantMatMul(c, x, group, concatQuantRows(idx.map((i) => qms[i]!)), label);
    const parts = c.g.opN('Split', [all, c.g.constInt64(idx.map((i) => qms[i]!.rows))], { axis: -1 }, { outputs: idx.length, name: `${label}_split` });
    idx.forEach((i, k) => (products[i] = parts[k]));
  }
  return names.map((n, i) => linear(c, x, n, labels[i]!, products[i]));
}

// ---- block-quantised weights (opts.quant): MatMulNBits / GatherBlockQuantized

/** Σx over each block of the last axis ([..., K] → [..., K/block]), once per activation and block size. */
function blockSum(c: Ctx, x: Value, K: number, bs: number, label: string): Value {
  const key = `${x.name}/${bs}`;
  let v = c.declared.blockSums.get(key);
  if (!v) {
    v = c.g.op('ReduceSum', [c.g.reshape(x, [0, 0, K / bs, bs], `${label}_blocks`), c.g.constInt64([-1])], { keepdims: 0 }, { name: `${label}_block_sums` });
    c.declared.blockSums.set(key, v);
  }
  return v;
}

/** y = x·Wᵀ with W block-quantised: MatMulNBits, minus Σ_block min·Σx for formats with (residual) mins. */
function quantMatMul(c: Ctx, x: Value, name: string, qm: QuantMatrix, label: string): Value {
  const { g } = c;
  const q = quantInits(c, name, qm);
  let y = g.op(
    'MatMulNBits',
    [x, q.codes, q.scales, q.zeros],
    { K: qm.cols, N: qm.rows, bits: qm.bits, block_size: qm.blockSize, accuracy_level: c.opts.quant!.accuracyLevel },
    { domain: 'com.microsoft', name: label },
  );
  if (q.mins) {
    const m = g.op('FusedMatMul', [blockSum(c, x, qm.cols, qm.blockSize, label), q.mins], { transB: 1 }, { domain: 'com.microsoft', name: `${label}_mins` });
    y = g.sub(y, m, `${label}_minus_mins`);
  }
  return y;
}

/** Plain-op graphs: the float32 matrix of a quantised weight, recomputed where it is used (after `x`). */
function dequantAfter(c: Ctx, x: Value, name: string, qm: QuantMatrix, label: string): Value {
  const { g } = c;
  const q = quantInits(c, name, qm);
  const data = quantRows(c, name, qm);
  const idx = g.add(
    g.op('Range', [g.constInt64([0], []), g.constInt64([qm.rows], []), g.constInt64([1], [])], {}, { name: `${label}_w_rows` }),
    zeroOf(c, x, label),
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
}

/** Embedding rows of a block-quantised table. */
function quantGather(c: Ctx, name: string, qm: QuantMatrix, idx: Value): Value {
  const { g } = c;
  const q = quantInits(c, name, qm);
  const kb = qm.cols / qm.blockSize;
  // the same bytes as the MatMulNBits codes, seen as [rows, cols·bits/8]
  const data = quantRows(c, name, qm);
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
}

// ---- norms and nonlinearities

/** RMSNorm with the weight `wName` (Gemma: 1 + weight). */
function rmsNorm(c: Ctx, x: Value, wName: string, label: string): Value {
  const { g, cfg } = c;
  let w = weight(c, wName, (d) => (cfg.normAddOne ? d.map((v) => v + 1) : d));
  if (cfg.normAddOne && c.opts.weightAsInput?.(wName)) w = g.add(w, g.constFloat(1), `${label}_plus1`);
  if (c.fused) return g.op('SimplifiedLayerNormalization', [x, w], { epsilon: cfg.rmsNormEps, axis: -1 }, { name: label });
  const ms = g.reduceMean(g.mul(x, x, `${label}_sq`), [-1], true, `${label}_ms`);
  const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.constFloat(cfg.rmsNormEps))])], {}, { name: `${label}_inv` });
  return g.mul(g.mul(x, inv, `${label}_norm`), w, `${label}_scale`);
}

/** cap · tanh(x / cap) (Gemma 2's attention and final logit softcapping). */
function softcap(c: Ctx, x: Value, cap: number, label: string): Value {
  const { g } = c;
  return g.mul(g.op('Tanh', [g.div(x, g.constFloat(cap))], {}, { name: `${label}_tanh` }), g.constFloat(cap), label);
}

/** The gate's activation (SiLU, GELU or its tanh approximation). */
function activate(c: Ctx, gate: Value, L: string): Value {
  const { g, cfg } = c;
  if (cfg.activation === 'silu') return g.mul(gate, g.op('Sigmoid', [gate], {}, { name: `${L}_sigmoid` }), `${L}_silu`);
  if (cfg.activation === 'gelu')
    return g.mul(g.mul(gate, g.constFloat(0.5)), g.add(g.op('Erf', [g.mul(gate, g.constFloat(Math.SQRT1_2))]), g.constFloat(1)), `${L}_gelu`);
  // gelu tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const x3 = g.mul(g.mul(gate, gate), gate);
  const inner = g.mul(g.add(gate, g.mul(x3, g.constFloat(0.044715))), g.constFloat(Math.sqrt(2 / Math.PI)));
  return g.mul(g.mul(gate, g.constFloat(0.5)), g.add(g.op('Tanh', [inner]), g.constFloat(1)), `${L}_gelu_tanh`);
}

// ---- rotary position embeddings

/** Fused graphs: cos/sin caches over all positions for com.microsoft RotaryEmbedding; plain graphs: cos/sin from the position ids, built on first use. */
interface Rope {
  invFreq: Float32Array;
  caches: { cos: Value; sin: Value } | null;
  cosSin: [Value, Value] | null;
}

function ropeTables(g: Graph, cfg: DecoderConfig, opts: DecoderGraphOptions, fused: boolean): Rope {
  const invFreq = ropeInvFreq(cfg);
  if (!fused) return { invFreq, caches: null, cosSin: null };
  const half = cfg.headDim / 2;
  const P = cfg.maxPositions;
  const cosC = new Float32Array(P * half);
  const sinC = new Float32Array(P * half);
  for (let t = 0; t < P; t++)
    for (let i = 0; i < half; i++) {
      const a = Math.fround(t * invFreq[i]!);
      cosC[t * half + i] = Math.cos(a);
      sinC[t * half + i] = Math.sin(a);
    }
  const cache = (name: string, d: Float32Array) => (opts.storeWeight ? opts.storeWeight(g, name, d, [P, half], 'float32') : g.weight(name, d, [P, half]));
  return { invFreq, caches: { cos: cache('rope_cos_cache', cosC), sin: cache('rope_sin_cache', sinC) }, cosSin: null };
}

/** Fused graphs: RotaryEmbedding on [B,S,heads·hd] activations. */
function fusedRotary(c: Ctx, x3: Value, heads: number, label: string): Value {
  const { cos, sin } = c.rope.caches!;
  return c.g.op('RotaryEmbedding', [x3, c.pos, cos, sin], { interleaved: 0, num_heads: heads }, { domain: 'com.microsoft', name: label });
}

/** Plain ops (training-friendly) on [B,heads,S,hd]: x·cos + rotate_half(x)·sin. */
function rotary(c: Ctx, x: Value, label: string): Value {
  const { g, rope } = c;
  const hd = c.cfg.headDim;
  if (!rope.cosSin) {
    const invFreq = g.initializer('rope_inv_freq', rope.invFreq, [hd / 2]);
    const posF = g.unsqueeze(g.cast(c.pos, 'float32'), [-1]); // [B,S,1]
    const freqs = g.unsqueeze(g.mul(posF, invFreq, 'rope_freqs'), [1]); // [B,1,S,hd/2]
    rope.cosSin = [g.op('Cos', [freqs], {}, { name: 'rope_cos' }), g.op('Sin', [freqs], {}, { name: 'rope_sin' })];
  }
  const [cos, sin] = rope.cosSin;
  const x1 = g.slice(x, [0], [hd / 2], [-1], `${label}_x1`);
  const x2 = g.slice(x, [hd / 2], [hd], [-1], `${label}_x2`);
  const r1 = g.sub(g.mul(x1, cos), g.mul(x2, sin), `${label}_r1`);
  const r2 = g.add(g.mul(x2, cos), g.mul(x1, sin), `${label}_r2`);
  return g.concat([r1, r2], -1, label);
}

// ---- attention mask

/** The causal and padding parts of the additive mask, and the mask per sliding window (built on first use). */
interface CausalMask {
  /** [S,T]: key position ≤ query position */
  causal: Value;
  /** [B,1,T]: attention_mask is 1 */
  keep: Value;
  /** query positions [S,1] and key positions [1,T] */
  q2: Value;
  k2: Value;
  byWindow: Map<number | null, Value>;
}

function causalMask(g: Graph, ids: Value, mask: Value): CausalMask {
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
  return { causal, keep, q2, k2, byWindow: new Map() };
}

/** The additive mask [B,1,rep·S,T] for a sliding window (null: none); grouped scores put rep query heads' rows (r, s) together. */
function maskFor(c: Ctx, window: number | null): Value {
  const { g, mask } = c;
  const cached = mask.byWindow.get(window);
  if (cached) return cached;
  let allowed = g.op('And', [mask.causal, mask.keep], {}, { name: `allowed_${window ?? 'full'}` }); // [B,S,T]
  if (window !== null) {
    const inWin = g.op('Greater', [mask.k2, g.sub(mask.q2, g.constInt64([window], []))], {}, { name: `window_${window}` });
    allowed = g.op('And', [allowed, inWin]);
  }
  const add = g.op('Where', [allowed, g.constFloat(0), g.constFloat(NEG_INF)], {}, { name: `mask_add_${window ?? 'full'}` }); // [B,S,T]
  let m4 = g.unsqueeze(add, [1]); // [B,1,S,T]
  const rep = c.cfg.numHeads / c.cfg.numKvHeads;
  if (rep > 1) m4 = g.op('Tile', [m4, g.constInt64([1, 1, rep, 1])], {}, { name: `mask_tile_${window ?? 'full'}` }); // [B,1,rep*S,T]
  mask.byWindow.set(window, m4);
  return m4;
}

// ---- the layer's steps

/** Token embeddings (Gemma: times √hidden). */
function embed(c: Ctx): Value {
  const { g, cfg } = c;
  const name = 'model.embed_tokens.weight';
  const q = quantized(c, name);
  const x = q ? quantGather(c, name, q, c.ids) : g.op('Gather', [weight(c, name), c.ids], {}, { name: 'embed_tokens' }); // [B,S,H]
  return cfg.embedScale !== null ? g.mul(x, g.constFloat(cfg.embedScale), 'embed_scale') : x;
}

/** Step graphs: layer l's keys and values after the cached past ones; the new ones are kept for new_key_values. */
function withPast(c: Ctx, l: number, k: Value, v: Value): [Value, Value] {
  const { g, cfg } = c;
  const kv = c.kv!;
  const kvh = cfg.numKvHeads;
  kv.past ??= g.opN(
    'Split',
    [
      g.input('past_key_values', 'float32', ['batch', 2 * cfg.numLayers * kvh, 'past', cfg.headDim]),
      g.constInt64(new Array<number>(2 * cfg.numLayers).fill(kvh)),
    ],
    { axis: 1 },
    { outputs: 2 * cfg.numLayers, name: 'past_split' },
  );
  kv.fresh.push(k, v);
  return [g.concat([kv.past[2 * l]!, k], 2, `l${l}_k_cat`), g.concat([kv.past[2 * l + 1]!, v], 2, `l${l}_v_cat`)];
}

/** Self-attention of layer l over the normed input h (grouped-query, RoPE, KV cache in step graphs): the o_proj output. */
function attention(c: Ctx, h: Value, l: number): Value {
  const { g, cfg } = c;
  const { numHeads: nh, numKvHeads: kvh, headDim: hd } = cfg;
  const p = `model.layers.${l}.self_attn`;
  const L = `l${l}`;
  const heads = (x3: Value, n: number, label: string) => g.transpose(g.reshape(x3, [0, 0, n, hd], `${label}_split`), [0, 2, 1, 3], `${label}_heads`);
  let [q, k, v] = linears(c, h, [`${p}.q_proj.weight`, `${p}.k_proj.weight`, `${p}.v_proj.weight`], [`${L}_q_proj`, `${L}_k_proj`, `${L}_v_proj`]) as [
    Value,
    Value,
    Value,
  ];
  if (c.rope.caches) {
    q = fusedRotary(c, q, nh, `${L}_q_rope`);
    k = fusedRotary(c, k, kvh, `${L}_k_rope`);
  }
  q = heads(q, nh, `${L}_q`);
  k = heads(k, kvh, `${L}_k`);
  v = g.transpose(g.reshape(v, [0, 0, kvh, hd]), [0, 2, 1, 3]);
  if (!c.rope.caches) {
    q = rotary(c, q, `${L}_q_rope`); // [B,nh,S,hd]
    k = rotary(c, k, `${L}_k_rope`); // [B,kvh,S,hd]
  }
  if (c.kv) [k, v] = withPast(c, l, k, v);
  // grouped-query attention: q [B,kvh,rep*S,hd] against k [B,kvh,T,hd]
  const qs = g.mul(g.reshape(q, [0, kvh, -1, hd], `${L}_q_group`), g.constFloat(cfg.attnScale), `${L}_q_scale`);
  let scores = g.matmul(qs, g.transpose(k, [0, 1, 3, 2], `${L}_kT`), `${L}_scores`); // [B,kvh,rep*S,T]
  if (cfg.attnSoftcap !== null) scores = softcap(c, scores, cfg.attnSoftcap, `${L}_attn_softcap`);
  const probs = g.softmax(g.add(scores, maskFor(c, cfg.slidingWindow[l] ?? null), `${L}_masked`), -1, `${L}_softmax`); // [B,kvh,rep*S,T]
  const ctx = g.matmul(probs, v, `${L}_ctx`); // [B,kvh,rep*S,hd]
  const ctxH = g.transpose(g.reshape(ctx, [0, nh, -1, hd]), [0, 2, 1, 3]); // [B,S,nh,hd]
  return linear(c, g.reshape(ctxH, [0, 0, nh * hd], `${L}_ctx_flat`), `${p}.o_proj.weight`, `${L}_o_proj`);
}

/** The gated MLP of layer l over the normed input h: down(act(gate(h)) · up(h)). */
function mlp(c: Ctx, h: Value, l: number): Value {
  const p = `model.layers.${l}.mlp`;
  const L = `l${l}`;
  const [gate, up] = linears(c, h, [`${p}.gate_proj.weight`, `${p}.up_proj.weight`], [`${L}_gate_proj`, `${L}_up_proj`]) as [Value, Value];
  return linear(c, c.g.mul(activate(c, gate, L), up, `${L}_glu`), `${p}.down_proj.weight`, `${L}_down_proj`);
}

/** Logits from the final hidden states: the LM head (the tied embedding table, quantised, fp16 or float32), softcapped for Gemma 2. */
function lmHead(c: Ctx, hN: Value): Value {
  const { g, cfg, fused } = c;
  const head = cfg.tieWordEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
  let logits: Value;
  const headQ = quantized(c, head);
  if (headQ && fused) logits = quantMatMul(c, hN, head, headQ, 'lm_head');
  else if (headQ) logits = g.op('FusedMatMul', [hN, dequantAfter(c, hN, head, headQ, 'lm_head')], { transB: 1 }, { domain: 'com.microsoft', name: 'lm_head' });
  else if (fused && (!c.half || cfg.tieWordEmbeddings)) {
    // fp32 (a tied head is the fp32 embedding table, also in fp16 graphs)
    logits = g.op('FusedMatMul', [hN, weight(c, head)], { transB: 1 }, { domain: 'com.microsoft', name: 'lm_head' });
  } else if (fused) {
    logits = g.op(
      'Reshape',
      [gemm(c, g.reshape(hN, [-1, cfg.hiddenSize], 'lm_head_in2d'), head, null, 'lm_head'), shape3(c, cfg.vocabSize)],
      {},
      { name: 'lm_head_out3d' },
    );
  } else logits = g.matmul(hN, g.transpose(weight(c, head), [1, 0], 'lm_head_wT'), 'lm_head');
  return cfg.finalSoftcap !== null ? softcap(c, logits, cfg.finalSoftcap, 'final_softcap') : logits;
}
