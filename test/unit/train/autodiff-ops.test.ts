import { describe, expect, it } from 'vitest';
import { Graph, type DType, type Value } from '../../../src/main/engine/graph';
import { addGradients } from '../../../src/main/engine/autodiff';
import { gradCheck, projectLoss, randn, type Feed } from './gradcheck';
import { mulberry32 } from '../../../src/main/util/prng';

type Build = (g: Graph, ins: Value[]) => Value;

interface Case {
  name: string;
  inputs: { name: string; dims: number[]; positive?: boolean; wrt?: boolean; int?: number[]; bool?: number[] }[];
  build: Build;
  dtype?: DType;
  tol?: number;
}

const F64 = 'float64';

function makeFeeds(c: Case, seed: number): { feeds: Record<string, Feed>; wrt: string[] } {
  const r = mulberry32(seed);
  const feeds: Record<string, Feed> = {};
  const wrt: string[] = [];
  for (const i of c.inputs) {
    if (i.int) feeds[i.name] = { data: BigInt64Array.from(i.int.map(BigInt)), dims: i.dims };
    else if (i.bool) feeds[i.name] = { data: Uint8Array.from(i.bool), dims: i.dims };
    else {
      const n = i.dims.reduce((a, b) => a * b, 1);
      let v = randn(n, r);
      if (i.positive) v = v.map((x) => 0.5 + Math.abs(x));
      feeds[i.name] = { data: (c.dtype ?? F64) === 'float32' ? Float32Array.from(v) : Float64Array.from(v), dims: i.dims };
      if (i.wrt !== false) wrt.push(i.name);
    }
  }
  return { feeds, wrt };
}

