/**
 * The training graph: the model's plain-op decoder graph (the same builder as inference, fused
 * ops off) + LoRA terms whose A/B are graph inputs + the loss + its backward pass, with the
 * gradients as outputs.
 *
 * Inputs: input_ids, attention_mask, position_ids [B,S] int64; labels [B,S] int64 (the next token at
 * each position, any valid id where not counted); label_weights [B,S] float (per-position weight of
 * -log p(label); 0 = not counted — the trainer puts 1/tokens-in-the-optimiser-step there);
 * "<weight>.lora_A" [r,in] / ".lora_B" [out,r]; with dropout "<weight>.lora_drop" [B,S,in] bool (the
 * kept positions) and one scalar lora_drop_scale (1/(1-p) in training, 1 in evaluation); with distillation distill_idx [B,S,K] int64, distill_val [B,S,K], distill_weights [B,S].
 * Outputs: loss (total), ce, distill (when configured), logits (optional), and "grad.<input>" per trainable input.
 */
import { Graph, type GraphNode, type Value } from '../graph';
import { addGradients } from '../autodiff';
import type { DecoderConfig } from '../model/config';
import { buildDecoderGraph, type DecoderGraphOptions } from '../model/decoderGraph';
import type { WeightSource } from '../model/weights';
import type { LoraTarget } from './lora';

export interface DistillSpec {
  /** top-k teacher logits stored per position */
  k: number;
  /**
   * 'mse': Σ_k (z_student[idx_k] - z_teacher_k)² / K (DER's logit matching on the stored entries);
   * 'kl': Σ_k p_t(k) (log p_t(k) - log p_s(k)) over the stored entries, p_t from the stored logits and
   * log-sum-exp (LwF-style distillation)
   */
  mode: 'mse' | 'kl';
}

export interface TrainGraphOptions {
  lora: LoraTarget[];
  /**
   * LoRA dropout: a bool keep-mask input per target (1 byte per element, not a float mask: for a 7B
   * model at 1×512 tokens and all 7 targets that is 0.6 instead of 2.3 GB of inputs) and a scale input
   */
  dropout?: boolean;
  /** also train these base weights (graph inputs "<name>": full-parameter training, Fisher estimates) */
  trainWeights?: (name: string) => boolean;
  distill?: DistillSpec;
  /** output the logits too (for tests and Fisher/teacher computations) */
  outputLogits?: boolean;
  /** skip the backward pass (loss only) */
  forwardOnly?: boolean;
  /**
   * Activation checkpointing: the backward pass recomputes each decoder layer's intermediate values
   * from the layer's input (the residual stream) instead of keeping them from the forward pass.
   */
  recompute?: boolean;
  /**
   * Storage of the frozen projection matrices: 'float16' halves their memory (each is cast to fp32
   * where it is used; compute stays fp32). Only pays off with `recompute`: otherwise the fp32 casts
   * stay alive from the forward to the backward pass.
   */
  weightDtype?: 'float32' | 'float16';
  /**
   * Keep the frozen weights the source holds block-quantised (a quantised GGUF, or QuantizingWeights)
   * as uint8 codes, dequantised to float32 where each matrix is used (QLoRA-style). As with fp16
   * storage, only pays off with `recompute`.
   */
  quant?: DecoderGraphOptions['quant'];
  /** how frozen weights become initializers (e.g. WeightFileWriter.store: streamed to disk, memory-mapped) */
  storeWeight?: DecoderGraphOptions['storeWeight'];
}

export interface TrainGraph {
  graph: Graph;
  /** trainable input names in a fixed order (LoRA A/B per target, then base weights) */
  params: string[];
  /** dropout mask input names per LoRA target weight */
  dropoutInputs: Map<string, string>;
}

