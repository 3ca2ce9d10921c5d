/**
 * Vector-Jacobian rules, one per forward op: given the node, its input/output values and the
 * gradients of its outputs, emit ordinary ONNX ops computing the gradients of its inputs.
 * A rule returns one entry per input (null: no gradient, e.g. indices, shapes, masks).
 */
import { GraphError, type Attr, type GraphNode, type Value } from '../graph';
import type { Emitter } from './helpers';

export interface RuleCtx {
  e: Emitter;
  node: GraphNode;
  /** the node's inputs (null for omitted optional inputs) */
  x: (Value | null)[];
  /** the node's outputs */
  y: Value[];
  /** gradients of the outputs (null when an output does not reach the loss) */
  dy: (Value | null)[];
  /** does input k need a gradient */
  needs: (k: number) => boolean;
}

export type VjpRule = (c: RuleCtx) => (Value | null)[];

function ai(n: GraphNode, k: string, def: number): number {
  const a: Attr | undefined = n.attributes[k];
  if (!a) return def;
  if (a.type !== 'int' && a.type !== 'float') throw new GraphError(`autodiff ${n.opType} ${n.name}: attribute ${k} is not a number`);
  return a.value;
}
function aints(n: GraphNode, k: string): number[] | undefined {
  const a = n.attributes[k];
  return a && a.type === 'ints' ? a.value : undefined;
}
function astr(n: GraphNode, k: string, def: string): string {
  const a = n.attributes[k];
  return a && a.type === 'string' ? a.value : def;
}
function fail(c: RuleCtx, msg: string): never {
  throw new GraphError(`autodiff ${c.node.opType} ${c.node.name}: ${msg}`);
}
function rankOf(c: RuleCtx, v: Value): number {
  if (!v.shape) fail(c, `rank of ${v.name} is unknown`);
  return v.shape.length;
}
function normAxis(a: number, r: number): number {
  return a < 0 ? a + r : a;
}
function x0(c: RuleCtx, k = 0): Value {
  const v = c.x[k];
  if (!v) fail(c, `missing input #${k}`);
  return v;
}
function dy0(c: RuleCtx): Value {
  const d = c.dy[0];
  if (!d) fail(c, 'no output gradient');
  return d;
}

/** gradient of a matrix product a @ b (rank >= 2, batch dims broadcast) */
function matmulGrads(c: RuleCtx, a: Value, b: Value, dy: Value): (Value | null)[] {
  const { e } = c;
  const ra = rankOf(c, a);
  const rb = rankOf(c, b);
  if (ra < 2 || rb < 2) fail(c, 'rank-1 MatMul operands are not supported');
  let da: Value | null = null;
  let db: Value | null = null;
  if (c.needs(0)) da = e.unbroadcast(e.matmul(dy, e.swapLast(b)), a);
  if (c.needs(1)) {
    if (rb === 2 && ra > 2) {
      // x [.., M, K] @ W [K, N]: dW = x2ᵀ dy2 with the batch folded into M (no [B, K, N] temporary)
      const K = a.shape![ra - 1]!;
      const N = b.shape![1]!;
      if (typeof K !== 'number' || typeof N !== 'number') fail(c, 'weight dims must be static');
      db = e.matmul(e.transpose(e.reshape(a, [-1, K]), [1, 0]), e.reshape(dy, [-1, N]));
    } else db = e.unbroadcast(e.matmul(e.swapLast(a), dy), b);
  }
  return [da, db];
}

/** Expand a reduced gradient back over the reduced axes. */
function expandReduced(c: RuleCtx, x: Value, dy: Value, keep: boolean, axes: number[]): Value {
  const { e } = c;
  let d = dy;
  if (!keep) d = e.op('Unsqueeze', [dy, e.ints(axes)]);
  return e.op('Expand', [d, e.shapeOf(x)], {}, [{ dtype: dy.dtype, shape: x.shape }]);
}

function reduceAxes(c: RuleCtx, x: Value): number[] {
  const r = rankOf(c, x);
  const axesIn = c.x[1];
  let axes: number[] | undefined;
  if (axesIn) {
    axes = axesIn.constValue;
    if (!axes) fail(c, 'reduction axes must be constant');
  } else axes = aints(c.node, 'axes');
  if (!axes || axes.length === 0) {
    if (ai(c.node, 'noop_with_empty_axes', 0)) fail(c, 'noop_with_empty_axes is not supported');
    return [...Array(r).keys()];
  }
  return axes.map((a) => normAxis(a, r));
}

