/** Formatting helpers for rates with 95% Wilson intervals. */
export interface RateLike {
  k: number;
  n: number;
  rate: number | null;
  low: number | null;
  high: number | null;
}

export const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(digits)}%`);

export function rateText(r: RateLike | null | undefined): string {
  if (!r || r.n === 0 || r.rate === null) return '—';
  return `${pct(r.rate)} [${pct(r.low, 0)}–${pct(r.high, 0)}] (${r.k}/${r.n})`;
}

/** "34.0% (17/50)", for compact tables. */
export function shortRate(r: RateLike | null | undefined): string {
  if (!r || r.n === 0 || r.rate === null) return '—';
  return `${pct(r.rate)} (${r.k}/${r.n})`;
}