export function buildTrainGraph(cfg: DecoderConfig, src: WeightSource, opts: TrainGraphOptions): TrainGraph {
  const byWeight = new Map(opts.lora.map((t) => [t.weight, t]));
  const params: string[] = [];
  const dropoutInputs = new Map<string, string>();
  let dropScale: Value | undefined;
  const trainWeights: string[] = [];
  const g = buildDecoderGraph(cfg, src, {
    kvCache: false,
    logits: 'all',
    fused: false,
    weightDtype: opts.weightDtype,
    quant: opts.quant,
    storeWeight: opts.storeWeight,
    weightAsInput: opts.trainWeights
      ? (n) => {
          const t = opts.trainWeights!(n);
          if (t && !trainWeights.includes(n)) trainWeights.push(n);
          return t;
        }
      : undefined,
    linearHook: (gr, x, y, wName, label) => {
      const t = byWeight.get(wName);
      if (!t) return y;
      const a = gr.input(`${wName}.lora_A`, 'float32', [t.rank, t.inFeatures]);
      const b = gr.input(`${wName}.lora_B`, 'float32', [t.outFeatures, t.rank]);
      params.push(a.name, b.name);
      const AT = gr.transpose(a, [1, 0], `${label}_lora_AT`);
      let xa: Value;
      if (opts.dropout) {
        const m = gr.input(`${wName}.lora_drop`, 'bool', ['batch', 'seq', t.inFeatures]);
        dropoutInputs.set(wName, m.name);
        dropScale ??= gr.input('lora_drop_scale', 'float32', []);
        // dropout(x)·Aᵀ = s·(mask ? x : 0)·Aᵀ: the scale is applied to the [B,S,r] product, and no
        // float mask exists (the backward pass selects with the same bool mask)
        const dropped = gr.op('Where', [m, x, gr.constFloat(0)], {}, { name: `${label}_lora_dropout` });
        xa = gr.mul(gr.matmul(dropped, AT, `${label}_lora_a`), dropScale, `${label}_lora_a_scaled`);
      } else xa = gr.matmul(x, AT, `${label}_lora_a`);
      const xab = gr.matmul(xa, gr.transpose(b, [1, 0], `${label}_lora_BT`), `${label}_lora_b`);
      return gr.add(y, gr.mul(xab, gr.constFloat(t.scale), `${label}_lora_scale`), `${label}_lora_add`);
    },
  });
  for (const t of opts.lora)
    if (!params.includes(`${t.weight}.lora_A`)) throw new Error(`internal: LoRA target ${t.weight} is not a linear layer of the graph`);
  params.push(...trainWeights);
  fuseWeightTransposes(g, new Set(trainWeights));

  const logits = g.value('logits');
  // the decoder's Identity output stays an output only if asked for
  g.outputs.length = 0;
  if (opts.outputLogits) g.output(logits);

  // ---- cross-entropy on the labelled positions: Σ w · (logsumexp(logits) - logits[label]).
  // Written with ReduceLogSumExp + GatherElements (not LogSoftmax): the backward is then
  // softmax·w with the label entries scattered in, and no [B,S,V] log-probabilities are kept.
  const labels = g.input('labels', 'int64', ['batch', 'seq']);
  const weights = g.input('label_weights', 'float32', ['batch', 'seq']);
  const lse = g.op('ReduceLogSumExp', [logits, g.constInt64([-1])], { keepdims: 0 }, { name: 'ce_lse' }); // [B,S]
  const picked = g.squeeze(g.op('GatherElements', [logits, g.unsqueeze(labels, [-1])], { axis: 2 }, { name: 'ce_pick' }), [-1]);
  const ce = g.op('ReduceSum', [g.mul(g.sub(lse, picked, 'ce_nll'), weights, 'ce_weighted')], { keepdims: 0 }, { name: 'ce' });
  let loss: Value = ce;
  let distill: Value | null = null;
  if (opts.distill) {
    const K = opts.distill.k;
    const idx = g.input('distill_idx', 'int64', ['batch', 'seq', K]);
    const val = g.input('distill_val', 'float32', ['batch', 'seq', K]);
    const dw = g.input('distill_weights', 'float32', ['batch', 'seq']);
    let per: Value;
    if (opts.distill.mode === 'mse') {
      const zs = g.op('GatherElements', [logits, idx], { axis: 2 }, { name: 'distill_pick' });
      const d = g.sub(zs, val, 'distill_diff');
      per = g.op('ReduceMean', [g.mul(d, d), g.constInt64([-1])], { keepdims: 0 }, { name: 'distill_mse' }); // [B,S]
    } else {
      // teacher log-probs: distill_val holds z_t - lse_t (log-probabilities) for the stored entries
      const lps = g.sub(g.op('GatherElements', [logits, idx], { axis: 2 }, { name: 'distill_pick' }), g.unsqueeze(lse, [-1]), 'distill_logp');
      const pt = g.op('Exp', [val], {}, { name: 'distill_pt' });
      per = g.op('ReduceSum', [g.mul(pt, g.sub(val, lps)), g.constInt64([-1])], { keepdims: 0 }, { name: 'distill_kl' });
    }
    distill = g.op('ReduceSum', [g.mul(per, dw)], { keepdims: 0 }, { name: 'distill' });
    loss = g.add(ce, distill, 'loss_total');
  }
  g.output(loss, 'loss');
  g.output(ce);
  if (distill) g.output(distill);
  if (!opts.forwardOnly) {
    const forwardCount = g.nodes.length;
    // with recomputation: the residual stream entering each layer above the first, whose gradient
    // is where the backward pass moves on to the layer below (see orderLayerGradients)
    const layerInputs = opts.recompute ? Array.from({ length: cfg.numLayers - 1 }, (_, i) => layerInput(g, i + 1)) : [];
    const grads = addGradients(g, g.value('loss'), [...params, ...layerInputs]);
    for (const p of params) g.output(grads.get(p)!, `grad.${p}`);
    if (opts.recompute) {
      orderLayerGradients(
        g,
        layerInputs.map((x, i) => ({
          inputGrad: grads.get(x)!.name,
          paramGrads: params.filter((p) => layerOfParam(p) === i + 1).map((p) => grads.get(p)!.name),
        })),
      );
      recomputeLayers(g, forwardCount, cfg.numLayers);
      removeDeadNodes(g);
    }
  }
  return { graph: g, params, dropoutInputs };
}

