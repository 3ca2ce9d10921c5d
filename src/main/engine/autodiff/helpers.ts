/** Small graph helpers shared by the vector-Jacobian rules. */
import { floatToHalf } from '../half';
import { attr, GraphError, ONNX_DTYPE, type DType, type Graph, type GraphNode, type Shape, type Value } from '../graph';

export const FLOAT_DTYPES: ReadonlySet<DType> = new Set<DType>(['float32', 'float64', 'float16']);

export function isFloat(v: Value): boolean {
  return FLOAT_DTYPES.has(v.dtype);
}

/** Emits the ops the backward rules need, with per-graph caches (Shape(x), scalar constants). */
export class Emitter {
  private readonly shapes = new Map<string, Value>();
  /**
   * Gradients that are a scatter of `updates` into zeros (Gather/GatherElements backward): when one
   * meets another gradient of the same value, the scatter is applied to that gradient instead
   * (no zeros tensor, no extra Add: for the cross-entropy this saves two [B,S,V] tensors).
   */
  readonly sparse = new Map<string, { opType: 'ScatterElements' | 'ScatterND'; indices: Value; updates: Value; attrs: Record<string, number | string> }>();
  private readonly scalars = new Map<string, Value>();
  private n = 0;

  constructor(
    readonly g: Graph,
    readonly prefix: string,
  ) {}

  name(tag: string): string {
    return `${this.prefix}${tag}_${this.n++}`;
  }

  op(opType: string, inputs: (Value | null)[], attrs: Parameters<Graph['op']>[2] = {}, outTypes?: { dtype: DType; shape: Shape }[], domain?: string): Value {
    return this.g.op(opType, inputs, attrs, { name: this.name(opType), outTypes, domain });
  }

  /** A scalar constant of a float dtype (cached). */
  scalar(v: number, dtype: DType): Value {
    const key = `${dtype}:${v}`;
    let c = this.scalars.get(key);
    if (!c) {
      const nm = this.g.uniqueName(`${this.prefix}c_${dtype}`);
      if (dtype === 'float64') c = this.g.initializer(nm, Float64Array.of(v), [], 'float64');
      else if (dtype === 'float16') c = this.g.initializer(nm, Uint16Array.of(floatToHalf(v)), [], 'float16');
      else if (dtype === 'float32') c = this.g.initializer(nm, Float32Array.of(v), [], 'float32');
      else throw new GraphError(`autodiff: no float constant of dtype ${dtype}`);
      this.scalars.set(key, c);
    }
    return c;
  }

  ints(values: number[]): Value {
    return this.g.constInt64(values, [values.length], this.g.uniqueName(`${this.prefix}i64`));
  }

  shapeOf(x: Value): Value {
    let s = this.shapes.get(x.name);
    if (!s) {
      s = this.op('Shape', [x]);
      this.shapes.set(x.name, s);
    }
    return s;
  }

  add(a: Value, b: Value): Value {
    return this.op('Add', [a, b]);
  }

  /** a scatter of updates into zeros shaped like `like`, remembered as sparse */
  scatterIntoZeros(opType: 'ScatterElements' | 'ScatterND', like: Value, indices: Value, updates: Value, attrs: Record<string, number | string>): Value {
    const out = this.op(opType, [this.zerosLike(like), indices, updates], { ...attrs, reduction: 'add' });
    this.sparse.set(out.name, { opType, indices, updates, attrs });
    return out;
  }

