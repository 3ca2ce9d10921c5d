/**
 * Vector maths on row-major Float32Array matrices (embeddings as one contiguous block).
 * Pure JS loops for the O(n·d) work; matmulTopK can hand the O(n·m·d) similarity search to
 * onnxruntime's MatMul + TopK kernels (multi-threaded, SIMD) when asked, with an equivalent JS path.
 */
import { Graph, createSession, f32Tensor, ort } from '../engine/graph';

/** Mean of the rows listed in `idx` (all rows when omitted). Not normalised. */
export function meanRows(m: Float32Array, dim: number, idx?: ArrayLike<number>): Float32Array {
  const out = new Float32Array(dim);
  const n = idx ? idx.length : m.length / dim;
  if (n === 0) return out;
  for (let k = 0; k < n; k++) {
    const o = (idx ? idx[k]! : k) * dim;
    for (let j = 0; j < dim; j++) out[j]! += m[o + j]!;
  }
  for (let j = 0; j < dim; j++) out[j]! /= n;
  return out;
}

export function normalise(v: Float32Array): Float32Array {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * v[j]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let j = 0; j < v.length; j++) v[j]! *= inv;
  }
  return v;
}

/** out[i] = m[row i] · v for every row (or the rows in idx, written at out[k]). */
export function dotRows(m: Float32Array, dim: number, v: Float32Array, idx?: ArrayLike<number>): Float32Array {
  const n = idx ? idx.length : m.length / dim;
  const out = new Float32Array(n);
  for (let k = 0; k < n; k++) {
    const o = (idx ? idx[k]! : k) * dim;
    let s = 0;
    for (let j = 0; j < dim; j++) s += m[o + j]! * v[j]!;
    out[k] = s;
  }
  return out;
}

/** Scores of every row against several vectors: out[i * c + k] = m[i] · vs[k] (vs: c × dim). */
export function dotRowsMulti(m: Float32Array, dim: number, vs: Float32Array, idx?: ArrayLike<number>): Float32Array {
  const c = vs.length / dim;
  const n = idx ? idx.length : m.length / dim;
  const out = new Float32Array(n * c);
  for (let k = 0; k < n; k++) {
    const o = (idx ? idx[k]! : k) * dim;
    for (let q = 0; q < c; q++) {
      const p = q * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) s += m[o + j]! * vs[p + j]!;
      out[k * c + q] = s;
    }
  }
  return out;
}

export interface TopKResult {
  /** n × k similarities, descending per row. */
  values: Float32Array;
  /** n × k indices into B. */
  indices: Int32Array;
  k: number;
  backend: 'onnxruntime' | 'js';
}

/** Top-k dot products of each row of A (n × d) against the rows of B (m × d), in JS. */
export function matmulTopKJs(a: Float32Array, b: Float32Array, dim: number, k: number): TopKResult {
  const n = a.length / dim;
  const m = b.length / dim;
  const kk = Math.min(k, m);
  const values = new Float32Array(n * kk).fill(-Infinity);
  const indices = new Int32Array(n * kk).fill(-1);
  for (let i = 0; i < n; i++) {
    const ao = i * dim;
    const vo = i * kk;
    for (let r = 0; r < m; r++) {
      const bo = r * dim;
      let s = 0;
      for (let j = 0; j < dim; j++) s += a[ao + j]! * b[bo + j]!;
      if (s <= values[vo + kk - 1]!) continue;
      // insertion into the sorted top-k list
      let p = kk - 1;
      while (p > 0 && values[vo + p - 1]! < s) {
        values[vo + p] = values[vo + p - 1]!;
        indices[vo + p] = indices[vo + p - 1]!;
        p--;
      }
      values[vo + p] = s;
      indices[vo + p] = r;
    }
  }
  return { values, indices, k: kk, backend: 'js' };
}

/**
 * Top-k dot products with onnxruntime (MatMul + TopK), A processed in blocks of `blockRows` so the
 * n × m score block stays small. B is fixed per call (uploaded once as an initializer).
 */