/** the residual stream entering layer l (the first operand of its attention residual add) */
function layerInput(g: Graph, l: number): string {
  const n = g.nodes.find((x) => x.name === `l${l}_attn_residual`);
  if (!n) throw new Error(`internal: l${l}_attn_residual not found`);
  return n.inputs[0]!;
}

/** decoder layer of a trainable input ("model.layers.3.….lora_A" → 3), -1 outside the layers */
function layerOfParam(name: string): number {
  const m = /^model\.layers\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : -1;
}

/**
 * `x`, exactly unchanged in value, made to wait for `deps`: x + size(concat(d_i[0 : 0·size(x)])),
 * an empty slice of every dependency (so nothing of theirs, not even a NaN, reaches x), yet a data
 * dependency onnxruntime can neither constant-fold (the slice end comes from x's runtime size) nor
 * merge with another node by common-subexpression elimination.
 */
function waitFor(g: Graph, x: Value, deps: Value[], name: string): Value {
  const end = g.reshape(g.mul(g.op('Size', [x]), g.constInt64([0])), [1]);
  const empties = deps.map((d) => g.op('Slice', [g.reshape(d, [-1]), g.constInt64([0]), end]));
  const zero = g.cast(g.op('Size', [empties.length > 1 ? g.op('Concat', empties, { axis: 0 }) : empties[0]!]), x.dtype);
  return g.add(x, zero, name);
}

/**
 * Make each layer's parameter gradients complete before the backward pass goes on to the layer
 * below. They are side branches (nothing in the backward pass needs them), and onnxruntime's
 * execution order (a depth-first walk from the graph outputs) otherwise leaves them all to the
 * end, keeping every layer's inputs to them — with recomputation the recomputed adapter inputs and
 * the projections' output gradients — alive until the step ends (7B-shaped layers at 1×512 tokens,
 * 8 of them: peak 2.8 → 2.0 GB besides the weights). Used with recomputation only: without it the
 * forward values stay alive anyway, and the changed order raised the peak (134M model at 4×256
 * tokens: 3.2 → 5.0 GB), onnxruntime then interleaving the forward pass differently.
 *
 * The gradient dh entering layer l-1 waits for layer l's gradients (`waitFor`); the consumers of
 * dh after the gate read the gated value.
 */
