/**
 * Compare → Experiment grids: a grid's progress per cell (arm × seed: its step and that step's job
 * state), its results per arm over seeds (mean with 95% interval) as the papers' table — exported as
 * CSV or LaTeX — and the trade-off scatter (one point per arm with its intervals). Refetched when
 * the grid moves on; a new grid is started from the form here.
 */
import { useRef, useState } from 'react';
import { experimentColumns, experimentCsv, experimentLatex, type Estimate, type Experiment } from '../../../../shared/experiments';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { Button, Card, ErrorBanner, ProgressBar, SelectField } from '../../components/ui';
import { download, svgBlob } from '../compare/download';
import { exportFileName } from '../compare/exportName';
import { pct, shortRate } from '../format';
import { GridForm } from './GridForm';
import { TradeOff } from './TradeOff';

/** "12.5% [3–22]" */
export const estimateText = (e: Estimate) => (e.mean === null ? '—' : `${pct(e.mean)} [${pct(e.low, 0)}–${pct(e.high, 0)}]`);

export function ExperimentGrids({ projectId, projectName }: { projectId: number; projectName: string }) {
  const grids = useCall('experiment.list', { projectId }, [projectId]);
  useEvent('experiment.changed', (e) => e.projectId === projectId && grids.reload());
  const [chosen, setChosen] = useState('');
  const [creating, setCreating] = useState(false);
  const list = grids.data ?? [];
  const grid = list.find((g) => String(g.id) === chosen) ?? list[0];
  return (
    <Card
      title="Experiment grids"
      actions={
        <Button variant="ghost" onClick={() => setCreating((c) => !c)}>
          {creating ? 'Close the form' : 'New grid…'}
        </Button>
      }
    >
      <ErrorBanner error={grids.error} />
      {creating && (
        <GridForm
          projectId={projectId}
          onStarted={(id) => {
            setCreating(false);
            setChosen(String(id));
            grids.reload();
          }}
        />
      )}
      {list.length === 0 && !creating && (
        <p className="muted small">
          No grids yet: a grid trains each method at each budget and seed, evaluates every run, and summarises each arm over its seeds.
        </p>
      )}
      {grid && (
        <>
          <SelectField
            label="Grid"
            value={String(grid.id)}
            options={list.map((g) => ({ value: String(g.id), label: `#${g.id} ${g.name}` }))}
            onChange={setChosen}
          />
          <GridView key={grid.id} grid={grid} projectName={projectName} />
        </>
      )}
    </Card>
  );
}

function GridView({ grid, projectName }: { grid: Experiment; projectName: string }) {
  // the summary follows the grid: refetched whenever a cell moves on
  const summary = useCall('experiment.summary', { id: grid.id }, [grid.id, grid.done]);
  const cancel = useAction(() => api.call('experiment.cancel', { id: grid.id }));
  const svgRef = useRef<SVGSVGElement>(null);
  const cols = summary.data ? experimentColumns(summary.data) : [];
  const file = (what: string, ext: string) => exportFileName(projectName, `${grid.name} ${what}`, ext);
  return (
    <div className="grid-view" data-experiment-id={grid.id} data-state={grid.state}>
      <ErrorBanner error={summary.error ?? cancel.error} />
      <ProgressBar
        fraction={grid.cells.length ? grid.done / grid.cells.length : null}
        label={`${grid.done} of ${grid.cells.length} runs done (${grid.state})`}
      />
      {grid.state === 'running' && (
        <Button variant="danger" busy={cancel.pending} onClick={() => void cancel.run()}>
          Cancel grid
        </Button>
      )}
      <details open={grid.state !== 'done'}>
        <summary>Runs (arm × seed)</summary>
        <table className="table metrics" aria-label="Grid cells">
          <thead>
            <tr>
              <th scope="col">Arm</th>
              <th scope="col">Seed</th>
              <th scope="col">Step</th>
              <th scope="col">Attack success</th>
              <th scope="col">Over-refusal</th>
            </tr>
          </thead>
          <tbody>
            {grid.cells.map((c) => (
              <tr key={`${c.arm}/${c.seed}`} data-stage={c.stage} data-state={c.state}>
                <td>{c.arm}</td>
                <td>{c.seed}</td>
                <td>{c.stage === 'done' ? 'done' : `${c.stage} · ${c.state}`}</td>
                <td>{shortRate(c.summary?.attackSuccess)}</td>
                <td>{shortRate(c.summary?.overRefusal)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      {summary.data && summary.data.arms.some((a) => a.seeds > 0) && (
        <>
          <div className="actions">
            <Button variant="ghost" onClick={() => download(file('per arm', 'csv'), new Blob([experimentCsv(summary.data!)], { type: 'text/csv' }))}>
              Export CSV
            </Button>
            <Button variant="ghost" onClick={() => download(file('per arm', 'tex'), new Blob([experimentLatex(summary.data!)], { type: 'application/x-tex' }))}>
              Export LaTeX
            </Button>
            <Button variant="ghost" onClick={() => svgRef.current && download(file('trade-off', 'svg'), svgBlob(svgRef.current))}>
              Export SVG
            </Button>
          </div>
          <table className="table metrics" aria-label="Grid results per arm">
            <thead>
              <tr>
                <th scope="col">Arm</th>
                <th scope="col">Seeds</th>
                <th scope="col">Attack success</th>
                <th scope="col">Over-refusal</th>
                <th scope="col">Task score</th>
                {cols.map((c) => (
                  <th key={c.title} scope="col">
                    {c.title}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {summary.data.arms.map((a) => (
                <tr key={a.arm} data-arm={a.arm}>
                  <td>{a.arm}</td>
                  <td>{a.seeds}</td>
                  <td>{estimateText(a.attackSuccess)}</td>
                  <td>{estimateText(a.overRefusal)}</td>
                  <td>{estimateText(a.task)}</td>
                  {cols.map((c) => (
                    <td key={c.title}>{estimateText(c.pick(a))}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          <p className="muted small">Mean over seeds with its 95% interval (Student t over the seeds; one seed: its Wilson interval).</p>
          <TradeOff summary={summary.data} svgRef={svgRef} />
        </>
      )}
    </div>
  );
}
