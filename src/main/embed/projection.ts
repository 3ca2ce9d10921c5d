/**
 * 2-D projection of embeddings for the embedding map: PCA by power iteration with deflation on
 * the centred rows (n × dim, row-major). Deterministic: the start vector is fixed.
 */
export function pca2(m: Float32Array, dim: number, iterations = 50): { x: Float32Array; y: Float32Array; explained: [number, number] } {
  const n = m.length / dim;
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j]! += m[i * dim + j]!;
  for (let j = 0; j < dim; j++) mean[j]! /= Math.max(1, n);
  let total = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) total += (m[i * dim + j]! - mean[j]!) ** 2;

  const components: Float64Array[] = [];
  const variances: number[] = [];
  for (let c = 0; c < 2; c++) {
    let v = new Float64Array(dim).map((_, j) => Math.sin(j + 1 + c));
    normalise(v);
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      // w = Cᵀ C v over centred rows, with earlier components projected out.
      const w = new Float64Array(dim);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let j = 0; j < dim; j++) s += (m[i * dim + j]! - mean[j]!) * v[j]!;
        for (let j = 0; j < dim; j++) w[j]! += s * (m[i * dim + j]! - mean[j]!);
      }
      for (const u of components) {
        const d = dot(w, u);
        for (let j = 0; j < dim; j++) w[j]! -= d * u[j]!;
      }
      lambda = Math.sqrt(dot(w, w));
      if (lambda === 0) break;
      for (let j = 0; j < dim; j++) w[j]! /= lambda;
      const delta = 1 - Math.abs(dot(w, v));
      v = w;
      if (delta < 1e-9) break;
    }
    components.push(v);
    variances.push(lambda);
  }
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let a = 0;
    let b = 0;
    for (let j = 0; j < dim; j++) {
      const d = m[i * dim + j]! - mean[j]!;
      a += d * components[0]![j]!;
      b += d * components[1]![j]!;
    }
    x[i] = a;
    y[i] = b;
  }
  return { x, y, explained: [total > 0 ? variances[0]! / total : 0, total > 0 ? variances[1]! / total : 0] };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function normalise(v: Float64Array): void {
  const l = Math.sqrt(dot(v, v));
  for (let j = 0; j < v.length; j++) v[j]! /= l;
}