export function orderLayerGradients(g: Graph, layers: { inputGrad: string; paramGrads: string[] }[]): number {
  const producer = new Map<string, number>();
  g.nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o, i)));
  // gates go in from the back of the node list: an insertion then moves no position still to use
  const gates = layers
    .filter((l) => l.paramGrads.length)
    .map((l) => ({ ...l, at: Math.max(...[l.inputGrad, ...l.paramGrads].map((v) => producer.get(v) ?? -1)) + 1 }))
    .sort((a, b) => b.at - a.at);
  for (const { inputGrad, paramGrads, at } of gates) {
    const mark = g.nodes.length;
    const gate = waitFor(
      g,
      g.value(inputGrad),
      paramGrads.map((p) => g.value(p)),
      g.uniqueName(`${inputGrad}_after_layer_grads`),
    );
    const added = g.nodes.splice(mark);
    const after = g.nodes.splice(at);
    g.nodes.push(...added, ...after.map((n) => (n.inputs.includes(inputGrad) ? { ...n, inputs: n.inputs.map((x) => (x === inputGrad ? gate.name : x)) } : n)));
  }
  return gates.length;
}

/**
 * Drop nodes whose outputs nothing reads (no node, no graph output). onnxruntime runs them all the
 * same: a recomputed layer's last nodes (its down projection and residual add, whose values the
 * backward pass takes from the forward pass) would otherwise run at the end of the step and keep
 * their inputs — with fp16 weights the down projection's fp32 cast — alive until then.
 */
export function removeDeadNodes(g: Graph): number {
  const used = new Set<string>(g.outputs.map((o) => o.name));
  const keep: boolean[] = new Array(g.nodes.length).fill(false);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (n.outputs.some((o) => used.has(o))) {
      keep[i] = true;
      for (const x of n.inputs) if (x) used.add(x);
    }
  }
  const before = g.nodes.length;
  const live = g.nodes.filter((_, i) => keep[i]);
  g.nodes.length = 0;
  g.nodes.push(...live);
  return before - live.length;
}

/**
 * MatMul(x, Transpose(W)) with a weight W — frozen (an initializer) or trained (an input named in
 * `trained`) — → com.microsoft FusedMatMul(x, W, transB=1). onnxruntime would otherwise
 * constant-fold Transpose(W) of a frozen weight into a second, transposed copy of it, and transpose
 * a trained one on every step; the backward rule of FusedMatMul uses W through its transpose flags
 * as well, so a trained weight's gradient comes out in W's own [out, in] layout.
 */
export function fuseWeightTransposes(g: Graph, trained: ReadonlySet<string> = new Set()): number {
  const weights = new Set([...g.initializers.map((t) => t.name), ...trained]);
  const producer = new Map<string, GraphNode>();
  const uses = new Map<string, number>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producer.set(o, n);
    for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
  }
  for (const o of g.outputs) uses.set(o.name, (uses.get(o.name) ?? 0) + 1);
  let fused = 0;
  for (let k = 0; k < g.nodes.length; k++) {
    const n = g.nodes[k]!;
    if (n.opType !== 'MatMul' || n.domain !== '') continue;
    const t = producer.get(n.inputs[1]!);
    const perm = t?.attributes['perm'];
    if (!t || t.opType !== 'Transpose' || !perm || perm.type !== 'ints' || perm.value.join(',') !== '1,0' || !weights.has(t.inputs[0]!)) continue;
    g.nodes[k] = {
      opType: 'FusedMatMul',
      domain: 'com.microsoft',
      name: n.name,
      inputs: [n.inputs[0]!, t.inputs[0]!],
      outputs: n.outputs,
      attributes: { transB: { type: 'int', value: 1 } },
    };
    uses.set(t.outputs[0]!, uses.get(t.outputs[0]!)! - 1);
    fused++;
  }
  if (fused) {
    g.useOpset('com.microsoft', 1);
    for (let k = g.nodes.length - 1; k >= 0; k--) {
      const n = g.nodes[k]!;
      if (n.opType === 'Transpose' && uses.get(n.outputs[0]!) === 0) g.nodes.splice(k, 1);
    }
  }
  return fused;
}

