/**
 * The sequence classifier behind the default detectors: a small 1-D convolutional network over
 * static word vectors (wordseq.ts), built with the engine's ONNX graph builder so the same graph
 * serves training (with autodiff's backward pass appended) and inference (onnxruntime).
 *
 *   x [B,T,C] ─ conv(k) ─ ReLU ─ ×mask ─┬─ (+ conv(k) ─ ReLU ─ ×mask, residual) × (layers − 1)
 *                                       └→ (+ self-attention, residual) × attention → h [B,T,H]
 *   features = [ masked mean of h | K attention-pooled views of h | mean of h over the first P
 *                tokens (prefixTokens > 0) | extra features (e.g. refusal phrase flags) ]
 *   logits [B,O] = [ per-token linear scores of h pooled by a soft maximum (the first
 *                    tokenOutputs outputs) | features (→ ReLU MLP when mlpHidden > 0) → linear ]
 *
 * A convolution is the concatenation of k shifted copies of its input followed by one MatMul
 * (only ops with gradient rules). Padding positions are zeroed after every layer and excluded from
 * every pooling, so a text's logits do not depend on what it is batched with.
 * `seqNetForwardJs` is a plain-JS forward pass of the same network (the reference in tests).
 */
import type { StaticVectorTable } from '../embed/staticVectors';
import { addGradients } from '../engine/autodiff';
import { Graph, type Value, createSession, f32Tensor, type ort } from '../engine/graph';
import { Rng } from '../engine/train/rng';
import { type SeqNetConfig, type SeqNetParams, checkParams, featureWidth, seqNetParamShapes } from './seqnetConfig';
import { type SeqBatch, batchFromIds } from './wordseq';

export { type SeqNetConfig, type SeqNetParams, checkParams, featureWidth, seqNetParamShapes } from './seqnetConfig';

/** Seeded initialisation: uniform Glorot weights, zero biases (attention scores start uniform). */
export function initSeqNetParams(cfg: SeqNetConfig, seed: number): SeqNetParams {
  if (cfg.kernel % 2 !== 1) throw new Error(`seqnet: kernel must be odd, got ${cfg.kernel}`);
  const rng = new Rng(seed);
  const p: SeqNetParams = new Map();
  for (const [name, shape] of seqNetParamShapes(cfg)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    if (shape.length === 2 && name !== 'pool.u') {
      const lim = Math.sqrt(6 / (shape[0]! + shape[1]!));
      for (let i = 0; i < n; i++) a[i] = rng.uniform(-lim, lim);
    }
    p.set(name, a);
  }
  return p;
}

export interface SeqNetGraphOptions {
  /** 'infer': parameters are initializers, output "logits". 'train': parameters are inputs, outputs loss, logits and grad.<name>. */
  mode: 'infer' | 'train';
  /** Inference weights (mode 'infer'). */
  params?: SeqNetParams;
}

/**
 * The network as an ONNX graph. Inputs: x [B,T,C], mask [B,T,1] (float), with prefixTokens > 0
 * prefix [B,T,1] (mask of the first P tokens), with extraFeatures > 0 extra [B,E]; training adds
 * y [B,O] (targets 0/1), w [B,O] (loss weight per target, 0 = unlabelled) and drop [B,F]
 * (feature dropout: 0 or 1/(1-p)) and one shift matrix per offset s ≠ 0 of the kernel, "shift<s>"
 * [T,T] with 1 at (t, t+s) (shiftMatrix). The training loss is Σ w · BCE(logit, y).
 */
