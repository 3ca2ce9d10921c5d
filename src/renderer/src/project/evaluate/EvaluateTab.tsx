import { useState } from 'react';
import type { EvalRun, EvalRunParams } from '../../../../shared/eval';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Card, ErrorBanner, ListState } from '../../components/ui';
import { applyPresets, evalRunPresets } from '../duplicate';
import { useFinishedTrainRuns } from '../useTrainRuns';
import type { TabProps } from '../types';
import { EvalForm } from './EvalForm';
import { RunDetail } from './RunDetail';
import { RunRow } from './RunRow';

/** Evaluate: run suites against a model, read the metrics, inspect and correct verdicts; duplicate or delete a run. */
export function EvaluateTab({ project }: TabProps) {
  const runs = useCall('eval.runs', { projectId: project.id }, [project.id]);
  const models = useCall('models.list', {});
  const { runs: trainRuns } = useFinishedTrainRuns(project.id);
  const [openId, setOpenId] = useState<number | null>(null);
  const [deleting, setDeleting] = useState<EvalRun | null>(null);
  // the form mounts again after "Duplicate settings", reading what was written into its stored fields
  const [formVersion, setFormVersion] = useState(0);
  const reload = runs.reload;
  useEvent('job.updated', (j) => j.projectId === project.id && j.type === 'eval.run' && !['queued'].includes(j.state) && reload());
  const remove = useAction(async (id: number) => {
    await api.call('eval.delete', { id });
    setDeleting(null);
    if (openId === id) setOpenId(null);
    reload();
  });
  const duplicate = (run: EvalRun) => {
    const p = run.params as EvalRunParams;
    applyPresets(evalRunPresets(project.id, p, models.data ?? [], trainRuns ?? []));
    const builtin = p.suites.find((s) => 'builtin' in s);
    if (builtin && 'builtin' in builtin) localStorage.setItem('safetune.evalDataDir', builtin.dataDir);
    if (p.referenceDir) localStorage.setItem('safetune.referenceDir', p.referenceDir);
    setFormVersion((v) => v + 1);
    window.scrollTo({ top: 0 });
  };
  return (
    <>
      <EvalForm key={formVersion} projectId={project.id} />
      <Card title="Evaluation runs">
        <ErrorBanner error={runs.error ?? remove.error} />
        <ListState
          loading={runs.loading}
          items={runs.data}
          loadingLabel="Loading runs"
          emptyTitle="No evaluations yet"
          empty="Start one above: results appear here as examples finish."
        >
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
                  <RunRow key={r.id} run={r} onOpen={() => setOpenId(r.id)} onDuplicate={() => duplicate(r)} onDelete={() => setDeleting(r)} />
                ))}
              </tbody>
            </table>
          )}
        </ListState>
      </Card>
      {openId !== null && <RunDetail id={openId} onChanged={reload} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete run #${deleting.id}?`}
          action="Delete run"
          busy={remove.pending}
          onConfirm={() => void remove.run(deleting.id)}
          onClose={() => setDeleting(null)}
        >
          <p>
            “{deleting.name}” and its {deleting.results} results go, with any verdicts you corrected.
          </p>
        </ConfirmDialog>
      )}
    </>
  );
}