export async function matmulTopKOrt(
  a: Float32Array,
  b: Float32Array,
  dim: number,
  k: number,
  options: { blockRows?: number; threads?: number } = {},
): Promise<TopKResult> {
  const n = a.length / dim;
  const m = b.length / dim;
  const kk = Math.min(k, m);
  const bt = new Float32Array(dim * m);
  for (let r = 0; r < m; r++) for (let j = 0; j < dim; j++) bt[j * m + r] = b[r * dim + j]!;
  const g = new Graph('topk_sim', 21);
  const x = g.input('a', 'float32', ['n', dim]);
  const w = g.weight('bt', bt, [dim, m]);
  const scores = g.matmul(x, w);
  const kT = g.initializer('k', new BigInt64Array([BigInt(kk)]), [1]);
  const [vals, idx] = g.opN('TopK', [scores, kT], { axis: -1, largest: 1, sorted: 1 }, { outputs: 2 });
  g.output(vals!, 'values');
  g.output(idx!, 'indices');
  const session = await createSession(g.build(), options.threads !== undefined ? { intraOpThreads: options.threads } : {});
  const values = new Float32Array(n * kk);
  const indices = new Int32Array(n * kk);
  const block = options.blockRows ?? Math.max(1, Math.floor((32 * 1024 * 1024) / 4 / Math.max(1, m)));
  try {
    for (let s = 0; s < n; s += block) {
      const e = Math.min(n, s + block);
      const res = await session.run({ a: f32Tensor(a.slice(s * dim, e * dim), [e - s, dim]) });
      values.set(res.values!.data as Float32Array, s * kk);
      const ii = res.indices!.data as BigInt64Array;
      for (let t = 0; t < ii.length; t++) indices[s * kk + t] = Number(ii[t]);
    }
  } finally {
    await session.release();
  }
  return { values, indices, k: kk, backend: 'onnxruntime' };
}

/** Top-k similarity search; uses onnxruntime for big problems (n·m·d above ~2e7), JS otherwise. */
export async function matmulTopK(
  a: Float32Array,
  b: Float32Array,
  dim: number,
  k: number,
  options: { backend?: 'auto' | 'onnxruntime' | 'js' } = {},
): Promise<TopKResult> {
  const n = a.length / dim;
  const m = b.length / dim;
  if (n === 0 || m === 0) return { values: new Float32Array(0), indices: new Int32Array(0), k: Math.min(k, m), backend: 'js' };
  const backend = options.backend ?? 'auto';
  if (backend === 'js' || (backend === 'auto' && n * m * dim < 2e7)) return matmulTopKJs(a, b, dim, k);
  return matmulTopKOrt(a, b, dim, k);
}

export { ort };

/**
 * Indices of the K largest values among scores[start + r * stride] for r in [0, n), sorted by
 * value descending (ties: lower index first). O(n log K) with a binary min-heap in typed arrays.
 */