export function buildSeqNetGraph(cfg: SeqNetConfig, o: SeqNetGraphOptions): Graph {
  const g = new Graph(o.mode === 'train' ? 'seqnet_train' : 'seqnet', 21);
  const C = cfg.inputChannels;
  const H = cfg.hidden;
  const K = cfg.poolHeads;
  const O = cfg.outputs.length;
  const F = featureWidth(cfg);
  const x = g.input('x', 'float32', ['batch', 'time', C]);
  const mask = g.input('mask', 'float32', ['batch', 'time', 1]);
  const prefix = cfg.prefixTokens > 0 ? g.input('prefix', 'float32', ['batch', 'time', 1]) : null;
  const extra = cfg.extraFeatures > 0 ? g.input('extra', 'float32', ['batch', cfg.extraFeatures]) : null;
  const shapes = new Map(seqNetParamShapes(cfg));
  const param = (name: string): Value => {
    const shape = shapes.get(name)!;
    if (o.mode === 'train') return g.input(name, 'float32', shape);
    const v = o.params?.get(name);
    if (!v) throw new Error(`seqnet: parameter ${name} is missing`);
    return g.initializer(name, v, shape);
  };
  const pad = (cfg.kernel - 1) / 2;
  const zero = g.constFloat(0);
  // Training: shifts are products with [T,T] shift matrices (Slice's gradient needs a static T).
  const shiftMats = new Map<number, Value>();
  if (o.mode === 'train') for (let s = -pad; s <= pad; s++) if (s !== 0) shiftMats.set(s, g.input(`shift${s}`, 'float32', ['time', 'time']));
  /** h shifted along time: row t holds h[t+s] (zero outside the sequence). */
  const shift = (h: Value, s: number): Value => {
    const m = shiftMats.get(s);
    if (m) return g.matmul(m, h);
    if (s < 0) return g.concat([g.mul(g.slice(h, [0], [-s], [1]), zero), g.slice(h, [0], [s], [1])], 1);
    return g.concat([g.slice(h, [s], [2 ** 31], [1]), g.mul(g.slice(h, [0], [s], [1]), zero)], 1);
  };
  const conv = (h: Value, l: number): Value => {
    const parts: Value[] = [];
    for (let s = -pad; s <= pad; s++) parts.push(s === 0 ? h : shift(h, s));
    const u = parts.length === 1 ? parts[0]! : g.concat(parts, 2);
    return g.mul(g.op('Relu', [g.add(g.matmul(u, param(`conv${l}.w`)), param(`conv${l}.b`))]), mask);
  };
  let h = conv(x, 0);
  for (let l = 1; l < cfg.layers; l++) h = g.add(h, conv(h, l));
  // self-attention: h += softmax(q kᵀ/√H + key padding bias) v, masked
  const keyBias = g.transpose(g.mul(g.sub(mask, g.constFloat(1)), g.constFloat(1e4)), [0, 2, 1]); // [B,1,T]
  for (let l = 0; l < cfg.attention; l++) {
    const q = g.matmul(h, param(`att${l}.q`));
    const k = g.matmul(h, param(`att${l}.k`));
    const v = g.matmul(h, param(`att${l}.v`));
    const a = g.softmax(g.add(g.mul(g.matmul(q, g.transpose(k, [0, 2, 1])), g.constFloat(1 / Math.sqrt(H))), keyBias), 2);
    h = g.add(h, g.mul(g.matmul(a, v), mask));
  }

  const sumOver = (v: Value) => g.op('ReduceSum', [v, g.constInt64([1])], { keepdims: 0 }); // [B,T,*] → [B,*]
  const count = (m: Value) => g.op('Max', [sumOver(m), g.constFloat(1)]); // [B,1]
  const feats: Value[] = [g.div(sumOver(h), count(mask))];
  // Attention pooling: K softmax-over-time weightings of h (padding gets -1e4 before the softmax).
  const bias = g.mul(g.sub(mask, g.constFloat(1)), g.constFloat(1e4));
  const att = g.softmax(g.add(g.matmul(h, param('pool.u')), bias), 1); // [B,T,K]
  const pooled = g.matmul(g.transpose(att, [0, 2, 1]), h); // [B,K,H]
  feats.push(g.reshape(pooled, [-1, K * H]));
  if (prefix) feats.push(g.div(sumOver(g.mul(h, prefix)), count(prefix)));
  if (extra) feats.push(extra);
  let f = feats.length === 1 ? feats[0]! : g.concat(feats, 1);
  if (o.mode === 'train') f = g.mul(f, g.input('drop', 'float32', ['batch', F]));
  if (cfg.mlpHidden > 0) f = g.op('Relu', [g.add(g.matmul(f, param('mlp.w')), param('mlp.b'))]);
  const heads: Value[] = [];
  if (cfg.tokenOutputs > 0) {
    // per-token scores s [B,T,k], pooled as Σ_t softmax_t(s) · s (a soft maximum over the tokens)
    const sc = g.matmul(h, param('tok.w'));
    const a = g.softmax(g.add(sc, bias), 1);
    heads.push(g.add(sumOver(g.mul(a, sc)), param('tok.b')));
  }
  if (O > cfg.tokenOutputs) heads.push(g.add(g.matmul(f, param('out.w')), param('out.b')));
  const logits = heads.length === 1 ? heads[0]! : g.concat(heads, 1);
  g.output(logits, 'logits');
  if (o.mode === 'train') {
    const y = g.input('y', 'float32', ['batch', O]);
    const w = g.input('w', 'float32', ['batch', O]);
    // BCE with logits, stable: max(z,0) + log(1 + exp(-|z|)) - y·z
    const softplus = g.add(g.op('Relu', [logits]), g.op('Log', [g.add(g.constFloat(1), g.op('Exp', [g.op('Neg', [g.op('Abs', [logits])])]))]));
    const bce = g.sub(softplus, g.mul(y, logits));
    const loss = g.op('ReduceSum', [g.mul(bce, w)], { keepdims: 0 });
    g.output(loss, 'loss');
    const names = [...shapes.keys()];
    const grads = addGradients(g, loss, names);
    for (const n of names) g.output(grads.get(n)!, `grad.${n}`);
  }
  return g;
}