const CASES: Case[] = [
  {
    name: 'Add (broadcast [2,3,4] + [4] + [3,1])',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [4] },
      { name: 'c', dims: [3, 1] },
    ],
    build: (g, [a, b, c]) => g.add(g.add(a!, b!), c!),
  },
  {
    name: 'Sub (broadcast)',
    inputs: [
      { name: 'a', dims: [2, 1, 4] },
      { name: 'b', dims: [2, 3, 1] },
    ],
    build: (g, [a, b]) => g.sub(a!, b!),
  },
  {
    name: 'Mul (broadcast, and x*x)',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [2, 3, 1] },
    ],
    build: (g, [a, b]) => g.mul(g.mul(a!, b!), g.mul(a!, a!)),
  },
  {
    name: 'Div (broadcast)',
    inputs: [
      { name: 'a', dims: [3, 4] },
      { name: 'b', dims: [1, 4], positive: true },
    ],
    build: (g, [a, b]) => g.div(a!, b!),
  },
  { name: 'Neg/Exp', inputs: [{ name: 'a', dims: [3, 4] }], build: (g, [a]) => g.op('Exp', [g.op('Neg', [a!])]) },
  { name: 'Log', inputs: [{ name: 'a', dims: [3, 4], positive: true }], build: (g, [a]) => g.op('Log', [a!]) },
  { name: 'Sqrt/Reciprocal', inputs: [{ name: 'a', dims: [3, 4], positive: true }], build: (g, [a]) => g.op('Reciprocal', [g.op('Sqrt', [a!])]) },
  {
    name: 'Pow (x^p, both differentiated)',
    inputs: [
      { name: 'a', dims: [3, 4], positive: true },
      { name: 'p', dims: [4], positive: true },
    ],
    build: (g, [a, p]) => g.op('Pow', [a!, p!]),
  },
  { name: 'Sigmoid/SiLU', inputs: [{ name: 'a', dims: [3, 4] }], build: (g, [a]) => g.mul(a!, g.op('Sigmoid', [a!])) },
  { name: 'Tanh', inputs: [{ name: 'a', dims: [3, 4] }], build: (g, [a]) => g.op('Tanh', [a!]) },
  { name: 'Sin/Cos', inputs: [{ name: 'a', dims: [3, 4] }], build: (g, [a]) => g.add(g.op('Sin', [a!]), g.op('Cos', [g.mul(a!, a!)])) },
  { name: 'Relu/Abs', inputs: [{ name: 'a', dims: [3, 5] }], build: (g, [a]) => g.add(g.op('Relu', [a!]), g.op('Abs', [a!])) },
  { name: 'Softmax (axis -1)', inputs: [{ name: 'a', dims: [2, 3, 5] }], build: (g, [a]) => g.softmax(a!, -1) },
  { name: 'Softmax (axis 1)', inputs: [{ name: 'a', dims: [2, 3, 5] }], build: (g, [a]) => g.softmax(a!, 1) },
  { name: 'LogSoftmax', inputs: [{ name: 'a', dims: [4, 6] }], build: (g, [a]) => g.op('LogSoftmax', [a!], { axis: -1 }) },
  {
    name: 'MatMul [2,3,4]x[4,5]',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [4, 5] },
    ],
    build: (g, [a, b]) => g.matmul(a!, b!),
  },
  {
    name: 'MatMul batched [2,2,3,4]x[2,2,4,3]',
    inputs: [
      { name: 'a', dims: [2, 2, 3, 4] },
      { name: 'b', dims: [2, 2, 4, 3] },
    ],
    build: (g, [a, b]) => g.matmul(a!, b!),
  },
  {
    name: 'MatMul broadcast batch [2,3,4]x[1,4,2]',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [1, 4, 2] },
    ],
    build: (g, [a, b]) => g.matmul(a!, b!),
  },
  {
    name: 'Gemm (alpha, beta, C)',
    inputs: [
      { name: 'a', dims: [3, 4] },
      { name: 'b', dims: [4, 5] },
      { name: 'c', dims: [5] },
    ],
    build: (g, [a, b, c]) => g.op('Gemm', [a!, b!, c!], { alpha: 0.7, beta: 1.3 }),
  },
  {
    name: 'Gemm transA transB',
    inputs: [
      { name: 'a', dims: [4, 3] },
      { name: 'b', dims: [5, 4] },
    ],
    build: (g, [a, b]) => g.op('Gemm', [a!, b!], { transA: 1, transB: 1 }),
  },
  {
    name: 'Gemm transB',
    inputs: [
      { name: 'a', dims: [3, 4] },
      { name: 'b', dims: [5, 4] },
    ],
    build: (g, [a, b]) => g.op('Gemm', [a!, b!], { transB: 1 }),
  },
  {
    name: 'Gemm transA',
    inputs: [
      { name: 'a', dims: [4, 3] },
      { name: 'b', dims: [4, 5] },
    ],
    build: (g, [a, b]) => g.op('Gemm', [a!, b!], { transA: 1 }),
  },
  { name: 'Reshape/Transpose', inputs: [{ name: 'a', dims: [2, 3, 4] }], build: (g, [a]) => g.transpose(g.reshape(a!, [0, 0, 2, 2]), [0, 2, 1, 3]) },
  {
    name: 'Unsqueeze/Squeeze/Expand',
    inputs: [{ name: 'a', dims: [3, 1] }],
    build: (g, [a]) => g.op('Expand', [g.squeeze(g.unsqueeze(a!, [0]), [0]), g.constInt64([2, 3, 4])]),
  },
  {
    name: 'Slice (rotate-half pieces)',
    inputs: [{ name: 'a', dims: [2, 3, 6] }],
    build: (g, [a]) => g.concat([g.op('Neg', [g.slice(a!, [3], [6], [-1])]), g.slice(a!, [0], [3], [-1])], -1),
  },
  { name: 'Slice (middle, two axes)', inputs: [{ name: 'a', dims: [4, 5] }], build: (g, [a]) => g.slice(a!, [1, -3], [3, 100], [0, 1]) },
  {
    name: 'Concat (3 inputs)',
    inputs: [
      { name: 'a', dims: [2, 1] },
      { name: 'b', dims: [2, 3] },
      { name: 'c', dims: [2, 2] },
    ],
    build: (g, [a, b, c]) => g.concat([a!, b!, c!], 1),
  },
  {
    name: 'Split',
    inputs: [{ name: 'a', dims: [2, 6] }],
    build: (g, [a]) => {
      const [p, q] = g.opN('Split', [a!, g.constInt64([2, 4])], { axis: 1 }, { outputs: 2 });
      return g.mul(g.slice(q!, [0], [2], [1]), p!);
    },
  },
  {
    name: 'Gather (embedding rows, repeated ids)',
    inputs: [
      { name: 'w', dims: [5, 3] },
      { name: 'ids', dims: [2, 3], int: [0, 4, 4, 1, 0, 2] },
    ],
    build: (g, [w, ids]) => g.op('Gather', [w!, ids!]),
  },
  {
    name: 'GatherElements (label log-probs)',
    inputs: [
      { name: 'a', dims: [3, 5] },
      { name: 'lab', dims: [3, 1], int: [1, 4, 1] },
    ],
    build: (g, [a, lab]) => g.op('GatherElements', [g.op('LogSoftmax', [a!], { axis: -1 }), lab!], { axis: 1 }),
  },
  {
    name: 'Where (causal mask: no gradient to the mask)',
    inputs: [
      { name: 'a', dims: [3, 3] },
      { name: 'm', dims: [3, 3], bool: [1, 0, 0, 1, 1, 0, 1, 1, 1] },
    ],
    build: (g, [a, m]) =>
      g.softmax(g.add(a!, g.op('Where', [m!, g.initializer('z', Float64Array.of(0), []), g.initializer('ninf', Float64Array.of(-1e9), [])])), -1),
  },
  {
    name: 'Where (both branches)',
    inputs: [
      { name: 'a', dims: [2, 3] },
      { name: 'b', dims: [3] },
      { name: 'm', dims: [2, 3], bool: [1, 0, 1, 0, 1, 1] },
    ],
    build: (g, [a, b, m]) => g.op('Where', [m!, a!, b!]),
  },
  {
    name: 'ReduceSum/ReduceMean (keepdims, RMSNorm)',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'w', dims: [4] },
    ],
    build: (g, [a, w]) => {
      const ms = g.reduceMean(g.mul(a!, a!), [-1], true);
      const inv = g.op('Reciprocal', [g.op('Sqrt', [g.add(ms, g.initializer('eps', Float64Array.of(1e-5), []))])]);
      return g.mul(g.mul(a!, inv), w!);
    },
  },
  {
    name: 'ReduceSum/ReduceMean (no keepdims)',
    inputs: [{ name: 'a', dims: [2, 3, 4] }],
    build: (g, [a]) => g.add(g.op('ReduceSum', [a!, g.constInt64([0, 2])], { keepdims: 0 }), g.reduceMean(a!, [0, 2], false)),
  },
  { name: 'Cast float32 → float64', inputs: [{ name: 'a', dims: [3, 4] }], dtype: 'float32', tol: 2e-2, build: (g, [a]) => g.cast(g.mul(a!, a!), 'float64') },
  { name: 'Erf (GELU, float32)', inputs: [{ name: 'a', dims: [3, 4] }], dtype: 'float32', tol: 2e-2, build: (g, [a]) => g.mul(a!, g.op('Erf', [a!])) },
  {
    name: 'FusedMatMul transB alpha (float32)',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [5, 4] },
    ],
    dtype: 'float32',
    tol: 2e-2,
    build: (g, [a, b]) => g.op('FusedMatMul', [a!, b!], { transB: 1, alpha: 0.5 }, { domain: 'com.microsoft' }),
  },
  {
    name: 'FusedMatMul transA transB batched (float32)',
    inputs: [
      { name: 'a', dims: [2, 4, 3] },
      { name: 'b', dims: [2, 5, 4] },
    ],
    dtype: 'float32',
    tol: 2e-2,
    build: (g, [a, b]) => g.op('FusedMatMul', [a!, b!], { transA: 1, transB: 1, alpha: 1.5 }, { domain: 'com.microsoft' }),
  },
  {
    name: 'FusedMatMul [2,3,4]x[4,5] (2-D B folded, float32)',
    inputs: [
      { name: 'a', dims: [2, 3, 4] },
      { name: 'b', dims: [4, 5] },
    ],
    dtype: 'float32',
    tol: 2e-2,
    build: (g, [a, b]) => g.op('FusedMatMul', [a!, b!], {}, { domain: 'com.microsoft' }),
  },
  {
    name: 'FusedMatMul transA, broadcast batch (float32)',
    inputs: [
      { name: 'a', dims: [2, 4, 3] },
      { name: 'b', dims: [1, 4, 5] },
    ],
    dtype: 'float32',
    tol: 2e-2,
    build: (g, [a, b]) => g.op('FusedMatMul', [a!, b!], { transA: 1 }, { domain: 'com.microsoft' }),
  },
  {
    name: 'ReduceLogSumExp (keepdims 0)',
    inputs: [{ name: 'a', dims: [2, 3, 5] }],
    build: (g, [a]) => g.op('ReduceLogSumExp', [a!, g.constInt64([-1])], { keepdims: 0 }),
  },
  {
    name: 'ReduceLogSumExp (keepdims 1, two axes)',
    inputs: [{ name: 'a', dims: [2, 3, 4] }],
    build: (g, [a]) => g.op('ReduceLogSumExp', [a!, g.constInt64([0, 2])], { keepdims: 1 }),
  },
  {
    name: 'cross-entropy as lse - gathered logit (sparse scatter folded into the dense gradient)',
    inputs: [
      { name: 'a', dims: [2, 3, 6] },
      { name: 'lab', dims: [2, 3, 1], int: [1, 5, 0, 2, 2, 4] },
    ],
    build: (g, [a, lab]) => g.sub(g.op('ReduceLogSumExp', [a!, g.constInt64([-1])], { keepdims: 1 }), g.op('GatherElements', [a!, lab!], { axis: 2 })),
  },
  {
    name: 'Gather + dense use of the same table (ScatterND folded)',
    inputs: [
      { name: 'w', dims: [5, 3] },
      { name: 'ids', dims: [4], int: [0, 4, 4, 1] },
    ],
    build: (g, [w, ids]) => g.add(g.op('Gather', [w!, ids!]), g.op('ReduceSum', [g.mul(w!, w!), g.constInt64([0])], { keepdims: 1 })),
  },
  {
    name: 'SoftmaxCrossEntropyLoss (mean, ignore_index)',
    inputs: [
      { name: 'a', dims: [4, 5] },
      { name: 'lab', dims: [4], int: [1, -100, 4, 0] },
    ],
    build: (g, [a, lab]) => g.op('SoftmaxCrossEntropyLoss', [a!, lab!], { reduction: 'mean', ignore_index: -100 }),
  },
  {
    name: 'SoftmaxCrossEntropyLoss (none, log_prob output)',
    inputs: [
      { name: 'a', dims: [4, 5] },
      { name: 'lab', dims: [4], int: [1, 3, 4, 0] },
    ],
    build: (g, [a, lab]) => {
      const [l, lp] = g.opN('SoftmaxCrossEntropyLoss', [a!, lab!], { reduction: 'none' }, { outputs: 2 });
      return g.add(g.op('ReduceSum', [lp!], { keepdims: 0 }), l!);
    },
  },
];

