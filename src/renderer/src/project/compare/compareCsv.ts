/** The Compare table's rows and their CSV export (pure). */
import type { CallOutput } from '../../../../shared/contract';
import { csvCell } from '../format';

export type CompareRow = CallOutput<'eval.compare'>[number];
type Row = CompareRow;

export function toCsv(rows: Row[]): string {
  const header = ['run_id', 'name', 'generator', 'judge', 'examples'];
  const metrics = ['attack_success', 'refusal', 'over_refusal', 'task'] as const;
  const keys = { attack_success: 'attackSuccess', refusal: 'refusal', over_refusal: 'overRefusal', task: 'task' } as const;
  for (const m of metrics) header.push(`${m}_rate`, `${m}_low`, `${m}_high`, `${m}_k`, `${m}_n`);
  const lines = rows.map((r) => {
    const cells: unknown[] = [r.runId, r.name, r.generator, r.judge, r.examples];
    for (const m of metrics) {
      const v = r[keys[m]];
      cells.push(v.rate, v.low, v.high, v.k, v.n);
    }
    return cells.map(csvCell).join(',');
  });
  return [header.join(','), ...lines].join('\n') + '\n';
}
