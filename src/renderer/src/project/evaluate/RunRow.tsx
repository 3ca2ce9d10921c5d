import type { EvalRun } from '../../../../shared/eval';
import { Button } from '../../components/ui';
import { shortRate } from '../format';

export function RunRow({ run, onOpen }: { run: EvalRun; onOpen: () => void }) {
  return (
    <tr data-run-id={run.id}>
      <td>
        <strong>{run.name}</strong>
        <div className="muted small">#{run.id}</div>
      </td>
      <td>{run.results}</td>
      <td>{shortRate(run.summary.attackSuccess)}</td>
      <td>{shortRate(run.summary.overRefusal)}</td>
      <td>{shortRate(run.summary.task)}</td>
      <td className="row-actions">
        <Button variant="ghost" onClick={onOpen} aria-label={`Open run ${run.id}`}>
          Open
        </Button>
      </td>
    </tr>
  );
}
