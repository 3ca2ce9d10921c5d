/**
 * Per-example results as CSV or JSONL (for people who want to read or share every response with
 * its verdicts). One row per record; per judge: the effective label (corrections applied), whether
 * it was corrected, the judge's own label, score and reason. RFC 4180 quoting.
 */
import { effectiveVerdict, indexCorrections } from './metrics';
import type { EvalRecord, VerdictCorrection } from './types';

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  return /[",\r\n]/.test(s) || /^\s|\s$/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Judge ids in first-seen order. */
function judgeIds(records: readonly EvalRecord[]): string[] {
  const ids: string[] = [];
  for (const r of records) for (const v of r.verdicts) if (!ids.includes(v.judgeId)) ids.push(v.judgeId);
  return ids;
}

export function recordsToCsv(records: readonly EvalRecord[], corrections: readonly VerdictCorrection[] = []): string {
  const judges = judgeIds(records);
  const idx = indexCorrections(corrections);
  const header = ['suite', 'suite_kind', 'item', 'expected', 'categories', 'source_categories', 'reference', 'prompt', 'response', 'finish_reason', 'warnings'];
  for (const j of judges) header.push(`${j}:label`, `${j}:corrected`, `${j}:judge_label`, `${j}:score`, `${j}:reason`);
  const lines = [header.map(csvCell).join(',')];
  for (const r of records) {
    const row: unknown[] = [
      r.suiteId,
      r.suiteKind,
      r.itemId,
      r.expected,
      r.categories.join('|'),
      r.sourceCategories.join('|'),
      r.reference,
      r.prompt,
      r.response,
      r.finishReason,
      r.warnings.join(' | '),
    ];
    for (const j of judges) {
      const ev = effectiveVerdict(r, j, idx);
      row.push(ev?.label ?? '', ev ? ev.corrected : '', ev?.verdict.label ?? '', ev?.verdict.score ?? '', ev?.verdict.reason ?? '');
    }
    lines.push(row.map(csvCell).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/** One JSON object per line: the record plus `effective` labels per judge (corrections applied). */
export function recordsToJsonl(records: readonly EvalRecord[], corrections: readonly VerdictCorrection[] = []): string {
  const idx = indexCorrections(corrections);
  return (
    records
      .map((r) => {
        const effective: Record<string, { label: string; corrected: boolean }> = {};
        for (const v of r.verdicts) {
          const ev = effectiveVerdict(r, v.judgeId, idx)!;
          effective[v.judgeId] = { label: ev.label, corrected: ev.corrected };
        }
        return JSON.stringify({ ...r, effective });
      })
      .join('\n') + (records.length ? '\n' : '')
  );
}
