import { useState } from 'react';
import { useCall, useEvent } from '../../api/hooks';
import { Card, ErrorBanner, ListState } from '../../components/ui';
import type { TabProps } from '../types';
import { EvalForm } from './EvalForm';
import { RunDetail } from './RunDetail';
import { RunRow } from './RunRow';

/** Evaluate: run suites against a model, read the metrics, inspect and correct verdicts. */
export function EvaluateTab({ project }: TabProps) {
  const runs = useCall('eval.runs', { projectId: project.id }, [project.id]);
  const [openId, setOpenId] = useState<number | null>(null);
  const reload = runs.reload;
  useEvent('job.updated', (j) => j.projectId === project.id && j.type === 'eval.run' && !['queued'].includes(j.state) && reload());
  return (
    <>
      <EvalForm projectId={project.id} />
      <Card title="Evaluation runs">
        <ErrorBanner error={runs.error} />
        <ListState loading={runs.loading} items={runs.data} loadingLabel="Loading runs" emptyTitle="No evaluations yet" empty="Start one above: results appear here as examples finish.">
          {(list) => (
          <table className="table" aria-label="Evaluation runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Examples</th>
                <th scope="col">Attack success (harmful)</th>
                <th scope="col">Over-refusal</th>
                <th scope="col">Task score</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <RunRow key={r.id} run={r} onOpen={() => setOpenId(r.id)} />
              ))}
            </tbody>
          </table>
          )}
        </ListState>
      </Card>
      {openId !== null && <RunDetail id={openId} onChanged={reload} />}
    </>
  );
}
