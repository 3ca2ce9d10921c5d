import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Graph,
  GraphError,
  attr,
  createSession,
  decodeFields,
  f32Tensor,
  floatToHalf,
  halfToFloat,
  i64Tensor,
  ort,
  type Value,
} from '../../../src/main/engine/graph';

// --- tiny deterministic RNG + reference maths -------------------------------------------
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
function randn(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 2);
}
function refMatmul(a: Float32Array, b: Float32Array, m: number, k: number, n: number): Float32Array {
  const out = new Float32Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i * k + t]! * b[t * n + j]!;
      out[i * n + j] = s;
    }
  return out;
}
function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction good to ~1e-7
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    1 -
    t *
      Math.exp(
        -x * x -
          1.26551223 +
          t *
            (1.00002368 +
              t *
                (0.37409196 +
                  t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
      );
  return x >= 0 ? y : -y;
}
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (!(Math.abs(a - e) <= tol * (1 + Math.abs(e)))) throw new Error(`index ${i}: got ${a}, expected ${e}`);
  }
}

async function run1(g: Graph, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const s = await createSession(g.build(), { intraOpThreads: 1 });
  try {
    return (await s.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await s.release();
  }
}

describe('graph builder: serialisation', () => {
  it('encodes a ModelProto with graph, opset imports and node attributes', () => {
    const g = new Graph('enc', 21);
    const x = g.input('x', 'float32', ['batch', 3]);
    g.output(g.op('Softmax', [x], { axis: -1 }, { name: 'sm' }), 'y');
    g.op('Identity', [x], {}, { name: 'ms', domain: 'com.microsoft' });
    const { bytes } = g.build();
    const fields = decodeFields(bytes);
    expect(fields.find((f) => f.field === 1)?.int).toBe(10n); // ir_version
    const opsets = fields.filter((f) => f.field === 8).map((f) => decodeFields(f.bytes!));
    const named = opsets.map((o) => [
      new TextDecoder().decode(o.find((f) => f.field === 1)?.bytes ?? new Uint8Array()),
      Number(o.find((f) => f.field === 2)!.int),
    ]);
    expect(named).toEqual([
      ['', 21],
      ['com.microsoft', 1],
    ]);
    const graph = decodeFields(fields.find((f) => f.field === 7)!.bytes!);
    const node = decodeFields(graph.find((f) => f.field === 1)!.bytes!);
    const str = (fs: ReturnType<typeof decodeFields>, n: number) => new TextDecoder().decode(fs.find((f) => f.field === n)!.bytes!);
    expect(str(node, 4)).toBe('Softmax');
    expect(str(node, 3)).toBe('sm');
    const at = decodeFields(node.find((f) => f.field === 5)!.bytes!);
    expect(str(at, 1)).toBe('axis');
    expect(BigInt.asIntN(64, at.find((f) => f.field === 3)!.int!)).toBe(-1n);
    expect(at.find((f) => f.field === 20)!.int).toBe(2n); // INT
  });

  it('keeps large initializers out of the protobuf (external data in memory)', async () => {
    const g = new Graph('ext');
    const x = g.input('x', 'float32', [1, 256]);
    const wData = randn(256 * 256, 1);
    const w = g.weight('w', wData, [256, 256]);
    g.output(g.matmul(x, w, 'mm'), 'y');
    const m = g.build();
    expect(m.bytes.byteLength).toBeLessThan(2000);
    expect(m.externalData).toHaveLength(1);
    expect(m.externalData[0]!.data.buffer).toBe(wData.buffer); // no copy
    const xd = randn(256, 2);
    const r = await run1(g, { x: f32Tensor(xd, [1, 256]) });
    expectClose(r.y!.data as Float32Array, refMatmul(xd, wData, 1, 256, 256), 1e-4);
  });

  it('references weights stored in a file next to the saved model', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'graph-file-'));
    try {
      const w = Float32Array.from([7, 7, 1, 2, 3]);
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(w.buffer));
      const g = new Graph('file');
      const x = g.input('x', 'float32', [3]);
      g.output(g.add(x, g.fileWeight('w', 'float32', [3], 'weights.bin', 8, 12)), 'y');
      const model = g.build();
      expect(model.externalFiles).toEqual(['weights.bin']);
      await expect(createSession(model)).rejects.toThrow(/saveDir/);
      const s = await createSession(model, { saveDir: dir, intraOpThreads: 1 });
      const r = await s.run({ x: f32Tensor([1, 1, 1], [3]) });
      expect(Array.from(r.y!.data as Float32Array)).toEqual([2, 3, 4]);
      await s.release();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('accepts weights as graph inputs', async () => {
    const g = new Graph('winput');
    const x = g.input('x', 'float32', [2, 3]);
    const w = g.input('w', 'float32', [3, 2]);
    g.output(g.matmul(x, w), 'y');
    const xd = randn(6, 3);
    const wd = randn(6, 4);
    const r = await run1(g, { x: f32Tensor(xd, [2, 3]), w: f32Tensor(wd, [3, 2]) });
    expectClose(r.y!.data as Float32Array, refMatmul(xd, wd, 2, 3, 2));
  });

  it('fp16 conversion round-trips', () => {
    for (const v of [0, 1, -2, 0.5, 65504, 1e-5, -3.140625, 6.1e-5]) {
      const h = halfToFloat(floatToHalf(v));
      expect(Math.abs(h - v)).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-7);
    }
    expect(halfToFloat(floatToHalf(1e6))).toBe(Infinity);
  });
});