/** [T,T] matrix whose product with a [.., T, C] sequence shifts it by s along time (row t gets row t+s, zero outside). */
export function shiftMatrix(t: number, s: number): Float32Array {
  const m = new Float32Array(t * t);
  for (let r = 0; r < t; r++) if (r + s >= 0 && r + s < t) m[r * t + r + s] = 1;
  return m;
}

/** Mask of the first `p` tokens of each row ([B,T], like batch.mask). */
export function prefixMask(batch: SeqBatch, p: number): Float32Array {
  const m = new Float32Array(batch.b * batch.t);
  for (let r = 0; r < batch.b; r++) for (let k = 0; k < Math.min(p, batch.lengths[r]!); k++) m[r * batch.t + k] = 1;
  return m;
}

/**
 * Plain-JS forward pass (float64 accumulation): logits [B,O]. The reference the ONNX graph is
 * checked against; also fast enough for a handful of texts.
 */
export function seqNetForwardJs(cfg: SeqNetConfig, params: SeqNetParams, batch: SeqBatch, extra?: Float32Array): Float32Array {
  checkParams(cfg, params);
  const { b: B, t: T } = batch;
  const H = cfg.hidden;
  const K = cfg.poolHeads;
  const E = cfg.extraFeatures;
  const O = cfg.outputs.length;
  const pad = (cfg.kernel - 1) / 2;
  const P = (n: string) => params.get(n)!;
  if (batch.c !== cfg.inputChannels) throw new Error(`seqnet: batch has ${batch.c} channels, model ${cfg.inputChannels}`);
  if (E > 0 && (!extra || extra.length !== B * E)) throw new Error(`seqnet: expected ${B} × ${E} extra features`);
  const prefix = cfg.prefixTokens > 0 ? prefixMask(batch, cfg.prefixTokens) : null;
  const out = new Float32Array(B * O);
  for (let r = 0; r < B; r++) {
    // conv stack over this row
    let cin = cfg.inputChannels;
    let cur = Float64Array.from(batch.x.subarray(r * T * cin, (r + 1) * T * cin));
    for (let l = 0; l < cfg.layers; l++) {
      const w = P(`conv${l}.w`);
      const bias = P(`conv${l}.b`);
      const next = new Float64Array(T * H);
      for (let t = 0; t < T; t++) {
        if (!batch.mask[r * T + t]) continue;
        for (let j = 0; j < H; j++) {
          let s = bias[j]!;
          for (let k = 0; k < cfg.kernel; k++) {
            const src = t + k - pad;
            if (src < 0 || src >= T) continue;
            for (let ci = 0; ci < cin; ci++) s += cur[src * cin + ci]! * w[(k * cin + ci) * H + j]!;
          }
          next[t * H + j] = Math.max(0, s) + (l > 0 ? cur[t * H + j]! : 0);
        }
      }
      cur = next;
      cin = H;
    }
    for (let l = 0; l < cfg.attention; l++) {
      const proj = (name: string) => {
        const w = P(name);
        const o = new Float64Array(T * H);
        for (let t = 0; t < T; t++)
          for (let j = 0; j < H; j++) {
            let s = 0;
            for (let i = 0; i < H; i++) s += cur[t * H + i]! * w[i * H + j]!;
            o[t * H + j] = s;
          }
        return o;
      };
      const q = proj(`att${l}.q`);
      const k = proj(`att${l}.k`);
      const v = proj(`att${l}.v`);
      const next = Float64Array.from(cur);
      for (let t = 0; t < T; t++) {
        if (!batch.mask[r * T + t]) continue;
        const sc: number[] = [];
        for (let u = 0; u < T; u++) {
          let s = 0;
          for (let j = 0; j < H; j++) s += q[t * H + j]! * k[u * H + j]!;
          sc.push(s / Math.sqrt(H) + (batch.mask[r * T + u] ? 0 : -1e4));
        }
        const m = Math.max(...sc);
        const e = sc.map((x) => Math.exp(x - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let u = 0; u < T; u++) s += (e[u]! / z) * v[u * H + j]!;
          next[t * H + j]! += s;
        }
      }
      cur = next;
    }
    const f: number[] = [];
    const len = Math.max(1, batch.lengths[r]!);
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let t = 0; t < T; t++) s += cur[t * H + j]!;
      f.push(s / len);
    }
    const u = P('pool.u');
    for (let k = 0; k < K; k++) {
      const sc: number[] = [];
      for (let t = 0; t < T; t++) {
        let s = batch.mask[r * T + t] ? 0 : -1e4;
        for (let j = 0; j < H; j++) s += cur[t * H + j]! * u[j * K + k]!;
        sc.push(s);
      }
      const m = Math.max(...sc);
      const e = sc.map((v) => Math.exp(v - m));
      const z = e.reduce((a, v) => a + v, 0);
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += (e[t]! / z) * cur[t * H + j]!;
        f.push(s);
      }
    }
    if (prefix) {
      let n = 0;
      for (let t = 0; t < T; t++) n += prefix[r * T + t]!;
      for (let j = 0; j < H; j++) {
        let s = 0;
        for (let t = 0; t < T; t++) s += prefix[r * T + t]! * cur[t * H + j]!;
        f.push(s / Math.max(1, n));
      }
    }
    for (let e = 0; e < E; e++) f.push(extra![r * E + e]!);
    let v = f;
    if (cfg.mlpHidden > 0) {
      const w = P('mlp.w');
      const bias = P('mlp.b');
      v = [];
      for (let j = 0; j < cfg.mlpHidden; j++) {
        let s = bias[j]!;
        for (let i = 0; i < f.length; i++) s += f[i]! * w[i * cfg.mlpHidden + j]!;
        v.push(Math.max(0, s));
      }
    }
    const KT = cfg.tokenOutputs;
    if (KT > 0) {
      const w = P('tok.w');
      const bias = P('tok.b');
      for (let o = 0; o < KT; o++) {
        const sc: number[] = [];
        for (let t = 0; t < T; t++) {
          let s = 0;
          for (let j = 0; j < H; j++) s += cur[t * H + j]! * w[j * KT + o]!;
          sc.push(s);
        }
        const biased = sc.map((s, t) => s + (batch.mask[r * T + t] ? 0 : -1e4));
        const m = Math.max(...biased);
        const e = biased.map((v) => Math.exp(v - m));
        const z = e.reduce((a, v) => a + v, 0);
        out[r * O + o] = bias[o]! + sc.reduce((a, s, t) => a + (e[t]! / z) * s, 0);
      }
    }
    if (O > KT) {
      const w = P('out.w');
      const bias = P('out.b');
      const PO = O - KT;
      for (let o = 0; o < PO; o++) {
        let s = bias[o]!;
        for (let i = 0; i < v.length; i++) s += v[i]! * w[i * PO + o]!;
        out[r * O + KT + o] = s;
      }
    }
  }
  return out;
}

