/**
 * Turning detector logits into calibrated probabilities and decisions, and checking them:
 *  - Platt scaling p = σ(a·z + b), fitted on a validation split by weighted log loss (Newton);
 *  - a decision threshold chosen on the validation split (balanced accuracy or accuracy);
 *  - expected calibration error and a reliability table (equal-width bins).
 */

export interface Platt {
  a: number;
  b: number;
}

export const sigmoid = (z: number): number => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));

export function applyPlatt(p: Platt, z: number): number {
  return sigmoid(p.a * z + p.b);
}

/**
 * Fit Platt scaling on (logit, label) pairs. `balance` weights the classes equally (a prior-free
 * probability); otherwise the validation class mix is the prior. A tiny ridge keeps it finite on
 * separable data.
 */
export function fitPlatt(z: ArrayLike<number>, y: ArrayLike<number | boolean>, opts: { balance?: boolean; weights?: ArrayLike<number> } = {}): Platt {
  const n = z.length;
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i] ? 1 : 0;
  if (pos === 0 || pos === n) throw new Error('fitPlatt: need both classes');
  const wPos = opts.balance ? n / (2 * pos) : 1;
  const wNeg = opts.balance ? n / (2 * (n - pos)) : 1;
  let a = 1;
  let b = 0;
  const ridge = 1e-3;
  for (let it = 0; it < 100; it++) {
    let ga = ridge * (a - 1);
    let gb = 0;
    let haa = ridge;
    let hab = 0;
    let hbb = 1e-9;
    for (let i = 0; i < n; i++) {
      const w = (y[i] ? wPos : wNeg) * (opts.weights ? opts.weights[i]! : 1);
      const p = sigmoid(a * z[i]! + b);
      const r = (p - (y[i] ? 1 : 0)) * w;
      const s = p * (1 - p) * w;
      ga += r * z[i]!;
      gb += r;
      haa += s * z[i]! * z[i]!;
      hab += s * z[i]!;
      hbb += s;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-10) break;
  }
  return { a, b };
}

/**
 * The probability threshold that maximises balanced accuracy (mean of recall and specificity) or
 * plain accuracy; among equally good thresholds the midpoint of the best run.
 */
export function chooseThreshold(p: ArrayLike<number>, y: ArrayLike<number | boolean>, criterion: 'balanced' | 'accuracy' = 'balanced'): number {
  const n = p.length;
  const order = [...Array(n).keys()].sort((i, j) => p[j]! - p[i]!);
  let pos = 0;
  for (let i = 0; i < n; i++) pos += y[i] ? 1 : 0;
  const neg = n - pos;
  // predict positive for the top k (k = 0..n)
  let tp = 0;
  let fp = 0;
  const score = () => (criterion === 'balanced' ? ((pos ? tp / pos : 0) + (neg ? (neg - fp) / neg : 0)) / 2 : (tp + neg - fp) / n);
  let best = score();
  let bestK: number[] = [0];
  for (let k = 1; k <= n; k++) {
    const i = order[k - 1]!;
    if (y[i]) tp++;
    else fp++;
    if (k < n && p[order[k]!]! === p[i]!) continue; // a threshold cannot split ties
    const s = score();
    if (s > best + 1e-12) {
      best = s;
      bestK = [k];
    } else if (Math.abs(s - best) <= 1e-12) bestK.push(k);
  }
  const k = bestK[Math.floor((bestK.length - 1) / 2)]!;
  if (k === 0) return Math.min(1, p[order[0]!]! + 1e-6);
  if (k === n) return p[order[n - 1]!]!;
  return (p[order[k - 1]!]! + p[order[k]!]!) / 2;
}

export interface ReliabilityBin {
  lo: number;
  hi: number;
  n: number;
  /** Mean predicted probability in the bin. */
  meanPredicted: number;
  /** Share of positives in the bin. */
  observed: number;
}

/** Reliability table and expected calibration error (Σ n_bin/n · |observed − predicted|). */
export function calibrationReport(p: ArrayLike<number>, y: ArrayLike<number | boolean>, bins = 10): { ece: number; bins: ReliabilityBin[] } {
  const out: ReliabilityBin[] = Array.from({ length: bins }, (_, k) => ({ lo: k / bins, hi: (k + 1) / bins, n: 0, meanPredicted: 0, observed: 0 }));
  for (let i = 0; i < p.length; i++) {
    const k = Math.min(bins - 1, Math.floor(p[i]! * bins));
    const b = out[k]!;
    b.n++;
    b.meanPredicted += p[i]!;
    b.observed += y[i] ? 1 : 0;
  }
  let ece = 0;
  for (const b of out) {
    if (!b.n) continue;
    b.meanPredicted /= b.n;
    b.observed /= b.n;
    ece += (b.n / p.length) * Math.abs(b.observed - b.meanPredicted);
  }
  return { ece, bins: out };
}