  /** gradient sum, folding sparse scatters into the other (dense) term */
  accumulate(a: Value, b: Value): Value {
    const sa = this.sparse.get(a.name);
    const sb = this.sparse.get(b.name);
    if (sb && !sa) return this.op(sb.opType, [a, sb.indices, sb.updates], { ...sb.attrs, reduction: 'add' });
    if (sa && !sb) return this.op(sa.opType, [b, sa.indices, sa.updates], { ...sa.attrs, reduction: 'add' });
    return this.add(a, b);
  }
  sub(a: Value, b: Value): Value {
    return this.op('Sub', [a, b]);
  }
  mul(a: Value, b: Value): Value {
    return this.op('Mul', [a, b]);
  }
  div(a: Value, b: Value): Value {
    return this.op('Div', [a, b]);
  }
  neg(a: Value): Value {
    return this.op('Neg', [a]);
  }
  matmul(a: Value, b: Value): Value {
    return this.op('MatMul', [a, b]);
  }
  transpose(x: Value, perm: number[]): Value {
    return this.op('Transpose', [x], { perm });
  }
  /** swap the last two axes */
  swapLast(x: Value): Value {
    if (!x.shape) throw new GraphError(`autodiff: rank of ${x.name} unknown`);
    const r = x.shape.length;
    const perm = [...Array(r).keys()];
    [perm[r - 1], perm[r - 2]] = [perm[r - 2]!, perm[r - 1]!];
    // Transpose(Transpose(w)) → w: no second (constant-folded) copy of a frozen weight
    const p = this.producer(x.name);
    if (p && p.opType === 'Transpose' && p.domain === '') {
      const a = p.attributes['perm'];
      if (a && a.type === 'ints' && a.value.length === r && a.value.every((v, i) => v === perm[i])) return this.g.value(p.inputs[0]!);
    }
    return this.transpose(x, perm);
  }

  private readonly producers = new Map<string, GraphNode>();
  private indexed = 0;
  private producer(name: string): GraphNode | undefined {
    const nodes = this.g.nodes;
    for (; this.indexed < nodes.length; this.indexed++) for (const o of nodes[this.indexed]!.outputs) this.producers.set(o, nodes[this.indexed]!);
    return this.producers.get(name);
  }
  reshapeLike(x: Value, like: Value): Value {
    // keep the static shape of `like` (the builder cannot infer it through a runtime shape)
    return this.op('Reshape', [x, this.shapeOf(like)], {}, [{ dtype: x.dtype, shape: like.shape }]);
  }
  reshape(x: Value, dims: number[]): Value {
    return this.op('Reshape', [x, this.ints(dims)]);
  }
  reduceSum(x: Value, axes: number[], keepdims: boolean): Value {
    return this.op('ReduceSum', [x, this.ints(axes)], { keepdims: keepdims ? 1 : 0 });
  }
  zerosLike(x: Value): Value {
    const data = x.dtype === 'float64' ? new Uint8Array(8) : x.dtype === 'float16' ? new Uint8Array(2) : new Uint8Array(4);
    return this.op(
      'ConstantOfShape',
      [this.shapeOf(x)],
      { value: attr.tensor({ name: 'value', dtype: x.dtype, dims: [1], storage: { kind: 'inline', data } }) },
      [{ dtype: x.dtype, shape: x.shape }],
    );
  }
  cast(x: Value, to: DType): Value {
    return this.op('Cast', [x], { to: ONNX_DTYPE[to] });
  }

  /**
   * Sum a broadcast gradient back to the shape of the input it flowed from. Broadcast axes are
   * found statically (leading axes, and axes where the input has a literal 1); the final Reshape to
   * Shape(x) makes a missed axis fail loudly at run time instead of giving a wrong gradient.
   */
  unbroadcast(dy: Value, x: Value): Value {
    if (!x.shape || !dy.shape) throw new GraphError(`autodiff: cannot reduce a broadcast gradient to ${x.name}: unknown rank`);
    const rx = x.shape.length;
    const ry = dy.shape.length;
    if (rx > ry) throw new GraphError(`autodiff: gradient of ${x.name} has lower rank than the input`);
    const axes: number[] = [];
    for (let i = 0; i < ry - rx; i++) axes.push(i);
    for (let i = 0; i < rx; i++) {
      const dx = x.shape[i];
      const dyd = dy.shape[ry - rx + i];
      if (dx === 1 && dyd !== 1) axes.push(ry - rx + i);
    }
    let out = dy;
    if (axes.length) out = this.reduceSum(dy, axes, true);
    if (out.shape && out.shape.length === rx && shapesSame(out.shape, x.shape)) return out;
    return this.reshapeLike(out, x);
  }
}

function shapesSame(a: NonNullable<Shape>, b: NonNullable<Shape>): boolean {
  return a.length === b.length && a.every((d, i) => d !== null && d === b[i]);
}
