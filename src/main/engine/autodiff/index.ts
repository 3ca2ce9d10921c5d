/**
 * Reverse-mode automatic differentiation over the ONNX graph builder.
 *
 * The standard onnxruntime build has no gradient ops, so backward passes are appended to the
 * forward graph as ordinary ONNX ops (one vector-Jacobian rule per forward op, see rules.ts) and
 * the gradients become graph outputs:
 *
 * ```ts
 * const g = new Graph('train');
 * const x = g.input('x', 'float32', ['n', 8]);
 * const w = g.input('w', 'float32', [8, 4]);            // trainable: a graph input
 * const loss = g.op('ReduceSum', [g.mul(g.matmul(x, w), g.matmul(x, w))], { keepdims: 0 });
 * g.output(loss, 'loss');
 * const grads = addGradients(g, loss, ['w']);           // Map name → gradient Value (same shape)
 * g.output(grads.get('w')!, 'grad.w');
 * ```
 *
 * Only nodes on a path from a differentiated input to the loss get backward ops; integer/boolean
 * values (ids, masks, shapes) never carry gradients. An op without a rule on such a path throws
 * `autodiff <Op> <node>: no gradient rule` — fused inference ops (GroupQueryAttention,
 * SimplifiedLayerNormalization, RotaryEmbedding...) are deliberately absent: build training graphs
 * from plain ops (`buildDecoderGraph(..., { fused: false })`).
 */
import { GraphError, type Graph, type GraphNode, type Value } from '../graph';
import { Emitter, isFloat } from './helpers';
import { NON_DIFFERENTIABLE, RULES } from './rules';

export { RULES as VJP_RULES, NON_DIFFERENTIABLE, type VjpRule, type RuleCtx } from './rules';
export { retypeGraph } from './retype';

export interface GradientOptions {
  /** prefix of the backward nodes' names (default "grad/") */
  prefix?: string;
  /** gradient of the loss itself (default: the constant 1) */
  seed?: Value;
}

/**
 * Append the backward pass of `loss` (a scalar) with respect to `wrt` (graph inputs or any values)
 * to `g`. Returns the gradient value for each requested name (zeros where the loss does not depend
 * on it). Call `g.output(...)` on the ones to fetch.
 */
export function addGradients(g: Graph, loss: Value | string, wrt: (Value | string)[], opts: GradientOptions = {}): Map<string, Value> {
  const lossV = typeof loss === 'string' ? g.value(loss) : loss;
  if (!isFloat(lossV)) throw new GraphError(`autodiff: loss ${lossV.name} must be a float tensor`);
  if (lossV.shape && lossV.shape.some((d) => d !== 1))
    throw new GraphError(`autodiff: loss ${lossV.name} must be a scalar, has shape [${lossV.shape.join(', ')}]`);
  const wrtNames = wrt.map((v) => (typeof v === 'string' ? v : v.name));
  for (const n of wrtNames) if (!isFloat(g.value(n))) throw new GraphError(`autodiff: cannot differentiate with respect to ${n} (${g.value(n).dtype})`);
  const e = new Emitter(g, opts.prefix ?? 'grad/');
  const forward = g.nodes.slice();

  // values depending on a differentiated input (forward reachability through float values)
  const active = new Set<string>(wrtNames);
  for (const n of forward) {
    if (NON_DIFFERENTIABLE.has(n.opType)) continue;
    if (n.inputs.some((i) => i && active.has(i))) for (const o of n.outputs) if (isFloat(g.value(o))) active.add(o);
  }
  // values the loss depends on
  const needed = new Set<string>([lossV.name]);
  for (let k = forward.length - 1; k >= 0; k--) {
    const n = forward[k]!;
    if (n.outputs.some((o) => needed.has(o))) for (const i of n.inputs) if (i) needed.add(i);
  }

  const grads = new Map<string, Value>();
  const accumulate = (name: string, d: Value) => {
    const prev = grads.get(name);
    grads.set(name, prev ? e.accumulate(prev, d) : d);
  };
  grads.set(lossV.name, opts.seed ?? e.scalar(1, lossV.dtype));

  for (let k = forward.length - 1; k >= 0; k--) {
    const node = forward[k]!;
    const dy = node.outputs.map((o) => (active.has(o) && needed.has(o) ? (grads.get(o) ?? null) : null));
    if (dy.every((d) => d === null)) continue;
    const needs = (i: number) => {
      const nm = node.inputs[i];
      return !!nm && active.has(nm) && needed.has(nm);
    };
    if (!node.inputs.some((_, i) => needs(i))) continue;
    const rule = RULES[ruleKey(node)];
    if (!rule) throw new GraphError(`autodiff ${node.opType} ${node.name}: no gradient rule (build training graphs from plain ops)`);
    const x = node.inputs.map((i) => (i ? g.value(i) : null));
    const y = node.outputs.map((o) => g.value(o));
    let dyFull = dy;
    // a scalar seed for a [1]/[] loss may need broadcasting to the output's shape
    dyFull = dy.map((d, i) =>
      d && y[i]!.shape && d.shape && d.shape.length < y[i]!.shape!.length
        ? e.op('Expand', [d, e.shapeOf(y[i]!)], {}, [{ dtype: d.dtype, shape: y[i]!.shape }])
        : d,
    );
    const dx = rule({ e, node, x, y, dy: dyFull, needs });
    dx.forEach((d, i) => {
      if (d && needs(i)) accumulate(node.inputs[i]!, d);
    });
  }

  const out = new Map<string, Value>();
  for (const n of wrtNames) out.set(n, grads.get(n) ?? e.zerosLike(g.value(n)));
  return out;
}

function ruleKey(n: GraphNode): string {
  return n.opType;
}