export function topKIndices(scores: Float32Array, K: number, opts: { n?: number; stride?: number; offset?: number } = {}): Int32Array {
  const stride = opts.stride ?? 1;
  const offset = opts.offset ?? 0;
  const n = opts.n ?? Math.floor((scores.length - offset + stride - 1) / stride);
  const k = Math.max(0, Math.min(K, n));
  if (k === 0) return new Int32Array(0);
  const hv = new Float64Array(k);
  const hi = new Int32Array(k);
  let size = 0;
  // "a is worse than b": smaller value, or equal value and larger index.
  const worse = (va: number, ia: number, vb: number, ib: number) => va < vb || (va === vb && ia > ib);
  const siftDown = (p: number) => {
    for (;;) {
      const l = 2 * p + 1;
      const r = l + 1;
      let m = p;
      if (l < size && worse(hv[l]!, hi[l]!, hv[m]!, hi[m]!)) m = l;
      if (r < size && worse(hv[r]!, hi[r]!, hv[m]!, hi[m]!)) m = r;
      if (m === p) return;
      const tv = hv[p]!;
      const ti = hi[p]!;
      hv[p] = hv[m]!;
      hi[p] = hi[m]!;
      hv[m] = tv;
      hi[m] = ti;
      p = m;
    }
  };
  for (let r = 0; r < n; r++) {
    const v = scores[offset + r * stride]!;
    if (size < k) {
      let c = size++;
      hv[c] = v;
      hi[c] = r;
      while (c > 0) {
        const p = (c - 1) >> 1;
        if (!worse(hv[c]!, hi[c]!, hv[p]!, hi[p]!)) break;
        const tv = hv[p]!;
        const ti = hi[p]!;
        hv[p] = hv[c]!;
        hi[p] = hi[c]!;
        hv[c] = tv;
        hi[c] = ti;
        c = p;
      }
    } else if (worse(hv[0]!, hi[0]!, v, r)) {
      hv[0] = v;
      hi[0] = r;
      siftDown(0);
    }
  }
  const order = Int32Array.from({ length: size }, (_, t) => t).sort((a, b) => hv[b]! - hv[a]! || hi[a]! - hi[b]!);
  return Int32Array.from(order, (t) => hi[t]!);
}

/**
 * dotRowsMulti for big matrices through onnxruntime's MatMul (SIMD, multi-threaded; the input is
 * wrapped without a copy). Falls back to JS below ~1e8 multiply-adds or when asked.
 */
export async function dotRowsMultiFast(
  m: Float32Array,
  dim: number,
  vs: Float32Array,
  options: { backend?: 'auto' | 'onnxruntime' | 'js'; blockRows?: number } = {},
): Promise<Float32Array> {
  const c = vs.length / dim;
  const n = m.length / dim;
  const backend = options.backend ?? 'auto';
  if (backend === 'js' || (backend === 'auto' && n * c * dim < 1e8)) return dotRowsMulti(m, dim, vs);
  const vt = new Float32Array(dim * c);
  for (let q = 0; q < c; q++) for (let j = 0; j < dim; j++) vt[j * c + q] = vs[q * dim + j]!;
  const g = new Graph('dot_rows_multi', 21);
  const x = g.input('m', 'float32', ['n', dim]);
  g.output(g.matmul(x, g.initializer('vt', vt, [dim, c])), 'scores');
  const session = await createSession(g.build());
  const out = new Float32Array(n * c);
  const block = options.blockRows ?? 1 << 17;
  try {
    for (let s = 0; s < n; s += block) {
      const e = Math.min(n, s + block);
      const view = s === 0 && e === n ? m : m.subarray(s * dim, e * dim);
      // onnxruntime-node reads a typed array from its byteOffset; a view avoids copying the block.
      const res = await session.run({ m: new ort.Tensor('float32', view, [e - s, dim]) });
      out.set(res.scores!.data as Float32Array, s * c);
    }
  } finally {
    await session.release();
  }
  return out;
}

/**
 * Weighted row sums W (c × n) · M (n × dim) through onnxruntime's MatMul (for category
 * prototypes: W = membership / count). M is wrapped without a copy.
 */
export async function weightedRowSumsFast(w: Float32Array, c: number, m: Float32Array, dim: number): Promise<Float32Array> {
  const n = m.length / dim;
  if (w.length !== c * n) throw new Error(`weights: expected ${c} × ${n}`);
  const g = new Graph('weighted_row_sums', 21);
  const wi = g.input('w', 'float32', [c, 'n']);
  const mi = g.input('m', 'float32', ['n', dim]);
  g.output(g.matmul(wi, mi), 'sums');
  const session = await createSession(g.build());
  try {
    const res = await session.run({ w: new ort.Tensor('float32', w, [c, n]), m: new ort.Tensor('float32', m, [n, dim]) });
    return Float32Array.from(res.sums!.data as Float32Array);
  } finally {
    await session.release();
  }
}
