import { useRef, useState } from 'react';
import { api } from '../api/client';
import { useAction, useCall } from '../api/hooks';
import { Button, CheckboxGroup, Card, EmptyState, ErrorBanner, SelectField, Spinner } from '../components/ui';
import { categoryHeatmap, deltaColour, heatmapCsv } from './categoryHeatmap';
import { csvCell, pct, pointsText, rateText, shortRate } from './format';
import type { TabProps } from './tabs';

type Row = Awaited<ReturnType<typeof api.call<'eval.compare'>>>[number];

const W = 560;
const H = 360;
const M = { left: 56, right: 16, top: 16, bottom: 44 };

/** Compare: safety vs over-refusal vs utility across runs, as a table and a scatter; CSV/SVG/PNG export. */
export function CompareTab({ project }: TabProps) {
  const runs = useCall('eval.runs', { projectId: project.id }, [project.id]);
  const [chosen, setChosen] = useState<number[] | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const ids = chosen ?? (runs.data ?? []).map((r) => r.id);
  const compare = useAction(async () => setRows(await api.call('eval.compare', { ids })));

  if (runs.loading && !runs.data) return <Spinner label="Loading runs" />;
  if (!runs.data || runs.data.length === 0) {
    return (
      <Card title="Compare runs">
        <EmptyState title="Nothing to compare yet">Run evaluations in the Evaluate tab first.</EmptyState>
      </Card>
    );
  }
  return (
    <>
      <Card title="Runs to compare">
        <ErrorBanner error={runs.error ?? compare.error} />
        <CheckboxGroup
          legend="Runs"
          options={runs.data.map((r) => ({ value: String(r.id), label: `#${r.id} ${r.name}` }))}
          value={ids.map(String)}
          onChange={(v) => setChosen(v.map(Number))}
        />
        <Button variant="primary" busy={compare.pending} disabled={ids.length === 0} onClick={() => void compare.run()}>
          Compare
        </Button>
      </Card>
      {rows && (
        <Card
          title="Safety vs over-refusal vs utility"
          actions={
            <>
              <Button variant="ghost" onClick={() => download(`safetune-compare-${project.id}.csv`, new Blob([toCsv(rows)], { type: 'text/csv' }))}>
                Export CSV
              </Button>
              <Button variant="ghost" onClick={() => svgRef.current && download(`safetune-compare-${project.id}.svg`, svgBlob(svgRef.current))}>
                Export SVG
              </Button>
              <Button variant="ghost" onClick={() => svgRef.current && void toPng(svgRef.current).then((b) => download(`safetune-compare-${project.id}.png`, b))}>
                Export PNG
              </Button>
            </>
          }
        >
          <table className="table metrics" aria-label="Comparison">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Judge</th>
                <th scope="col">Attack success</th>
                <th scope="col">Refusal</th>
                <th scope="col">Over-refusal</th>
                <th scope="col">Task score</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr key={r.runId} data-run-id={r.runId}>
                  <td>
                    #{r.runId} {r.name}
                  </td>
                  <td>{r.judge ?? '—'}</td>
                  <td>{rateText(r.attackSuccess)}</td>
                  <td>{rateText(r.refusal)}</td>
                  <td>{rateText(r.overRefusal)}</td>
                  <td>{rateText(r.task)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Scatter rows={rows} svgRef={svgRef} />
        </Card>
      )}
      {rows && <CategoryHeatmap rows={rows} projectId={project.id} />}
    </>
  );
}

/** Attack success per harm category (rows) and run (columns), each cell against a chosen base run. */
function CategoryHeatmap({ rows, projectId }: { rows: Row[]; projectId: number }) {
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
        <Button variant="ghost" onClick={() => download(`safetune-compare-${projectId}-categories.csv`, new Blob([heatmapCsv(rows, base, order, name)], { type: 'text/csv' }))}>
          Export category CSV
        </Button>
      }
    >
      {heat.length === 0 ? (
        <EmptyState title="No per-category results">These runs have no harmful suite results with a refusal judge.</EmptyState>
      ) : (
        <>
          <SelectField label="Base run" value={String(base)} options={rows.map((r) => ({ value: String(r.runId), label: `#${r.runId} ${r.name}` }))} onChange={(v) => setBaseId(Number(v))} />
          <p className="muted small">
            Harmful prompts answered, per harm category; other runs show the difference from the base run in percentage points (red: more attacks
            succeed, green: fewer).
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

function Scatter({ rows, svgRef }: { rows: Row[]; svgRef: React.RefObject<SVGSVGElement | null> }) {
  const x = (v: number) => M.left + v * (W - M.left - M.right);
  const y = (v: number) => H - M.bottom - v * (H - M.top - M.bottom);
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  return (
    <svg ref={svgRef} xmlns="http://www.w3.org/2000/svg" viewBox={`0 0 ${W} ${H}`} width={W} height={H} className="scatter" role="img" aria-label="Attack success against over-refusal">
      <rect x={0} y={0} width={W} height={H} fill="#ffffff" />
      {ticks.map((t) => (
        <g key={t}>
          <line x1={x(t)} x2={x(t)} y1={y(0)} y2={y(1)} stroke="#e5e7eb" />
          <line x1={x(0)} x2={x(1)} y1={y(t)} y2={y(t)} stroke="#e5e7eb" />
          <text x={x(t)} y={H - M.bottom + 16} fontSize={11} textAnchor="middle" fill="#5b6675">
            {pct(t, 0)}
          </text>
          <text x={M.left - 6} y={y(t) + 4} fontSize={11} textAnchor="end" fill="#5b6675">
            {pct(t, 0)}
          </text>
        </g>
      ))}
      <text x={(x(0) + x(1)) / 2} y={H - 8} fontSize={12} textAnchor="middle" fill="#1c2430">
        Over-refusal (benign prompts refused) →
      </text>
      <text transform={`translate(14 ${(y(0) + y(1)) / 2}) rotate(-90)`} fontSize={12} textAnchor="middle" fill="#1c2430">
        Attack success (harmful prompts answered) →
      </text>
      {rows.map((r) => {
        const ox = r.overRefusal.rate ?? 0;
        const oy = r.attackSuccess.rate ?? 0;
        const util = r.task.rate;
        return (
          <g key={r.runId} data-run-id={r.runId}>
            {r.attackSuccess.low !== null && r.attackSuccess.high !== null && (
              <line x1={x(ox)} x2={x(ox)} y1={y(r.attackSuccess.low)} y2={y(r.attackSuccess.high)} stroke="#2457c5" strokeOpacity={0.4} />
            )}
            {r.overRefusal.low !== null && r.overRefusal.high !== null && (
              <line x1={x(r.overRefusal.low)} x2={x(r.overRefusal.high)} y1={y(oy)} y2={y(oy)} stroke="#2457c5" strokeOpacity={0.4} />
            )}
            <circle cx={x(ox)} cy={y(oy)} r={util === null ? 5 : 4 + 8 * util} fill="#2457c5" fillOpacity={0.8}>
              <title>{`#${r.runId} ${r.name}: attack success ${pct(oy)}, over-refusal ${pct(ox)}, task ${pct(util)}`}</title>
            </circle>
            <text x={x(ox) + 8} y={y(oy) - 8} fontSize={11} fill="#1c2430">
              #{r.runId}
              {util !== null ? ` (task ${pct(util, 0)})` : ''}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

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

function svgBlob(svg: SVGSVGElement): Blob {
  return new Blob([new XMLSerializer().serializeToString(svg)], { type: 'image/svg+xml' });
}

async function toPng(svg: SVGSVGElement): Promise<Blob> {
  const url = URL.createObjectURL(svgBlob(svg));
  try {
    const img = new Image();
    img.src = url;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = W * 2;
    canvas.height = H * 2;
    const g = canvas.getContext('2d')!;
    g.scale(2, 2);
    g.drawImage(img, 0, 0, W, H);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('PNG export failed'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}

function download(name: string, blob: Blob): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