/** Feeds for a batch of examples (input side). */
export function inputFeeds(
  cfg: SeqNetConfig,
  table: StaticVectorTable,
  inputScale: number,
  seqs: Int32Array[],
  extras: Array<ArrayLike<number> | undefined>,
): Record<string, ort.Tensor> {
  const batch = batchFromIds(table, seqs, inputScale);
  // a convolution needs at least (kernel - 1) / 2 + 1 positions
  const minT = (cfg.kernel - 1) / 2 + 1;
  const b = batch.t >= minT ? batch : batchFromIds(table, [...seqs, new Int32Array(minT).fill(-1)], inputScale);
  const rows = seqs.length;
  const T = b.t;
  const feeds: Record<string, ort.Tensor> = {
    x: f32Tensor(b.x.subarray(0, rows * T * b.c), [rows, T, b.c]),
    mask: f32Tensor(b.mask.subarray(0, rows * T), [rows, T, 1]),
  };
  if (cfg.prefixTokens > 0) feeds.prefix = f32Tensor(prefixMask(b, cfg.prefixTokens).subarray(0, rows * T), [rows, T, 1]);
  if (cfg.extraFeatures > 0) {
    const e = new Float32Array(rows * cfg.extraFeatures);
    extras.forEach((x, r) => {
      if (!x || x.length !== cfg.extraFeatures) throw new Error(`seqnet: example ${r} needs ${cfg.extraFeatures} extra features`);
      e.set(x, r * cfg.extraFeatures);
    });
    feeds.extra = f32Tensor(e, [rows, cfg.extraFeatures]);
  }
  return feeds;
}