describe('graph builder: shape inference and errors', () => {
  it('names the node and dims on a MatMul mismatch', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['b', 64]);
    const w = g.input('w', 'float32', [72, 16]);
    expect(() => g.matmul(x, w, 'q_proj')).toThrow('MatMul q_proj: inner dims 64 vs 72');
  });

  it('infers broadcast, reshape, transpose, gather, concat, slice and reduce shapes', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['b', 'seq', 64]);
    const y = g.reshape(x, [0, 0, 8, 8]);
    expect(y.shape).toEqual(['b', 'seq', 8, 8]);
    expect(g.transpose(y, [0, 2, 1, 3]).shape).toEqual(['b', 8, 'seq', 8]);
    expect(g.add(x, g.input('bias', 'float32', [64])).shape).toEqual(['b', 'seq', 64]);
    const emb = g.input('emb', 'float32', [100, 16]);
    const ids = g.input('ids', 'int64', ['b', 'seq']);
    expect(g.op('Gather', [emb, ids]).shape).toEqual(['b', 'seq', 16]);
    expect(g.concat([y, y], 2).shape).toEqual(['b', 'seq', 16, 8]);
    expect(g.slice(x, [0], [32], [2]).shape).toEqual(['b', 'seq', 32]);
    expect(g.reduceMean(x, [-1]).shape).toEqual(['b', 'seq', 1]);
    expect(g.reduceMean(x, [-1], false).shape).toEqual(['b', 'seq']);
    const flat = g.reshape(g.input('z', 'float32', [4, 6]), [-1]);
    expect(flat.shape).toEqual([24]);
    expect(() => g.reshape(g.input('z2', 'float32', [4, 6]), [5, -1])).toThrow(/cannot reshape/);
    expect(() => g.add(x, g.input('bad', 'float32', [63]))).toThrow(/cannot broadcast dims 64 vs 63/);
    expect(() => g.op('Gather', [emb, g.input('fids', 'float32', [3])], {}, { name: 'embed' })).toThrow(/Gather embed: indices fids/);
    expect(() => g.op('NoSuchOp', [x])).toThrow(/no shape inference/);
    const custom = g.op('NoSuchOp', [x], {}, { outTypes: [{ dtype: 'float32', shape: [1] }], domain: 'custom' });
    expect(custom.shape).toEqual([1]);
    expect(() => g.input('x', 'float32', [1])).toThrow(/defined twice/);
    g.op('Relu', [x], {}, { name: 'Relu_99' });
    expect(() => g.op('Relu', [x], {}, { name: 'Relu_99' })).toThrow(/a node named "Relu_99" already exists/);
  });

  it('exposes a walkable node list', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 2]);
    const y = g.op('LayerNormalization', [x, g.constFloat([1, 1]), g.constFloat([0, 0])], { epsilon: 1e-5, axis: -1 }, { name: 'ln' });
    g.output(y);
    const n = g.producer(y.name)!;
    expect(n.opType).toBe('LayerNormalization');
    expect(n.inputs[0]).toBe('x');
    expect(n.attributes['epsilon']).toEqual({ type: 'float', value: expect.closeTo(1e-5, 10) });
    expect(n.attributes['axis']).toEqual({ type: 'int', value: -1 });
    expect(g.nodes.map((k) => k.opType)).toEqual(['LayerNormalization']);
  });
});

