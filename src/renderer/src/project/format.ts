/** Formatting helpers for rates with 95% Wilson intervals, and CSV cells. */
import type { Rate } from '../../../shared/eval';

export const pct = (x: number | null | undefined, digits = 1) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(digits)}%`);

export function rateText(r: Rate | null | undefined): string {
  if (!r || r.n === 0 || r.rate === null) return '—';
  return `${pct(r.rate)} [${pct(r.low, 0)}–${pct(r.high, 0)}] (${r.k}/${r.n})`;
}

/** "34.0% (17/50)", for compact tables. */
export function shortRate(r: Rate | null | undefined): string {
  if (!r || r.n === 0 || r.rate === null) return '—';
  return `${pct(r.rate)} (${r.k}/${r.n})`;
}

/** One CSV cell: quoted when it holds a quote, comma or newline; empty for null. */
export function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** A difference of two rates in percentage points, signed: "+12.5", "−3.0", "±0.0". */
export function pointsText(delta: number | null): string {
  if (delta === null) return '';
  const p = (100 * delta).toFixed(1);
  return delta > 0 ? `+${p}` : delta < 0 ? `−${p.slice(1)}` : '±0.0';
}