export const RULES: Record<string, VjpRule> = {
  Identity: (c) => [dy0(c)],

  Add: (c) => {
    const d = dy0(c);
    return [c.needs(0) ? c.e.unbroadcast(d, x0(c, 0)) : null, c.needs(1) ? c.e.unbroadcast(d, x0(c, 1)) : null];
  },
  Sub: (c) => {
    const d = dy0(c);
    return [c.needs(0) ? c.e.unbroadcast(d, x0(c, 0)) : null, c.needs(1) ? c.e.unbroadcast(c.e.neg(d), x0(c, 1)) : null];
  },
  Mul: (c) => {
    const d = dy0(c);
    const [a, b] = [x0(c, 0), x0(c, 1)];
    if (a.name === b.name) {
      // x * x
      const g = c.e.mul(c.e.mul(d, a), c.e.scalar(2, a.dtype));
      return [g, null];
    }
    return [c.needs(0) ? c.e.unbroadcast(c.e.mul(d, b), a) : null, c.needs(1) ? c.e.unbroadcast(c.e.mul(d, a), b) : null];
  },
  Div: (c) => {
    const d = dy0(c);
    const [a, b] = [x0(c, 0), x0(c, 1)];
    const da = c.needs(0) ? c.e.unbroadcast(c.e.div(d, b), a) : null;
    // d(a/b)/db = -a/b² = -y/b
    const db = c.needs(1) ? c.e.unbroadcast(c.e.neg(c.e.div(c.e.mul(d, c.y[0]!), b)), b) : null;
    return [da, db];
  },
  Neg: (c) => [c.e.neg(dy0(c))],
  Exp: (c) => [c.e.mul(dy0(c), c.y[0]!)],
  Log: (c) => [c.e.div(dy0(c), x0(c))],
  Sqrt: (c) => [c.e.div(dy0(c), c.e.mul(c.y[0]!, c.e.scalar(2, c.y[0]!.dtype)))],
  Reciprocal: (c) => [c.e.neg(c.e.mul(dy0(c), c.e.mul(c.y[0]!, c.y[0]!)))],
  Pow: (c) => {
    const d = dy0(c);
    const [x, p] = [x0(c, 0), x0(c, 1)];
    let dx: Value | null = null;
    if (c.needs(0)) {
      const pf = p.dtype === x.dtype ? p : c.e.cast(p, x.dtype);
      const pm1 = c.e.sub(pf, c.e.scalar(1, x.dtype));
      dx = c.e.unbroadcast(c.e.mul(d, c.e.mul(pf, c.e.op('Pow', [x, pm1]))), x);
    }
    const dp = c.needs(1) ? c.e.unbroadcast(c.e.mul(d, c.e.mul(c.y[0]!, c.e.op('Log', [x]))), p) : null;
    return [dx, dp];
  },
  Sigmoid: (c) => {
    const y = c.y[0]!;
    return [c.e.mul(dy0(c), c.e.mul(y, c.e.sub(c.e.scalar(1, y.dtype), y)))];
  },
  Tanh: (c) => {
    const y = c.y[0]!;
    return [c.e.mul(dy0(c), c.e.sub(c.e.scalar(1, y.dtype), c.e.mul(y, y)))];
  },
  Erf: (c) => {
    const x = x0(c);
    const g = c.e.mul(c.e.scalar(2 / Math.sqrt(Math.PI), x.dtype), c.e.op('Exp', [c.e.neg(c.e.mul(x, x))]));
    return [c.e.mul(dy0(c), g)];
  },
  Sin: (c) => [c.e.mul(dy0(c), c.e.op('Cos', [x0(c)]))],
  Cos: (c) => [c.e.neg(c.e.mul(dy0(c), c.e.op('Sin', [x0(c)])))],
  Abs: (c) => [c.e.mul(dy0(c), c.e.op('Sign', [x0(c)], {}, [{ dtype: x0(c).dtype, shape: x0(c).shape }]))],
  Relu: (c) => {
    const x = x0(c);
    const pos = c.e.op('Greater', [x, c.e.scalar(0, x.dtype)]);
    return [c.e.op('Where', [pos, dy0(c), c.e.scalar(0, x.dtype)])];
  },

  Softmax: (c) => {
    const y = c.y[0]!;
    const d = dy0(c);
    const axis = normAxis(ai(c.node, 'axis', -1), rankOf(c, y));
    const s = c.e.reduceSum(c.e.mul(d, y), [axis], true);
    return [c.e.mul(y, c.e.sub(d, s))];
  },
  LogSoftmax: (c) => {
    const y = c.y[0]!;
    const d = dy0(c);
    const axis = normAxis(ai(c.node, 'axis', -1), rankOf(c, y));
    const s = c.e.reduceSum(d, [axis], true);
    return [c.e.sub(d, c.e.mul(c.e.op('Exp', [y]), s))];
  },

  MatMul: (c) => matmulGrads(c, x0(c, 0), x0(c, 1), dy0(c)),
  FusedMatMul: (c) => {
    // com.microsoft FusedMatMul: alpha · op(A) @ op(B), op = optional swap of the last two axes.
    // Written with FusedMatMul's own transpose flags, so a frozen B never gets a transposed copy.
    const { e } = c;
    const tA = ai(c.node, 'transA', 0);
    const tB = ai(c.node, 'transB', 0);
    const alpha = ai(c.node, 'alpha', 1);
    if (ai(c.node, 'transBatchA', 0) || ai(c.node, 'transBatchB', 0)) fail(c, 'transBatch is not supported');
    const [A, B] = [x0(c, 0), x0(c, 1)];
    const d = dy0(c);
    const ra = rankOf(c, A);
    const rb = rankOf(c, B);
    if (ra < 2 || rb < 2) fail(c, 'rank-1 operands are not supported');
    const fm = (p: Value, q: Value, ta: number, tb: number) =>
      e.op('FusedMatMul', [p, q], { transA: ta, transB: tb, alpha: { type: 'float', value: alpha } }, undefined, 'com.microsoft');
    let dA: Value | null = null;
    let dB: Value | null = null;
    // d op(A) = d · op(B)ᵀ ;  dA = tA ? (d op(A))ᵀ = op(B) · dᵀ : d op(A)
    if (c.needs(0)) dA = e.unbroadcast(tA ? fm(B, d, tB, 1) : fm(d, B, 0, 1 - tB), A);
    if (c.needs(1)) {
      if (rb === 2 && ra > 2) {
        // fold A's batch dims into rows: op(A) is [.., M, K]; needs A untransposed to fold
        if (tA) fail(c, 'transA with a 2-D B is not supported');
        const K = A.shape![ra - 1]!;
        const N = d.shape![d.shape!.length - 1]!;
        if (typeof K !== 'number' || typeof N !== 'number') fail(c, 'weight dims must be static');
        const A2 = e.reshape(A, [-1, K]);
        const d2 = e.reshape(d, [-1, N]);
        dB = tB ? fm(d2, A2, 1, 0) : fm(A2, d2, 1, 0);
      } else dB = e.unbroadcast(tB ? fm(d, A, 1, tA) : fm(A, d, 1 - tA, 0), B);
    }
    return [dA, dB];
  },
  Gemm: (c) => {
    const { e } = c;
    const tA = ai(c.node, 'transA', 0);
    const tB = ai(c.node, 'transB', 0);
    const alpha = ai(c.node, 'alpha', 1);
    const beta = ai(c.node, 'beta', 1);
    const [A, B, C] = [x0(c, 0), x0(c, 1), c.x[2] ?? null];
    const d = dy0(c);
    const gemm = (p: Value, q: Value, ta: number, tb: number) => e.op('Gemm', [p, q], { alpha: { type: 'float', value: alpha }, transA: ta, transB: tb });
    let dA: Value | null = null;
    let dB: Value | null = null;
    if (c.needs(0)) dA = tA ? gemm(B, d, tB, 1) : gemm(d, B, 0, 1 - tB);
    if (c.needs(1)) dB = tB ? gemm(d, A, 1, tA) : gemm(A, d, 1 - tA, 0);
    let dC: Value | null = null;
    if (C && c.needs(2)) dC = e.unbroadcast(beta === 1 ? d : e.mul(d, e.scalar(beta, d.dtype)), C);
    return [dA, dB, dC];
  },

  Reshape: (c) => [c.e.reshapeLike(dy0(c), x0(c)), null],
  Flatten: (c) => [c.e.reshapeLike(dy0(c), x0(c))],
  Squeeze: (c) => [c.e.reshapeLike(dy0(c), x0(c)), null],
  Unsqueeze: (c) => [c.e.reshapeLike(dy0(c), x0(c)), null],
  Transpose: (c) => {
    const r = rankOf(c, x0(c));
    const perm = aints(c.node, 'perm') ?? [...Array(r).keys()].reverse();
    const inv = new Array<number>(r);
    perm.forEach((p, i) => (inv[p] = i));
    return [c.e.transpose(dy0(c), inv)];
  },
  Expand: (c) => [c.e.unbroadcast(dy0(c), x0(c)), null],
  Cast: (c) => {
    const x = x0(c);
    const d = dy0(c);
    return [d.dtype === x.dtype ? d : c.e.cast(d, x.dtype)];
  },

  Slice: (c) => {
    const { e } = c;
    const x = x0(c);
    const r = rankOf(c, x);
    const starts = c.x[1]?.constValue;
    const ends = c.x[2]?.constValue;
    const axes = c.x[3] ? c.x[3].constValue : starts?.map((_, i) => i);
    const steps = c.x[4]?.constValue;
    if (!starts || !ends || !axes) fail(c, 'starts/ends/axes must be constant');
    if (steps && steps.some((s) => s !== 1)) fail(c, 'only step 1 is supported');
    const pads = new Array<number>(2 * r).fill(0);
    axes.forEach((a0, i) => {
      const a = normAxis(a0, r);
      const dim = x.shape![a];
      if (typeof dim !== 'number') fail(c, `sliced axis ${a} of ${x.name} must have a static size`);
      const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
      const s = clamp(starts[i]!);
      const en = Math.max(clamp(ends[i]!), s);
      pads[a] = s;
      pads[r + a] = dim - en;
    });
    const dx = e.op('Pad', [dy0(c), e.ints(pads)], { mode: 'constant' }, [{ dtype: x.dtype, shape: x.shape }]);
    return [dx, null, null, null, null];
  },
  Concat: (c) => {
    const { e } = c;
    const xs = c.x.filter((v): v is Value => !!v);
    const r = rankOf(c, xs[0]!);
    const axis = normAxis(ai(c.node, 'axis', 0), r);
    const lens = xs.map((v) => e.op('Shape', [v], { start: axis, end: axis + 1 }));
    const split = xs.length === 1 ? lens[0]! : e.op('Concat', lens, { axis: 0 });
    const parts = c.e.g.opN('Split', [dy0(c), split], { axis }, { name: e.name('Split'), outTypes: xs.map((v) => ({ dtype: v.dtype, shape: v.shape })) });
    return c.x.map((v, k) => (v && c.needs(k) ? parts[xs.indexOf(v)]! : null));
  },
  Split: (c) => {
    const { e } = c;
    const x = x0(c);
    const axis = normAxis(ai(c.node, 'axis', 0), rankOf(c, x));
    const parts = c.y.map((y, k) => c.dy[k] ?? e.zerosLike(y));
    return [e.op('Concat', parts, { axis }), null];
  },
  Gather: (c) => {
    const { e } = c;
    const [data, idx] = [x0(c, 0), x0(c, 1)];
    if (normAxis(ai(c.node, 'axis', 0), rankOf(c, data)) !== 0) fail(c, 'only axis 0 is supported');
    const idx64 = idx.dtype === 'int64' ? idx : e.cast(idx, 'int64');
    const ind = e.op('Unsqueeze', [idx64, e.ints([-1])]);
    return [e.scatterIntoZeros('ScatterND', data, ind, dy0(c), {}), null];
  },
  GatherElements: (c) => {
    const { e } = c;
    const [data, idx] = [x0(c, 0), x0(c, 1)];
    const axis = ai(c.node, 'axis', 0);
    return [e.scatterIntoZeros('ScatterElements', data, idx, dy0(c), { axis }), null];
  },
  Where: (c) => {
    const { e } = c;
    const [cond, a, b] = [x0(c, 0), x0(c, 1), x0(c, 2)];
    const d = dy0(c);
    const z = e.scalar(0, d.dtype);
    return [null, c.needs(1) ? e.unbroadcast(e.op('Where', [cond, d, z]), a) : null, c.needs(2) ? e.unbroadcast(e.op('Where', [cond, z, d]), b) : null];
  },

  ReduceSum: (c) => {
    const x = x0(c);
    return [expandReduced(c, x, dy0(c), ai(c.node, 'keepdims', 1) === 1, reduceAxes(c, x)), null];
  },
  ReduceMean: (c) => {
    const { e } = c;
    const x = x0(c);
    const axes = reduceAxes(c, x);
    let n: Value;
    const dims = axes.map((a) => x.shape![a]);
    if (dims.every((d) => typeof d === 'number'))
      n = e.scalar(
        (dims as number[]).reduce((p, q) => p * q, 1),
        x.dtype,
      );
    else {
      const shp = e.shapeOf(x);
      const sel = e.op('Gather', [shp, e.ints(axes)]);
      n = e.cast(e.op('ReduceProd', [sel], { keepdims: 0 }), x.dtype);
    }
    return [e.div(expandReduced(c, x, dy0(c), ai(c.node, 'keepdims', 1) === 1, axes), n), null];
  },

  ReduceLogSumExp: (c) => {
    // d lse / dx = softmax(x) along the reduced axes = exp(x - lse)
    const { e } = c;
    const x = x0(c);
    const axes = reduceAxes(c, x);
    const keep = ai(c.node, 'keepdims', 1) === 1;
    const y = keep ? c.y[0]! : e.op('Unsqueeze', [c.y[0]!, e.ints(axes)]);
    const d = keep ? dy0(c) : e.op('Unsqueeze', [dy0(c), e.ints(axes)]);
    return [e.mul(e.op('Exp', [e.sub(x, y)]), d), null];
  },
  SoftmaxCrossEntropyLoss: (c) => {
    // forward: loss_i = -w[label_i] · log_softmax(scores)_i[label_i], reduced; labels == ignore_index give 0
    const { e } = c;
    const [scores, labels] = [x0(c, 0), x0(c, 1)];
    if (c.x[2]) fail(c, 'class weights are not supported');
    if (rankOf(c, scores) !== 2) fail(c, 'scores must be [N, C]');
    const red = astr(c.node, 'reduction', 'mean');
    const ignore = c.node.attributes['ignore_index'] ? ai(c.node, 'ignore_index', -100) : null;
    const dt = scores.dtype;
    const dLoss = c.dy[0];
    const dLogp = c.dy[1] ?? null;
    let g: Value | null = null;
    if (dLoss) {
      const C = e.op('Shape', [scores], { start: 1, end: 2 });
      const classes = e.op('Range', [
        e.g.constInt64([0], [], e.g.uniqueName('ce_zero')),
        e.op('Squeeze', [C, e.ints([0])]),
        e.g.constInt64([1], [], e.g.uniqueName('ce_one')),
      ]);
      const lab2 = e.op('Unsqueeze', [labels, e.ints([1])]);
      const onehot = e.cast(e.op('Equal', [lab2, classes]), dt); // [N, C]
      let w: Value = e.cast(
        ignore === null ? e.op('Equal', [labels, labels]) : e.op('Not', [e.op('Equal', [labels, e.g.constInt64([ignore], [], e.g.uniqueName('ce_ignore'))])]),
        dt,
      ); // [N]
      let scale: Value;
      if (red === 'none') scale = dLoss;
      else if (red === 'sum') scale = dLoss;
      else if (red === 'mean') scale = e.div(dLoss, e.op('ReduceSum', [w], { keepdims: 0 }));
      else fail(c, `reduction ${red}`);
      w = e.mul(w, scale);
      const p = e.op('Softmax', [scores], { axis: 1 });
      g = e.mul(e.sub(p, onehot), e.op('Unsqueeze', [w, e.ints([1])]));
    }
    if (dLogp) {
      const y1 = c.y[1]!;
      const s = e.reduceSum(dLogp, [1], true);
      const gl = e.sub(dLogp, e.mul(e.op('Exp', [y1]), s));
      g = g ? e.add(g, gl) : gl;
    }
    return [g, null, null];
  },
};

/** ops whose outputs never carry a gradient (integer/boolean results, shapes) */
export const NON_DIFFERENTIABLE = new Set([
  'Shape',
  'Size',
  'Equal',
  'Less',
  'LessOrEqual',
  'Greater',
  'GreaterOrEqual',
  'And',
  'Or',
  'Not',
  'ArgMax',
  'ArgMin',
  'Range',
  'ConstantOfShape',
  'Floor',
  'Ceil',
  'Sign',
]);
