/**
 * Per-category attack success across runs, for the Compare tab's heatmap and its CSV: one row per
 * harm category, one cell per run with the difference against a chosen base run. Pure (no DOM).
 */
import type { Rate } from '../../../../shared/eval';
import { csvCell } from '../format';

/** What the heatmap reads of a rate. */
export type RateLike = Pick<Rate, 'k' | 'n' | 'rate'>;

export interface CategoryRun {
  runId: number;
  name: string;
  perCategory: { category: string; attackSuccess: RateLike }[];
}

export interface HeatmapCell {
  runId: number;
  /** null where the run has no prompt of this category */
  attackSuccess: RateLike | null;
  /** this run's rate minus the base run's (null for the base run, or where either has no rate) */
  delta: number | null;
}

export interface HeatmapRow {
  category: string;
  cells: HeatmapCell[];
}

/**
 * Rows = every category any run measured (in `order`, unknown ids after, "uncategorised" last),
 * columns = runs in the order given.
 */
export function categoryHeatmap(runs: readonly CategoryRun[], baseRunId: number, order: readonly string[] = []): HeatmapRow[] {
  const base = runs.find((r) => r.runId === baseRunId);
  const cats = [...new Set(runs.flatMap((r) => r.perCategory.map((c) => c.category)))];
  const rank = (c: string) => (c === 'uncategorised' ? order.length + 1 : order.includes(c) ? order.indexOf(c) : order.length);
  cats.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  return cats.map((category) => {
    const baseRate = base?.perCategory.find((c) => c.category === category)?.attackSuccess.rate ?? null;
    return {
      category,
      cells: runs.map((r) => {
        const a = r.perCategory.find((c) => c.category === category)?.attackSuccess ?? null;
        const delta = r.runId === baseRunId || a?.rate == null || baseRate === null ? null : a.rate - baseRate;
        return { runId: r.runId, attackSuccess: a, delta };
      }),
    };
  });
}

/**
 * The heatmap as CSV: category id and name, then per run (each once, in the order given) its
 * attack success rate, harmful prompts answered (k) and asked (n), and — for every run but the base
 * — the rate's difference from the base run's. Column names are stable and unique: the run's id and
 * what the column holds (`run_12_attack_success_rate`, `run_12_attack_success_minus_run_9`).
 */
export function heatmapCsv(
  runs: readonly CategoryRun[],
  baseRunId: number,
  order: readonly string[] = [],
  name: (category: string) => string = (c) => c,
): string {
  const unique = runs.filter((r, i) => runs.findIndex((o) => o.runId === r.runId) === i);
  const header = ['category', 'category_name'];
  for (const r of unique) {
    const col = `run_${r.runId}_attack_success`;
    header.push(`${col}_rate`, `${col}_answered`, `${col}_prompts`, ...(r.runId === baseRunId ? [] : [`${col}_minus_run_${baseRunId}`]));
  }
  const lines = categoryHeatmap(unique, baseRunId, order).map((row) => {
    const cells: unknown[] = [row.category, name(row.category)];
    for (const c of row.cells)
      cells.push(c.attackSuccess?.rate ?? null, c.attackSuccess?.k ?? null, c.attackSuccess?.n ?? null, ...(c.runId === baseRunId ? [] : [c.delta]));
    return cells.map(csvCell).join(',');
  });
  return [header.map(csvCell).join(','), ...lines].join('\n') + '\n';
}

/**
 * Cell background for a difference: red where more attacks succeed than on the base run, green
 * where fewer; full strength at ±50 points.
 */
export function deltaColour(delta: number | null): string | undefined {
  if (delta === null || delta === 0) return undefined;
  const a = Math.min(1, Math.abs(delta) / 0.5) * 0.55 + 0.08;
  return delta > 0 ? `rgba(200, 40, 30, ${a.toFixed(2)})` : `rgba(30, 140, 70, ${a.toFixed(2)})`;
}
