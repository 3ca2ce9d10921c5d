/**
 * Scores over seeds: the mean of a rate over runs with its 95% interval — Student t over the runs'
 * rates, or the single run's own (Wilson) interval when there is one run. Used by the miniature
 * replication's report and by experiment grids.
 */
import type { Rate } from './metrics';

/** A mean with its 95% interval (fractions in [0, 1]; NaN with no value). */
export interface Estimate {
  mean: number;
  low: number;
  high: number;
  n: number;
}

/** Two-sided 97.5% quantiles of Student's t for 1–29 degrees of freedom. */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069,
  2.064, 2.06, 2.056, 2.052, 2.048, 2.045,
];

/** Mean over runs with a 95% interval: Student t over the run means, or the Wilson interval of a single run. */
export function estimate(rates: readonly Rate[]): Estimate {
  const vals = rates.map((r) => r.rate).filter((x): x is number => x !== null);
  if (vals.length === 0) return { mean: NaN, low: NaN, high: NaN, n: 0 };
  if (vals.length === 1) {
    const r = rates.find((x) => x.rate !== null)!;
    return { mean: vals[0]!, low: r.low ?? vals[0]!, high: r.high ?? vals[0]!, n: 1 };
  }
  const n = vals.length;
  const mean = vals.reduce((s, x) => s + x, 0) / n;
  const sd = Math.sqrt(vals.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const h = (T975[Math.min(n - 2, T975.length - 1)] ?? 1.96) * (sd / Math.sqrt(n));
  return { mean, low: Math.max(0, mean - h), high: Math.min(1, mean + h), n };
}
