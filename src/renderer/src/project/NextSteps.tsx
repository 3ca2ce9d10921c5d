/** The project's checklist of next steps (see ./checklist), each with a link to the tab that does it; folded once all are done. Read again on every tab switch (the page mounts it per tab). */
import { Link } from 'react-router';
import { useCall, useEvent } from '../api/hooks';
import { checklist } from './checklist';
import { useFinishedTrainRuns } from './useTrainRuns';

export function NextSteps({ projectId }: { projectId: number }) {
  const datasets = useCall('data.datasets', { projectId }, [projectId]);
  const evalRuns = useCall('eval.runs', { projectId }, [projectId]);
  const { runs, selections } = useFinishedTrainRuns(projectId);
  useEvent('job.updated', (j) => {
    if (j.projectId !== projectId || j.state !== 'succeeded') return;
    if (j.type === 'data.import' || j.type === 'data.analyse') datasets.reload();
    if (j.type === 'eval.run') evalRuns.reload();
  });
  if (!datasets.data || !evalRuns.data || !runs) return null;
  const steps = checklist({
    datasets: datasets.data,
    savedSelections: selections.length,
    finishedTrainRuns: runs.length,
    evalRuns: evalRuns.data.map((r) => ({ results: r.results, adapter: !!(r.params as { model?: { adapterPath?: string } }).model?.adapterPath })),
  });
  const done = steps.filter((s) => s.done).length;
  return (
    <details className="next-steps" open={done < steps.length}>
      <summary>
        Next steps: {done} of {steps.length} done
      </summary>
      <ol className="small">
        {steps.map((s) => (
          <li key={s.id} data-step={s.id} data-done={s.done}>
            {s.done ? '✓' : '○'} {s.done ? s.label : <Link to={`/projects/${projectId}/${s.tab}`}>{s.label}</Link>}
          </li>
        ))}
      </ol>
    </details>
  );
}