describe('graph builder: ops against TS reference maths', () => {
  it('Gather + Add + LayerNormalization + MatMul + Softmax (BERT-shaped block)', async () => {
    const V = 10;
    const H = 8;
    const embD = randn(V * H, 5);
    const posD = randn(4 * H, 6);
    const gamma = randn(H, 7);
    const beta = randn(H, 8);
    const wq = randn(H * H, 9);
    const g = new Graph();
    const ids = g.input('ids', 'int64', [1, 4]);
    const emb = g.op('Gather', [g.weight('emb', embD, [V, H]), ids], {}, { name: 'embed' });
    const h = g.add(emb, g.initializer('pos', posD, [4, H]));
    const ln = g.op('LayerNormalization', [h, g.initializer('g', gamma, [H]), g.initializer('b', beta, [H])], { axis: -1, epsilon: 1e-12 });
    const q = g.matmul(ln, g.initializer('wq', wq, [H, H]));
    const scores = g.op('MatMul', [q, g.transpose(q, [0, 2, 1])]);
    g.output(ln, 'ln');
    g.output(g.softmax(scores, -1), 'p');
    const idv = [3, 1, 9, 0];
    const r = await run1(g, { ids: i64Tensor(idv, [1, 4]) });
    // reference
    const lnRef = new Float32Array(4 * H);
    for (let t = 0; t < 4; t++) {
      const row = Array.from({ length: H }, (_, j) => embD[idv[t]! * H + j]! + posD[t * H + j]!);
      const mean = row.reduce((a, b) => a + b, 0) / H;
      const v = row.reduce((a, b) => a + (b - mean) ** 2, 0) / H;
      for (let j = 0; j < H; j++) lnRef[t * H + j] = ((row[j]! - mean) / Math.sqrt(v + 1e-12)) * gamma[j]! + beta[j]!;
    }
    expectClose(r.ln!.data as Float32Array, lnRef, 1e-4);
    const qRef = refMatmul(lnRef, wq, 4, H, H);
    const p = new Float32Array(16);
    for (let i = 0; i < 4; i++) {
      const s = Array.from({ length: 4 }, (_, j) => {
        let d = 0;
        for (let k = 0; k < H; k++) d += qRef[i * H + k]! * qRef[j * H + k]!;
        return d;
      });
      const mx = Math.max(...s);
      const e = s.map((v) => Math.exp(v - mx));
      const z = e.reduce((a, b) => a + b, 0);
      e.forEach((v, j) => (p[i * 4 + j] = v / z));
    }
    expectClose(r.p!.data as Float32Array, p, 1e-4);
  });

  it('Erf-based GELU, ReduceMean, Sqrt, Div, Pow, Cast, Where, Equal', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [2, 5]);
    const half = g.constFloat(0.5);
    const gelu = g.mul(g.mul(x, half), g.add(g.op('Erf', [g.div(x, g.constFloat(Math.SQRT2))]), g.constFloat(1)));
    g.output(gelu, 'gelu');
    const ms = g.reduceMean(g.op('Pow', [x, g.constFloat(2)]), [1]);
    g.output(g.div(x, g.op('Sqrt', [g.add(ms, g.constFloat(1e-6))])), 'rms');
    const isPos = g.op('Greater', [x, g.constFloat(0)]);
    g.output(g.op('Where', [isPos, x, g.constFloat(-1)]), 'where');
    g.output(g.cast(g.op('Equal', [g.cast(x, 'int64'), g.constInt64([0])]), 'float32'), 'eq');
    const xd = randn(10, 11);
    const r = await run1(g, { x: f32Tensor(xd, [2, 5]) });
    expectClose(
      r.gelu!.data as Float32Array,
      Array.from(xd, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
      1e-5,
    );
    const rmsRef: number[] = [];
    for (let i = 0; i < 2; i++) {
      const row = Array.from(xd.subarray(i * 5, i * 5 + 5));
      const m = row.reduce((a, b) => a + b * b, 0) / 5;
      rmsRef.push(...row.map((v) => v / Math.sqrt(m + 1e-6)));
    }
    expectClose(r.rms!.data as Float32Array, rmsRef, 1e-5);
    expectClose(
      r.where!.data as Float32Array,
      Array.from(xd, (v) => (v > 0 ? v : -1)),
    );
    expectClose(
      r.eq!.data as Float32Array,
      Array.from(xd, (v) => (Math.trunc(v) === 0 ? 1 : 0)),
    );
  });

  it('SimplifiedLayerNormalization (ai.onnx-domain contrib op), com.microsoft FusedMatMul; opset-23 RMSNormalization', async () => {
    const g = new Graph('ms', 23);
    const x = g.input('x', 'float32', [3, 4]);
    const w = g.constFloat([1, 2, 3, 4], [4]);
    g.output(g.op('SimplifiedLayerNormalization', [x, w], { epsilon: 1e-6, axis: -1 }), 'sln');
    g.output(g.op('RMSNormalization', [x, w], { epsilon: 1e-6, axis: -1 }), 'rms');
    const b = g.input('b', 'float32', [2, 4]);
    g.output(g.op('FusedMatMul', [x, b], { transB: 1, alpha: 2 }, { domain: 'com.microsoft' }), 'fmm');
    const xd = randn(12, 21);
    const bd = randn(8, 22);
    const r = await run1(g, { x: f32Tensor(xd, [3, 4]), b: f32Tensor(bd, [2, 4]) });
    const ref: number[] = [];
    for (let i = 0; i < 3; i++) {
      const row = Array.from(xd.subarray(i * 4, i * 4 + 4));
      const m = row.reduce((a, c) => a + c * c, 0) / 4;
      ref.push(...row.map((v, j) => (v / Math.sqrt(m + 1e-6)) * (j + 1)));
    }
    expectClose(r.sln!.data as Float32Array, ref, 1e-5);
    expectClose(r.rms!.data as Float32Array, ref, 1e-5);
    expect(r.fmm!.dims).toEqual([3, 2]);
    const fref: number[] = [];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) fref.push(2 * [0, 1, 2, 3].reduce((a, k) => a + xd[i * 4 + k]! * bd[j * 4 + k]!, 0));
    expectClose(r.fmm!.data as Float32Array, fref, 1e-5);
  });

  it('Shape/Slice/Concat/Unsqueeze/Expand/Trilu/Range with symbolic dims', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', ['b', 's']);
    const shp = g.op('Shape', [x]);
    const s = g.slice(shp, [1], [2], [0]);
    const rng1 = g.op('Range', [g.constInt64([0], []), g.squeeze(s, [0]), g.constInt64([1], [])]);
    g.output(g.unsqueeze(rng1, [0]), 'range');
    const ones = g.op('ConstantOfShape', [g.concat([s, s], 0)], {
      value: attr.tensor({ name: 'v', dtype: 'float32', dims: [1], storage: { kind: 'inline', data: new Uint8Array(new Float32Array([1]).buffer) } }),
    });
    g.output(g.op('Trilu', [ones], { upper: 0 }), 'tril');
    g.output(g.op('Expand', [g.constFloat([2], [1, 1]), shp]), 'exp');
    const r = await run1(g, { x: f32Tensor(new Float32Array(6), [2, 3]) });
    expect(Array.from(r.range!.data as BigInt64Array, Number)).toEqual([0, 1, 2]);
    expect(Array.from(r.tril!.data as Float32Array)).toEqual([1, 0, 0, 1, 1, 0, 1, 1, 1]);
    expect(r.exp!.dims).toEqual([2, 3]);
  });

  it('Value objects from another graph are rejected', () => {
    const g1 = new Graph();
    const g2 = new Graph();
    const v: Value = g1.input('only_in_g1', 'float32', [1]);
    expect(() => g2.op('Relu', [v])).toThrow(GraphError);
  });
});
