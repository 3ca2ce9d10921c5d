/**
 * Build-time dtype and shape inference for the ops the engine uses. Each rule gets the node's
 * input values and attributes and returns the output types, throwing a readable GraphError on
 * mismatch (e.g. "MatMul q_proj: inner dims 64 vs 72").
 */
import type { Attr, Dim, DType, Shape, Value } from './types';
import { DTYPE_FROM_ONNX, shapeToString } from './types';

export class GraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphError';
  }
}

export interface OutType {
  dtype: DType;
  shape: Shape;
  constValue?: number[];
}

export interface InferCtx {
  opType: string;
  name: string;
  inputs: (Value | null)[];
  attrs: Record<string, Attr>;
  numOutputs: number;
}

type Rule = (c: InferCtx) => OutType[];

const FLOATS: DType[] = ['float32', 'float16', 'float64', 'bfloat16'];

function fail(c: InferCtx, msg: string): never {
  throw new GraphError(`${c.opType} ${c.name}: ${msg}`);
}

function inp(c: InferCtx, i: number): Value {
  const v = c.inputs[i];
  if (!v) fail(c, `missing required input #${i}`);
  return v;
}

function attrInt(c: InferCtx, k: string, def: number): number {
  const a = c.attrs[k];
  if (!a) return def;
  if (a.type !== 'int') fail(c, `attribute ${k} must be an int`);
  return a.value;
}
function attrFloat(c: InferCtx, k: string, def: number): number {
  const a = c.attrs[k];
  if (!a) return def;
  if (a.type !== 'float' && a.type !== 'int') fail(c, `attribute ${k} must be a float`);
  return a.value;
}
function attrInts(c: InferCtx, k: string): number[] | undefined {
  const a = c.attrs[k];
  if (!a) return undefined;
  if (a.type !== 'ints') fail(c, `attribute ${k} must be ints`);
  return a.value;
}

