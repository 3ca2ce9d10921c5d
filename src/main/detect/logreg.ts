/**
 * Binary logistic regression on Float32Array feature rows: full-batch Adam on the L2-regularised
 * log loss, deterministic (zero init, fixed iteration count). Small and CPU-fast: meant for
 * ~100–1000 features and up to ~100k rows.
 */
export interface LogRegModel {
  dim: number;
  weights: Float32Array;
  bias: number;
}

export interface LogRegOptions {
  l2?: number;
  epochs?: number;
  lr?: number;
  /** Weight positives so both classes count equally (default true). */
  balance?: boolean;
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function trainLogReg(x: Float32Array, y: ArrayLike<number>, dim: number, opts: LogRegOptions = {}): LogRegModel {
  const n = y.length;
  if (x.length !== n * dim) throw new Error(`trainLogReg: ${x.length} values for ${n} rows of ${dim}`);
  const l2 = opts.l2 ?? 1e-3;
  const epochs = opts.epochs ?? 400;
  const lr = opts.lr ?? 0.05;
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i]! ? 1 : 0;
  if (pos === 0 || pos === n) throw new Error('trainLogReg: need examples of both classes');
  const wPos = opts.balance === false ? 1 : n / (2 * pos);
  const wNeg = opts.balance === false ? 1 : n / (2 * (n - pos));
  const w = new Float64Array(dim);
  let b = 0;
  const mw = new Float64Array(dim);
  const vw = new Float64Array(dim);
  let mb = 0;
  let vb = 0;
  const g = new Float64Array(dim);
  const b1 = 0.9;
  const b2 = 0.999;
  for (let t = 1; t <= epochs; t++) {
    g.fill(0);
    let gb = 0;
    for (let i = 0; i < n; i++) {
      const o = i * dim;
      let z = b;
      for (let j = 0; j < dim; j++) z += w[j]! * x[o + j]!;
      const yi = y[i]! ? 1 : 0;
      const err = (sigmoid(z) - yi) * (yi ? wPos : wNeg);
      for (let j = 0; j < dim; j++) g[j]! += err * x[o + j]!;
      gb += err;
    }
    for (let j = 0; j < dim; j++) {
      const gj = g[j]! / n + l2 * w[j]!;
      mw[j] = b1 * mw[j]! + (1 - b1) * gj;
      vw[j] = b2 * vw[j]! + (1 - b2) * gj * gj;
      w[j]! -= (lr * (mw[j]! / (1 - b1 ** t))) / (Math.sqrt(vw[j]! / (1 - b2 ** t)) + 1e-8);
    }
    gb /= n;
    mb = b1 * mb + (1 - b1) * gb;
    vb = b2 * vb + (1 - b2) * gb * gb;
    b -= (lr * (mb / (1 - b1 ** t))) / (Math.sqrt(vb / (1 - b2 ** t)) + 1e-8);
  }
  return { dim, weights: Float32Array.from(w), bias: b };
}

/** P(y = 1) for each row. */
export function predictLogReg(model: LogRegModel, x: Float32Array): Float32Array {
  const n = x.length / model.dim;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * model.dim;
    let z = model.bias;
    for (let j = 0; j < model.dim; j++) z += model.weights[j]! * x[o + j]!;
    out[i] = sigmoid(z);
  }
  return out;
}

export interface BinaryMetrics {
  n: number;
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  tp: number;
  fp: number;
  tn: number;
  fn: number;
}

export function binaryMetrics(pred: ArrayLike<boolean | number>, truth: ArrayLike<boolean | number>): BinaryMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  for (let i = 0; i < truth.length; i++) {
    const p = !!pred[i];
    const t = !!truth[i];
    if (p && t) tp++;
    else if (p) fp++;
    else if (t) fn++;
    else tn++;
  }
  const n = truth.length;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    n,
    accuracy: n ? (tp + tn) / n : 0,
    precision,
    recall,
    f1: precision + recall ? (2 * precision * recall) / (precision + recall) : 0,
    tp,
    fp,
    tn,
    fn,
  };
}
