import { useRef, useState } from 'react';
import { api } from '../../api/client';
import { useAction, useCall, useJobStateChange } from '../../api/hooks';
import { Button, CheckboxGroup, Card, EmptyState, ErrorBanner, Spinner } from '../../components/ui';
import { rateText } from '../format';
import type { TabProps } from '../types';
import { CategoryHeatmap } from './CategoryHeatmap';
import { download, svgBlob, toPng } from './download';
import { exportFileName } from './exportName';
import { Scatter } from './Scatter';
import { SweepCurves } from './SweepCurve';
import { ExperimentGrids } from '../grids/ExperimentGrids';
import { toCsv, type CompareRow as Row } from './compareCsv';

/**
 * Compare: safety vs over-refusal vs utility across runs, as a table and a scatter; CSV/SVG/PNG
 * export. The list of runs follows the project's evaluations as they start and finish (those a
 * merge sweep queues too), without leaving the tab.
 */
export function CompareTab({ project }: TabProps) {
  const runs = useCall('eval.runs', { projectId: project.id }, [project.id]);
  useJobStateChange((j) => j.projectId === project.id && j.type === 'eval.run', runs.reload);
  const [chosen, setChosen] = useState<number[] | null>(null);
  const [rows, setRows] = useState<Row[] | null>(null);
  const svgRef = useRef<SVGSVGElement>(null);
  const ids = chosen ?? (runs.data ?? []).map((r) => r.id);
  const compare = useAction(async () => setRows(await api.call('eval.compare', { ids })));

  if (runs.loading && !runs.data) return <Spinner label="Loading runs" />;
  if (!runs.data || runs.data.length === 0) {
    return (
      <>
        <Card title="Compare runs">
          <EmptyState title="Nothing to compare yet">Run evaluations in the Evaluate tab first.</EmptyState>
        </Card>
        <SweepCurves projectId={project.id} />
        <ExperimentGrids projectId={project.id} projectName={project.name} />
      </>
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
              <Button
                variant="ghost"
                onClick={() => download(exportFileName(project.name, 'runs compared', 'csv'), new Blob([toCsv(rows)], { type: 'text/csv' }))}
              >
                Export CSV
              </Button>
              <Button
                variant="ghost"
                onClick={() => svgRef.current && download(exportFileName(project.name, 'attack success vs over-refusal', 'svg'), svgBlob(svgRef.current))}
              >
                Export SVG
              </Button>
              <Button
                variant="ghost"
                onClick={() =>
                  svgRef.current && void toPng(svgRef.current).then((b) => download(exportFileName(project.name, 'attack success vs over-refusal', 'png'), b))
                }
              >
                Export PNG
              </Button>
            </>
          }
        >
          <table className="table metrics" aria-label="Comparison">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Model</th>
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
                  <td>{r.model}</td>
                  <td>{r.judge ?? '—'}</td>
                  <td>{rateText(r.attackSuccess)}</td>
                  <td>{rateText(r.refusal)}</td>
                  <td>{rateText(r.overRefusal)}</td>
                  <td>{rateText(r.task)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Scatter rows={rows} svgRef={svgRef} projectName={project.name} />
        </Card>
      )}
      {rows && <CategoryHeatmap rows={rows} projectName={project.name} />}
      <SweepCurves projectId={project.id} />
      <ExperimentGrids projectId={project.id} projectName={project.name} />
    </>
  );
}