function normAxis(c: InferCtx, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(c, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

function sameDtype(c: InferCtx, vals: (Value | null)[], what = 'inputs'): DType {
  let dt: DType | null = null;
  for (const v of vals) {
    if (!v) continue;
    if (dt === null) dt = v.dtype;
    else if (v.dtype !== dt) fail(c, `${what} have different dtypes ${dt} vs ${v.dtype} (${v.name})`);
  }
  if (dt === null) fail(c, 'no inputs');
  return dt;
}

function requireFloat(c: InferCtx, v: Value): void {
  if (!FLOATS.includes(v.dtype)) fail(c, `input ${v.name} must be a float tensor, got ${v.dtype}`);
}

function mergeDim(c: InferCtx, a: Dim, b: Dim, what: string): Dim {
  if (a === 1) return b;
  if (b === 1) return a;
  if (a === null) return typeof b === 'number' ? b : b;
  if (b === null) return a;
  if (typeof a === 'number' && typeof b === 'number') {
    if (a !== b) fail(c, `${what}: cannot broadcast dims ${a} vs ${b}`);
    return a;
  }
  if (typeof a === 'number') return a;
  if (typeof b === 'number') return b;
  return a === b ? a : null;
}

export function broadcastShapes(c: InferCtx, shapes: Shape[]): Shape {
  if (shapes.some((s) => s === null)) return null;
  const ss = shapes as Dim[][];
  const rank = Math.max(...ss.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of ss) {
      const k = s.length - rank + i;
      if (k < 0) continue;
      d = mergeDim(c, d, s[k]!, `shapes ${ss.map((x) => shapeToString(x)).join(' and ')}`);
    }
    out.push(d);
  }
  return out;
}

function elementwise(c: InferCtx): OutType[] {
  const dt = sameDtype(c, c.inputs);
  return [
    {
      dtype: dt,
      shape: broadcastShapes(
        c,
        c.inputs.filter((v): v is Value => !!v).map((v) => v.shape),
      ),
    },
  ];
}

function unary(c: InferCtx): OutType[] {
  const x = inp(c, 0);
  return [{ dtype: x.dtype, shape: x.shape }];
}

function compare(c: InferCtx): OutType[] {
  const [o] = elementwise(c);
  return [{ dtype: 'bool', shape: o!.shape }];
}

function dimsEqual(a: Dim, b: Dim): boolean | null {
  if (typeof a === 'number' && typeof b === 'number') return a === b;
  if (typeof a === 'string' && typeof b === 'string' && a === b) return true;
  return null;
}

function matmulShape(c: InferCtx, a: Shape, b: Shape): Shape {
  if (a === null || b === null) return null;
  if (a.length === 0 || b.length === 0) fail(c, 'MatMul inputs must not be scalars');
  const a2 = a.length === 1 ? [1, a[0]!] : a;
  const b2 = b.length === 1 ? [b[0]!, 1] : b;
  const k1 = a2[a2.length - 1]!;
  const k2 = b2[b2.length - 2]!;
  if (dimsEqual(k1, k2) === false) fail(c, `inner dims ${k1} vs ${k2} (${shapeToString(a)} x ${shapeToString(b)})`);
  const batch = broadcastShapes(c, [a2.slice(0, -2), b2.slice(0, -2)]) as Dim[];
  const out: Dim[] = [...batch];
  if (a.length > 1) out.push(a2[a2.length - 2]!);
  if (b.length > 1) out.push(b2[b2.length - 1]!);
  return out;
}

function reduce(c: InferCtx): OutType[] {
  const x = inp(c, 0);
  const keep = attrInt(c, 'keepdims', 1);
  let axes = c.inputs[1] ? c.inputs[1].constValue : attrInts(c, 'axes');
  if (c.inputs[1] && !axes) {
    return [{ dtype: x.dtype, shape: keep && x.shape ? x.shape.map(() => null) : null }];
  }
  if (x.shape === null) return [{ dtype: x.dtype, shape: null }];
  const rank = x.shape.length;
  if (!axes || axes.length === 0) {
    if (attrInt(c, 'noop_with_empty_axes', 0)) return [{ dtype: x.dtype, shape: x.shape }];
    axes = x.shape.map((_, i) => i);
  }
  const set = new Set(axes.map((a) => normAxis(c, a, rank)));
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (set.has(i)) {
      if (keep) out.push(1);
    } else out.push(d);
  });
  return [{ dtype: c.opType === 'ArgMax' || c.opType === 'ArgMin' ? 'int64' : x.dtype, shape: out }];
}

function product(ds: Dim[]): number | null {
  let p = 1;
  for (const d of ds) {
    if (typeof d !== 'number') return null;
    p *= d;
  }
  return p;
}

function sliceDim(d: Dim, start: number, end: number, step: number): Dim {
  if (typeof d !== 'number') {
    // symbolic: still known when both ends are non-negative and bounded
    if (step === 1 && start >= 0 && end >= 0 && end < 2 ** 31) return end - start;
    return null;
  }
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + d : start;
  let e = end < 0 ? end + d : end;
  if (step > 0) {
    s = clamp(s, 0, d);
    e = clamp(e, 0, d);
    return Math.max(0, Math.ceil((e - s) / step));
  }
  s = clamp(s, -1, d - 1);
  e = clamp(e, -1, d - 1);
  return Math.max(0, Math.ceil((s - e) / -step));
}

function tensorAttrDtype(c: InferCtx, k: string): DType | null {
  const a = c.attrs[k];
  if (!a) return null;
  if (a.type !== 'tensor') fail(c, `attribute ${k} must be a tensor`);
  return a.value.dtype;
}