describe('autodiff: vector-Jacobian rules against central differences', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const g = new Graph('gc');
      const dt = c.dtype ?? F64;
      const ins = c.inputs.map((i) => g.input(i.name, i.int ? 'int64' : i.bool ? 'bool' : dt, i.dims));
      const y = c.build(g, ins);
      const loss = y.shape && y.shape.length === 0 ? y : projectLoss(g, y);
      const { feeds, wrt } = makeFeeds(c, 11);
      const res = await gradCheck(g, loss, wrt, feeds, { eps: dt === 'float32' ? 1e-2 : 1e-6 });
      expect(Number.isFinite(res.loss)).toBe(true);
      expect(res.worst, JSON.stringify(res.errors)).toBeLessThan(c.tol ?? 1e-6);
    });
  }

  it('no gradient flows into the loss from values it does not depend on (zeros), and fused ops are refused', () => {
    const g = new Graph('z');
    const a = g.input('a', 'float32', [2, 3]);
    g.input('b', 'float32', [3]);
    const loss = g.op('ReduceSum', [g.mul(a, a)], { keepdims: 0 });
    const grads = addGradients(g, loss, ['a', 'b']);
    expect(g.producer(grads.get('b')!.name)!.opType).toBe('ConstantOfShape');
    const g2 = new Graph('f');
    const x = g2.input('x', 'float32', [1, 2, 8]);
    const w = g2.input('w', 'float32', [8]);
    const n = g2.op('SimplifiedLayerNormalization', [x, w], { epsilon: 1e-5, axis: -1 }, { domain: 'com.microsoft' });
    const l2 = g2.op('ReduceSum', [n], { keepdims: 0 });
    expect(() => addGradients(g2, l2, ['w'])).toThrow(/SimplifiedLayerNormalization .*no gradient rule/);
  });

  it('ReduceLogSumExp is stable for large logits (onnxruntime CPU)', async () => {
    const { createSession, ort } = await import('../../../src/main/engine/graph');
    const g = new Graph('lse');
    const x = g.input('x', 'float32', [1, 3]);
    g.output(g.op('ReduceLogSumExp', [x, g.constInt64([-1])], { keepdims: 0 }), 'y');
    const s = await createSession(g.build(), { intraOpThreads: 1 });
    const y = (await s.run({ x: new ort.Tensor('float32', Float32Array.of(1000, 999, -1000), [1, 3]) }))['y']!.data as Float32Array;
    await s.release();
    expect(y[0]).toBeCloseTo(1000 + Math.log(1 + Math.exp(-1)), 3);
  });
});