/**
 * Rewrite the backward nodes to use per-layer recomputed copies of forward values: layer l's
 * forward nodes (between the residual outputs of layers l-1 and l) are cloned once, right before
 * the first backward node that needs one of their values, so the originals die with the forward
 * pass. Values from outside the layer (its input, weights, masks, RoPE tables) are shared.
 *
 * The clones would otherwise depend only on values that exist early (the layer input, weights):
 * onnxruntime would then be free to run them during the forward pass, and its common-subexpression
 * elimination would merge them back into the originals; both undo the memory saving. So the clones
 * read the layer input made to wait (`waitFor`) for a backward value of the node that first needs
 * them, or the newest backward value before it: a real data dependency on the backward pass, and
 * inputs no original node has.
 */
export function recomputeLayers(g: Graph, forwardCount: number, numLayers: number): number {
  const nodes = g.nodes;
  const producerIdx = new Map<string, number>();
  for (let i = 0; i < forwardCount; i++) for (const o of nodes[i]!.outputs) producerIdx.set(o, i);
  const bounds: number[] = [];
  for (let l = 0; l < numLayers; l++) {
    const i = producerIdx.get(`l${l}_mlp_residual`);
    if (i === undefined) throw new Error(`recompute: layer output l${l}_mlp_residual not found`);
    bounds.push(i);
  }
  const segmentOf = (i: number): number => {
    for (let l = 0; l < numLayers; l++) if (i <= bounds[l]!) return l;
    return -1; // after the last layer (final norm, head, loss): not recomputed
  };
  // values used outside their own layer (masks, RoPE tables, shapes, the layer outputs) are kept
  const kept = new Set<string>();
  for (let i = 0; i < forwardCount; i++)
    for (const x of nodes[i]!.inputs) {
      const p = x ? producerIdx.get(x) : undefined;
      if (p !== undefined && segmentOf(p) !== segmentOf(i)) kept.add(x!);
    }
  const recomputable = (x: string): number => {
    const i = producerIdx.get(x);
    if (i === undefined || kept.has(x)) return -1;
    return segmentOf(i);
  };
  const backwardValues = new Set<string>();
  let lastBackward: string | undefined;
  const clones = new Map<string, string>();
  const done = new Set<number>();
  const backward = nodes.splice(forwardCount);
  const out: GraphNode[] = [];
  let cloneCount = 0;
  /** the layer input, made to wait for backward value `after` (exactly equal in value) */
  const gated = (l: number, input: string, after: string | undefined): string | undefined => {
    if (!after) return undefined;
    const mark = g.nodes.length;
    const y = waitFor(g, g.value(input), [g.value(after)], `rc/l${l}_input`);
    out.push(...g.nodes.splice(mark));
    return y.name;
  };
  const cloneSegment = (l: number, after: string | undefined) => {
    const from = l === 0 ? 0 : bounds[l - 1]! + 1;
    const input = layerInput(g, l);
    const gatedInput = gated(l, input, after);
    for (let i = from; i <= bounds[l]!; i++) {
      const n = nodes[i]!;
      const outNames = n.outputs.map((o) => g.uniqueName(`rc/${o}`));
      const outTypes = n.outputs.map((o) => {
        const v = g.value(o);
        return { dtype: v.dtype, shape: v.shape, constValue: v.constValue };
      });
      const ins = n.inputs.map((x) => (x ? (x === input && gatedInput ? gatedInput : (clones.get(x) ?? x)) : null));
      g.opN(n.opType, ins, { ...n.attributes }, { name: `rc/${n.name}`, domain: n.domain, outputs: outNames, outTypes });
      out.push(g.nodes.pop()!);
      n.outputs.forEach((o, k) => {
        if (recomputable(o) === l) clones.set(o, outNames[k]!);
      });
      cloneCount++;
    }
  };
  for (const n of backward) {
    for (const x of n.inputs) {
      const l = x ? recomputable(x) : -1;
      if (l >= 0 && !done.has(l)) {
        done.add(l);
        // a backward input of this node, or else (autodiff's Transpose of a forward value, say)
        // the newest backward value so far
        cloneSegment(l, n.inputs.find((v) => v && backwardValues.has(v)) ?? lastBackward);
      }
    }
    out.push({ ...n, inputs: n.inputs.map((x) => (x && recomputable(x) >= 0 ? clones.get(x)! : x)) });
    for (const o of n.outputs) backwardValues.add(o);
    lastBackward = n.outputs[0] ?? lastBackward;
  }
  nodes.push(...out);
  return cloneCount;
}
