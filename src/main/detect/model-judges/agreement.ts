/**
 * Agreement between a model judge and the built-in detectors on the user's own data: a confusion
 * table (judge label × built-in label), the share of items where both agree and Cohen's kappa.
 * Items the judge gave no verdict for (unreadable answer, failed call) form their own row
 * ("no verdict") and are left out of the agreement figures, never counted as a label.
 */

export const NO_VERDICT = 'no verdict';

export interface Agreement {
  judge: string;
  reference: string;
  /** Items compared (all, no verdicts included). */
  n: number;
  /** Items the judge gave no verdict for. */
  noVerdict: number;
  /** Items where both gave the same label (over n − noVerdict). */
  agree: number;
  /** agree / (n − noVerdict), null when no item had a verdict. */
  rate: number | null;
  /** Cohen's kappa over the items with a verdict (null when undefined: fewer than one item or one label only). */
  kappa: number | null;
  /** Labels in table order (both sides' labels, sorted; "no verdict" last among the judge's rows). */
  labels: string[];
  /** counts[judgeLabel][referenceLabel] */
  counts: Record<string, Record<string, number>>;
}

/** Compare the judge's labels (null = no verdict) with the built-in detectors' labels, item by item. */
export function agreement(
  judgeLabels: ReadonlyArray<string | null>,
  referenceLabels: readonly string[],
  names: { judge: string; reference: string },
): Agreement {
  if (judgeLabels.length !== referenceLabels.length)
    throw new Error(`agreement: ${judgeLabels.length} judge labels for ${referenceLabels.length} reference labels`);
  const labels = [...new Set([...judgeLabels.filter((l): l is string => l !== null), ...referenceLabels])].sort();
  const counts: Record<string, Record<string, number>> = {};
  let noVerdict = 0;
  let agree = 0;
  judgeLabels.forEach((j, i) => {
    const r = referenceLabels[i]!;
    const row = j ?? NO_VERDICT;
    counts[row] ??= {};
    counts[row][r] = (counts[row][r] ?? 0) + 1;
    if (j === null) noVerdict++;
    else if (j === r) agree++;
  });
  const m = judgeLabels.length - noVerdict;
  let kappa: number | null = null;
  if (m > 0) {
    let pe = 0;
    for (const l of labels) {
      const pj = labels.reduce((s, r) => s + (counts[l]?.[r] ?? 0), 0) / m;
      const pr = judgeLabels.filter((j, i) => j !== null && referenceLabels[i] === l).length / m;
      pe += pj * pr;
    }
    const po = agree / m;
    kappa = pe < 1 ? (po - pe) / (1 - pe) : null;
  }
  return { judge: names.judge, reference: names.reference, n: judgeLabels.length, noVerdict, agree, rate: m ? agree / m : null, kappa, labels, counts };
}

/** The table as text lines: judge labels down, built-in labels across. */
export function formatAgreement(a: Agreement): string[] {
  const rows = [...a.labels.filter((l) => a.counts[l]), ...(a.counts[NO_VERDICT] ? [NO_VERDICT] : [])];
  const cols = a.labels;
  const head = [`judge \\ built-in`, ...cols];
  const body = rows.map((r) => [r, ...cols.map((c) => String(a.counts[r]?.[c] ?? 0))]);
  const widths = head.map((h, k) => Math.max(h.length, ...body.map((b) => b[k]!.length)));
  const line = (cells: string[]) => cells.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join('  ');
  const pct = (x: number | null) => (x === null ? '-' : `${(100 * x).toFixed(1)}%`);
  return [
    `agreement of ${a.judge} with ${a.reference}: ${a.agree}/${a.n - a.noVerdict} (${pct(a.rate)}), kappa ${a.kappa === null ? '-' : a.kappa.toFixed(3)}; no verdict: ${a.noVerdict}/${a.n}`,
    line(head),
    ...body.map(line),
  ];
}
