import type { EvalRun } from '../../../../shared/eval';
import { Badge, Button } from '../../components/ui';
import { shortRate } from '../format';

/** One evaluation run in the runs table: its name, counts, headline rates, suites it left out; Open, Duplicate settings and Delete. */
export function RunRow({ run, onOpen, onDuplicate, onDelete }: { run: EvalRun; onOpen: () => void; onDuplicate: () => void; onDelete: () => void }) {
  return (
    <tr data-run-id={run.id}>
      <td>
        <strong>{run.name}</strong>
        <div className="muted small">
          #{run.id}
          {run.failedSuites.length > 0 && (
            <>
              {' '}
              <Badge tone="warning">
                {run.failedSuites.length} suite{run.failedSuites.length > 1 ? 's' : ''} failed
              </Badge>
            </>
          )}
        </div>
      </td>
      <td>{run.results}</td>
      <td>{shortRate(run.summary.attackSuccess)}</td>
      <td>{shortRate(run.summary.overRefusal)}</td>
      <td>{shortRate(run.summary.task)}</td>
      <td className="row-actions">
        <Button variant="ghost" onClick={onOpen} aria-label={`Open run ${run.id}`} disabled={run.results === 0}>
          Open
        </Button>
        <Button
          variant="ghost"
          onClick={onDuplicate}
          aria-label={`Duplicate the settings of run ${run.id}`}
          title="Fill the form above with this run's settings"
        >
          Duplicate settings
        </Button>
        <Button variant="ghost" onClick={onDelete} aria-label={`Delete run ${run.id}`}>
          Delete
        </Button>
      </td>
    </tr>
  );
}
