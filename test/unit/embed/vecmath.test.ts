import { describe, expect, it } from 'vitest';
import { dotRows, dotRowsMulti, dotRowsMultiFast, matmulTopK, meanRows, topKIndices } from '../../../src/main/embed/vecmath';
import { l2NormaliseRows } from '../../../src/main/embed/types';
import { mulberry32 } from '../../../src/main/select/common';

const rand = (n: number, seed: number) => {
  const r = mulberry32(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

describe('vector maths', () => {
  it('means and dot products over row subsets', () => {
    const m = Float32Array.from([1, 2, 3, 4, 5, 6]);
    expect(Array.from(meanRows(m, 2))).toEqual([3, 4]);
    expect(Array.from(meanRows(m, 2, [0, 2]))).toEqual([3, 4]);
    expect(Array.from(dotRows(m, 2, Float32Array.from([1, -1]), [2, 0]))).toEqual([-1, -1]);
    expect(Array.from(dotRowsMulti(m, 2, Float32Array.from([1, 0, 0, 1])))).toEqual([1, 2, 3, 4, 5, 6]);
  });
  it('topKIndices equals a full sort (ties by lower index), with strides', () => {
    const s = rand(5000, 3).map((v) => Math.round(v * 50) / 50); // many ties
    const ref = Array.from(s.keys()).sort((a, b) => s[b]! - s[a]! || a - b);
    expect(Array.from(topKIndices(s, 37))).toEqual(ref.slice(0, 37));
    expect(Array.from(topKIndices(s, 10_000))).toEqual(ref);
    expect(topKIndices(s, 0).length).toBe(0);
    // column 1 of a 3-column matrix
    const col = Array.from({ length: 5000 / 5 }, (_, r) => s[r * 5 + 1]!);
    const refCol = Array.from(col.keys()).sort((a, b) => col[b]! - col[a]! || a - b);
    expect(Array.from(topKIndices(s, 20, { n: 1000, stride: 5, offset: 1 }))).toEqual(refCol.slice(0, 20));
  });
  it('dotRowsMultiFast (onnxruntime, in blocks of views) equals the JS loop', async () => {
    const d = 24;
    const m = rand(103 * d, 5);
    const vs = rand(14 * d, 6);
    const js = dotRowsMulti(m, d, vs);
    const fast = await dotRowsMultiFast(m, d, vs, { backend: 'onnxruntime', blockRows: 10 });
    expect(fast.length).toBe(js.length);
    for (let i = 0; i < js.length; i++) expect(fast[i]).toBeCloseTo(js[i]!, 4);
  });
  it('top-k similarity search: onnxruntime and JS agree with brute force', async () => {
    const d = 16;
    const a = l2NormaliseRows(rand(50 * d, 1), d);
    const b = l2NormaliseRows(rand(300 * d, 2), d);
    const js = await matmulTopK(a, b, d, 5, { backend: 'js' });
    const ort = await matmulTopK(a, b, d, 5, { backend: 'onnxruntime' });
    expect(js.backend).toBe('js');
    expect(ort.backend).toBe('onnxruntime');
    for (let i = 0; i < 50; i++) {
      const sims = Array.from({ length: 300 }, (_, r) => {
        let s = 0;
        for (let j = 0; j < d; j++) s += a[i * d + j]! * b[r * d + j]!;
        return s;
      });
      const ref = Array.from(sims.keys())
        .sort((x, y) => sims[y]! - sims[x]!)
        .slice(0, 5);
      expect(Array.from(js.indices.subarray(i * 5, i * 5 + 5))).toEqual(ref);
      expect(Array.from(ort.indices.subarray(i * 5, i * 5 + 5))).toEqual(ref);
      for (let t = 0; t < 5; t++) expect(ort.values[i * 5 + t]).toBeCloseTo(sims[ref[t]!]!, 5);
    }
  });
});
