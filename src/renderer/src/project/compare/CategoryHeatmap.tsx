import { useState } from 'react';
import { useCall } from '../../api/hooks';
import { Button, Card, EmptyState, SelectField } from '../../components/ui';
import { pointsText, shortRate } from '../format';
import { categoryHeatmap, deltaColour, heatmapCsv } from './categoryHeatmap';
import type { CompareRow as Row } from './compareCsv';
import { download } from './download';
import { exportFileName } from './exportName';

/** Attack success per harm category (rows) and run (columns), each cell against a chosen base run. */
export function CategoryHeatmap({ rows, projectName }: { rows: Row[]; projectName: string }) {
  const taxonomy = useCall('data.taxonomy', {});
  const [baseId, setBaseId] = useState(rows[0]!.runId);
  const base = rows.some((r) => r.runId === baseId) ? baseId : rows[0]!.runId;
  const order = (taxonomy.data?.categories ?? []).map((c) => c.id);
  const name = (id: string) => (id === 'uncategorised' ? 'uncategorised (no harm category)' : (taxonomy.data?.categories.find((c) => c.id === id)?.name ?? id));
  const heat = categoryHeatmap(rows, base, order);
  return (
    <Card
      title="Attack success per harm category"
      actions={
        <Button
          variant="ghost"
          onClick={() =>
            download(
              exportFileName(projectName, 'attack success by harm category', 'csv'),
              new Blob([heatmapCsv(rows, base, order, name)], { type: 'text/csv' }),
            )
          }
        >
          Export category CSV
        </Button>
      }
    >
      {heat.length === 0 ? (
        <EmptyState title="No per-category results">These runs have no harmful suite results with a refusal judge.</EmptyState>
      ) : (
        <>
          <SelectField
            label="Base run"
            value={String(base)}
            options={rows.map((r) => ({ value: String(r.runId), label: `#${r.runId} ${r.name}` }))}
            onChange={(v) => setBaseId(Number(v))}
          />
          <p className="muted small">
            Harmful prompts answered, per harm category; other runs show the difference from the base run in percentage points (red: more attacks succeed,
            green: fewer).
          </p>
          <table className="table metrics heatmap" aria-label="Attack success per harm category">
            <thead>
              <tr>
                <th scope="col">Harm category</th>
                {rows.map((r) => (
                  <th scope="col" key={r.runId} data-run-id={r.runId}>
                    #{r.runId} {r.name}
                    {r.runId === base ? ' (base)' : ''}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {heat.map((h) => (
                <tr key={h.category} data-category={h.category}>
                  <th scope="row">{name(h.category)}</th>
                  {h.cells.map((c) => (
                    <td key={c.runId} data-run-id={c.runId} style={{ background: deltaColour(c.delta) }}>
                      {shortRate(c.attackSuccess && { ...c.attackSuccess, low: null, high: null })}
                      {c.delta !== null && <span className="delta"> {pointsText(c.delta)}</span>}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}