/** Batched inference with an onnxruntime session over given parameters. */
export class SeqNetRunner {
  private constructor(
    readonly cfg: SeqNetConfig,
    private readonly session: ort.InferenceSession,
    private readonly table: StaticVectorTable,
    private readonly inputScale: number,
  ) {}

  static async create(cfg: SeqNetConfig, params: SeqNetParams, table: StaticVectorTable, inputScale: number, threads = 2): Promise<SeqNetRunner> {
    const session = await createSession(buildSeqNetGraph(cfg, { mode: 'infer', params }).build(), { intraOpThreads: threads });
    return new SeqNetRunner(cfg, session, table, inputScale);
  }

  /** Logits [n, O] for token id sequences, in batches of similar length. */
  async logits(seqs: readonly Int32Array[], extras?: ReadonlyArray<ArrayLike<number> | undefined>, batchSize = 256): Promise<Float32Array> {
    const O = this.cfg.outputs.length;
    const out = new Float32Array(seqs.length * O);
    const order = [...seqs.keys()].sort((a, b) => seqs[a]!.length - seqs[b]!.length || a - b);
    for (let s = 0; s < order.length; s += batchSize) {
      const idx = order.slice(s, s + batchSize);
      const feeds = inputFeeds(
        this.cfg,
        this.table,
        this.inputScale,
        idx.map((i) => seqs[i]!),
        idx.map((i) => extras?.[i]),
      );
      const z = (await this.session.run(feeds)).logits!.data as Float32Array;
      idx.forEach((i, r) => out.set(z.subarray(r * O, (r + 1) * O), i * O));
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