export const RULES: Record<string, Rule> = {
  Identity: unary,
  Neg: unary,
  Abs: unary,
  Exp: unary,
  Log: unary,
  Sqrt: unary,
  Reciprocal: unary,
  Erf: unary,
  Tanh: unary,
  Sigmoid: unary,
  Relu: unary,
  Sin: unary,
  Cos: unary,
  Softplus: unary,
  Gelu: unary,
  FastGelu: unary,
  QuickGelu: unary,
  Floor: unary,
  Ceil: unary,
  Not: unary,
  Dropout: (c) => [unary(c)[0]!, { dtype: 'bool', shape: inp(c, 0).shape }],
  Softmax: unary,
  LogSoftmax: unary,
  CumSum: unary,
  Trilu: unary,
  Add: elementwise,
  Sub: elementwise,
  Mul: elementwise,
  Div: elementwise,
  Max: elementwise,
  Min: elementwise,
  Sum: elementwise,
  Mean: elementwise,
  And: elementwise,
  Or: elementwise,
  Mod: elementwise,
  Pow: (c) => [{ dtype: inp(c, 0).dtype, shape: broadcastShapes(c, [inp(c, 0).shape, inp(c, 1).shape]) }],
  Equal: compare,
  Less: compare,
  LessOrEqual: compare,
  Greater: compare,
  GreaterOrEqual: compare,
  Where: (c) => {
    const cond = inp(c, 0);
    if (cond.dtype !== 'bool') fail(c, `condition ${cond.name} must be bool, got ${cond.dtype}`);
    const dt = sameDtype(c, [inp(c, 1), inp(c, 2)], 'branches');
    return [{ dtype: dt, shape: broadcastShapes(c, [cond.shape, inp(c, 1).shape, inp(c, 2).shape]) }];
  },
  Cast: (c) => {
    const to = attrInt(c, 'to', 0);
    const dt = DTYPE_FROM_ONNX[to];
    if (!dt) fail(c, `unknown target dtype code ${to}`);
    return [{ dtype: dt, shape: inp(c, 0).shape }];
  },
  MatMul: (c) => {
    const a = inp(c, 0);
    const b = inp(c, 1);
    if (a.dtype !== b.dtype) fail(c, `dtypes ${a.dtype} vs ${b.dtype}`);
    return [{ dtype: a.dtype, shape: matmulShape(c, a.shape, b.shape) }];
  },
  FusedMatMul: (c) => {
    const a = inp(c, 0);
    const b = inp(c, 1);
    if (a.dtype !== b.dtype) fail(c, `dtypes ${a.dtype} vs ${b.dtype}`);
    const t = (s: Shape, on: number): Shape => {
      if (!s || !on || s.length < 2) return s;
      const r = s.slice();
      [r[r.length - 1], r[r.length - 2]] = [r[r.length - 2]!, r[r.length - 1]!];
      return r;
    };
    return [{ dtype: a.dtype, shape: matmulShape(c, t(a.shape, attrInt(c, 'transA', 0)), t(b.shape, attrInt(c, 'transB', 0))) }];
  },
  Gemm: (c) => {
    const a = inp(c, 0);
    const b = inp(c, 1);
    if (!a.shape || !b.shape) return [{ dtype: a.dtype, shape: [null, null] }];
    const [m, k1] = attrInt(c, 'transA', 0) ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [k2, n] = attrInt(c, 'transB', 0) ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (dimsEqual(k1, k2) === false) fail(c, `inner dims ${k1} vs ${k2}`);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  Gather: (c) => {
    const data = inp(c, 0);
    const idx = inp(c, 1);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') fail(c, `indices ${idx.name} must be int32/int64, got ${idx.dtype}`);
    if (!data.shape || !idx.shape) return [{ dtype: data.dtype, shape: null }];
    const axis = normAxis(c, attrInt(c, 'axis', 0), data.shape.length);
    const shape = [...data.shape.slice(0, axis), ...idx.shape, ...data.shape.slice(axis + 1)];
    let constValue: number[] | undefined;
    if (data.constValue && idx.constValue && data.shape.length === 1) {
      const n = data.constValue.length;
      constValue = idx.constValue.map((i) => data.constValue![i < 0 ? i + n : i]!);
    }
    return [{ dtype: data.dtype, shape, constValue }];
  },
  GatherElements: (c) => [{ dtype: inp(c, 0).dtype, shape: inp(c, 1).shape }],
  // com.microsoft: A [..., K] times block-quantised Bᵀ (B uint8 [N, K/block, block·bits/8]) → [..., N]
  MatMulNBits: (c) => {
    const a = inp(c, 0);
    const b = inp(c, 1);
    const K = attrInt(c, 'K', 0);
    const N = attrInt(c, 'N', 0);
    const bits = attrInt(c, 'bits', 4);
    const bs = attrInt(c, 'block_size', 0);
    if (b.dtype !== 'uint8') fail(c, `B ${b.name} must be uint8, got ${b.dtype}`);
    const want = [N, Math.ceil(K / bs), (bs * bits) / 8];
    if (b.shape && b.shape.some((d, i) => typeof d === 'number' && d !== want[i]))
      fail(c, `B ${b.name} has shape ${shapeToString(b.shape)}, expected ${shapeToString(want)}`);
    const s = inp(c, 2);
    if (s.dtype !== a.dtype) fail(c, `scales ${s.name} must be ${a.dtype}, got ${s.dtype}`);
    if (a.shape && dimsEqual(a.shape[a.shape.length - 1]!, K) === false) fail(c, `A ${a.name} has ${a.shape[a.shape.length - 1]} columns, K is ${K}`);
    return [{ dtype: a.dtype, shape: a.shape ? [...a.shape.slice(0, -1), N] : null }];
  },
  // com.microsoft: rows of block-quantised data (uint8, 4 or 8 bits) gathered and dequantised
  GatherBlockQuantized: (c) => {
    const data = inp(c, 0);
    const idx = inp(c, 1);
    const s = inp(c, 2);
    if (attrInt(c, 'gather_axis', 0) !== 0 || attrInt(c, 'quantize_axis', 1) !== 1) fail(c, 'only gather_axis 0 and quantize_axis 1 are supported here');
    if (!data.shape || !idx.shape) return [{ dtype: s.dtype, shape: null }];
    const bits = attrInt(c, 'bits', 4);
    const cols = data.shape[1];
    return [{ dtype: s.dtype, shape: [...idx.shape, typeof cols === 'number' && data.dtype === 'uint8' ? (cols * 8) / bits : (cols ?? null)] }];
  },
  ScatterND: unary,
  ScatterElements: unary,
  Shape: (c) => {
    const x = inp(c, 0);
    if (!x.shape) return [{ dtype: 'int64', shape: [null] }];
    const r = x.shape.length;
    let s = attrInt(c, 'start', 0);
    let e = c.attrs['end'] ? attrInt(c, 'end', r) : r;
    s = Math.min(Math.max(s < 0 ? s + r : s, 0), r);
    e = Math.min(Math.max(e < 0 ? e + r : e, 0), r);
    const dims = x.shape.slice(s, e);
    const known = dims.every((d) => typeof d === 'number');
    return [{ dtype: 'int64', shape: [dims.length], constValue: known ? (dims as number[]) : undefined }];
  },
  Size: () => [{ dtype: 'int64', shape: [] }],
  Reshape: (c) => {
    const x = inp(c, 0);
    const sh = inp(c, 1);
    if (sh.dtype !== 'int64') fail(c, `shape input must be int64, got ${sh.dtype}`);
    const target = sh.constValue;
    if (!target) {
      const n = sh.shape && typeof sh.shape[0] === 'number' ? sh.shape[0] : null;
      return [{ dtype: x.dtype, shape: n === null ? null : new Array<Dim>(n).fill(null) }];
    }
    const allowZero = attrInt(c, 'allowzero', 0);
    const out: Dim[] = target.map((d, i) => (d === 0 && !allowZero ? (x.shape ? (x.shape[i] ?? null) : null) : d === -1 ? null : d));
    const neg = target.indexOf(-1);
    if (neg >= 0 && x.shape) {
      const total = product(x.shape);
      const rest = product(out.filter((_, i) => i !== neg));
      if (total !== null && rest !== null) {
        if (rest === 0 || total % rest !== 0) fail(c, `cannot reshape ${shapeToString(x.shape)} to [${target.join(', ')}]`);
        out[neg] = total / rest;
      }
    } else if (x.shape) {
      const total = product(x.shape);
      const tot2 = product(out);
      if (total !== null && tot2 !== null && total !== tot2)
        fail(c, `cannot reshape ${shapeToString(x.shape)} (${total} elements) to [${target.join(', ')}] (${tot2})`);
    }
    return [{ dtype: x.dtype, shape: out, constValue: x.constValue }];
  },
  Flatten: (c) => {
    const x = inp(c, 0);
    if (!x.shape) return [{ dtype: x.dtype, shape: [null, null] }];
    const axis = attrInt(c, 'axis', 1);
    const a = axis < 0 ? axis + x.shape.length : axis;
    return [{ dtype: x.dtype, shape: [product(x.shape.slice(0, a)), product(x.shape.slice(a))] }];
  },
  Transpose: (c) => {
    const x = inp(c, 0);
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const perm = attrInts(c, 'perm') ?? x.shape.map((_, i) => x.shape!.length - 1 - i);
    if (perm.length !== x.shape.length) fail(c, `perm [${perm.join(', ')}] does not match rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape![p]!) }];
  },
  Unsqueeze: (c) => {
    const x = inp(c, 0);
    const axes = c.inputs[1] ? c.inputs[1].constValue : attrInts(c, 'axes');
    if (!axes) fail(c, 'axes must be a constant');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const r = x.shape.length + axes.length;
    const set = new Set(axes.map((a) => normAxis(c, a, r)));
    const out: Dim[] = [];
    let k = 0;
    for (let i = 0; i < r; i++) out.push(set.has(i) ? 1 : x.shape[k++]!);
    return [{ dtype: x.dtype, shape: out, constValue: x.constValue }];
  },
  Squeeze: (c) => {
    const x = inp(c, 0);
    const axes = c.inputs[1] ? c.inputs[1].constValue : attrInts(c, 'axes');
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const set = new Set((axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []))).map((a) => normAxis(c, a, x.shape!.length)));
    for (const a of set) if (typeof x.shape[a] === 'number' && x.shape[a] !== 1) fail(c, `cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !set.has(i)), constValue: x.constValue }];
  },
  Concat: (c) => {
    const vals = c.inputs.filter((v): v is Value => !!v);
    const dt = sameDtype(c, vals);
    if (vals.some((v) => !v.shape)) return [{ dtype: dt, shape: null }];
    const rank = vals[0]!.shape!.length;
    const axis = normAxis(c, attrInt(c, 'axis', 0), rank);
    const out: Dim[] = vals[0]!.shape!.slice();
    let sum: number | null = 0;
    for (const v of vals) {
      if (v.shape!.length !== rank) fail(c, `rank mismatch: ${shapeToString(vals[0]!.shape)} vs ${shapeToString(v.shape)}`);
      v.shape!.forEach((d, i) => {
        if (i === axis) return;
        if (dimsEqual(out[i]!, d) === false) fail(c, `dim ${i} differs: ${shapeToString(vals[0]!.shape)} vs ${shapeToString(v.shape)}`);
        if (out[i] === null) out[i] = d;
      });
      const d = v.shape![axis]!;
      sum = sum !== null && typeof d === 'number' ? sum + d : null;
    }
    out[axis] = sum;
    const constValue = vals.every((v) => v.constValue) ? vals.flatMap((v) => v.constValue!) : undefined;
    return [{ dtype: dt, shape: out, constValue }];
  },
  Split: (c) => {
    const x = inp(c, 0);
    const n = c.numOutputs;
    if (!x.shape) return new Array(n).fill({ dtype: x.dtype, shape: null });
    const axis = normAxis(c, attrInt(c, 'axis', 0), x.shape.length);
    const split = c.inputs[1]?.constValue;
    const d = x.shape[axis]!;
    return Array.from({ length: n }, (_, i) => {
      const s = x.shape!.slice();
      s[axis] = split ? split[i]! : typeof d === 'number' ? d / n : null;
      return { dtype: x.dtype, shape: s };
    });
  },
  Slice: (c) => {
    const x = inp(c, 0);
    const starts = inp(c, 1).constValue;
    const ends = inp(c, 2).constValue;
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    const rank = x.shape.length;
    const axes = c.inputs[3] ? c.inputs[3].constValue : starts?.map((_, i) => i);
    const steps = c.inputs[4] ? c.inputs[4].constValue : undefined;
    if (!starts || !ends || !axes) {
      const out = x.shape.slice();
      if (axes) for (const a of axes) out[normAxis(c, a, rank)] = null;
      else return [{ dtype: x.dtype, shape: x.shape.map(() => null) }];
      return [{ dtype: x.dtype, shape: out }];
    }
    const out = x.shape.slice();
    axes.forEach((a0, i) => {
      const a = normAxis(c, a0, rank);
      out[a] = sliceDim(x.shape![a]!, starts[i]!, ends[i]!, steps ? steps[i]! : 1);
    });
    let constValue: number[] | undefined;
    if (x.constValue && rank === 1 && (!steps || steps[0] === 1)) {
      const n = x.constValue.length;
      const s = starts[0]! < 0 ? starts[0]! + n : Math.min(starts[0]!, n);
      const e = ends[0]! < 0 ? ends[0]! + n : Math.min(ends[0]!, n);
      constValue = x.constValue.slice(s, e);
    }
    return [{ dtype: x.dtype, shape: out, constValue }];
  },
  Expand: (c) => {
    const x = inp(c, 0);
    const sh = inp(c, 1).constValue;
    if (!sh) {
      const n = inp(c, 1).shape?.[0];
      return [{ dtype: x.dtype, shape: typeof n === 'number' ? new Array<Dim>(Math.max(n, x.shape?.length ?? 0)).fill(null) : null }];
    }
    return [{ dtype: x.dtype, shape: broadcastShapes(c, [x.shape, sh]) }];
  },
  Tile: (c) => {
    const x = inp(c, 0);
    const reps = inp(c, 1).constValue;
    if (!x.shape) return [{ dtype: x.dtype, shape: null }];
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (reps && typeof d === 'number' ? d * reps[i]! : null)) }];
  },
  ConstantOfShape: (c) => {
    const sh = inp(c, 0).constValue;
    const dt = tensorAttrDtype(c, 'value') ?? 'float32';
    if (!sh) {
      const n = inp(c, 0).shape?.[0];
      return [{ dtype: dt, shape: typeof n === 'number' ? new Array<Dim>(n).fill(null) : null }];
    }
    return [{ dtype: dt, shape: sh }];
  },
  Range: (c) => {
    const dt = sameDtype(c, c.inputs);
    const [s, l, d] = [inp(c, 0).constValue, inp(c, 1).constValue, inp(c, 2).constValue];
    if (s && l && d) {
      const n = Math.max(Math.ceil((l[0]! - s[0]!) / d[0]!), 0);
      return [{ dtype: dt, shape: [n], constValue: n <= 64 ? Array.from({ length: n }, (_, i) => s[0]! + i * d[0]!) : undefined }];
    }
    return [{ dtype: dt, shape: [null] }];
  },
  Constant: (c) => {
    const a = c.attrs['value'];
    if (!a || a.type !== 'tensor') fail(c, 'only tensor "value" constants are supported; use builder.constant()');
    return [{ dtype: a.value.dtype, shape: a.value.dims.slice() }];
  },
  ReduceMean: reduce,
  ReduceSum: reduce,
  ReduceMax: reduce,
  ReduceMin: reduce,
  ReduceProd: reduce,
  ReduceSumSquare: reduce,
  ReduceL2: reduce,
  ReduceLogSumExp: reduce,
  ArgMax: reduce,
  ArgMin: reduce,
  TopK: (c) => {
    const x = inp(c, 0);
    const k = inp(c, 1).constValue?.[0] ?? null;
    if (!x.shape)
      return [
        { dtype: x.dtype, shape: null },
        { dtype: 'int64', shape: null },
      ];
    const axis = normAxis(c, attrInt(c, 'axis', -1), x.shape.length);
    const s = x.shape.slice();
    s[axis] = k;
    return [
      { dtype: x.dtype, shape: s },
      { dtype: 'int64', shape: s },
    ];
  },
  LayerNormalization: (c) => {
    const x = inp(c, 0);
    requireFloat(c, x);
    const sc = inp(c, 1);
    const axis = attrInt(c, 'axis', -1);
    if (x.shape && sc.shape) {
      const a = normAxis(c, axis, x.shape.length);
      const normDims = x.shape.slice(a);
      broadcastShapes({ ...c, name: `${c.name} (scale)` }, [normDims, sc.shape]);
    }
    const stat: Shape = x.shape ? x.shape.map((d, i) => (i >= normAxis(c, axis, x.shape!.length) ? 1 : d)) : null;
    const outs: OutType[] = [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
    ];
    return outs.slice(0, c.numOutputs);
  },
  RMSNormalization: (c) => {
    const x = inp(c, 0);
    requireFloat(c, x);
    const sc = inp(c, 1);
    if (x.shape && sc.shape) broadcastShapes(c, [x.shape, sc.shape]);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  SimplifiedLayerNormalization: (c) => {
    const x = inp(c, 0);
    requireFloat(c, x);
    const sc = inp(c, 1);
    const last = x.shape?.[x.shape.length - 1];
    const sl = sc.shape?.[sc.shape.length - 1];
    if (last !== undefined && sl !== undefined && dimsEqual(last, sl) === false) fail(c, `scale size ${sl} vs hidden ${last}`);
    const stat: Shape = x.shape ? [...x.shape.slice(0, -1), 1] : null;
    const outs: OutType[] = [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'float32', shape: stat },
    ];
    return outs.slice(0, c.numOutputs);
  },
  SkipSimplifiedLayerNormalization: (c) => {
    const x = inp(c, 0);
    const skip = inp(c, 1);
    const shape = broadcastShapes(c, [x.shape, skip.shape]);
    const stat: Shape = shape ? [...shape.slice(0, -1), 1] : null;
    const outs: OutType[] = [
      { dtype: x.dtype, shape },
      { dtype: 'float32', shape: stat },
      { dtype: 'float32', shape: stat },
      { dtype: x.dtype, shape },
    ];
    return outs.slice(0, c.numOutputs);
  },
  RotaryEmbedding: unary,
  SoftmaxCrossEntropyLoss: (c) => {
    const x = inp(c, 0);
    const red = c.attrs['reduction'];
    const r = red && red.type === 'string' ? red.value : 'mean';
    const out: OutType[] = [{ dtype: x.dtype, shape: r === 'none' ? inp(c, 1).shape : [] }];
    if (c.numOutputs > 1) out.push({ dtype: x.dtype, shape: x.shape });
    return out;
  },
  GroupQueryAttention: (c) => {
    const q = inp(c, 0);
    const nh = attrInt(c, 'num_heads', 0);
    const kvh = attrInt(c, 'kv_num_heads', 0);
    if (!nh || !kvh) fail(c, 'num_heads and kv_num_heads are required');
    if (nh % kvh) fail(c, `num_heads ${nh} not a multiple of kv_num_heads ${kvh}`);
    const past = c.inputs[3];
    const hidden = q.shape?.[2];
    const hd = c.inputs[1] && typeof hidden === 'number' ? hidden / nh : typeof hidden === 'number' ? hidden / (nh + 2 * kvh) : null;
    const b = q.shape?.[0] ?? null;
    const presentShape: Shape = [b, kvh, null, hd];
    const outs: OutType[] = [
      { dtype: q.dtype, shape: q.shape ? [q.shape[0]!, q.shape[1]!, hd === null ? null : hd * nh] : null },
      { dtype: q.dtype, shape: past?.shape ? [b, kvh, null, hd] : presentShape },
      { dtype: q.dtype, shape: presentShape },
    ];
    return outs.slice(0, c.numOutputs);
  },
  MultiHeadAttention: (c) => [{ dtype: inp(c, 0).dtype, shape: inp(c, 0).shape }],
};

/** Float attribute names (plain integer numbers for these are still encoded as floats). */
export const FLOAT_ATTRS = new Set(['epsilon', 'alpha', 'beta', 'gamma', 'scale', 'softcap', 'ratio', 'bias', 'lambd', 'seed', 'value_float']);

export function inferNode(c: InferCtx): OutType[] {
  const rule = RULES[c.opType];
  if (!rule) throw new GraphError(`${c.opType} ${c.name}: no shape inference for this op; pass outTypes`);
  void attrFloat;
  return rule(c);
}
