import { useEffect, useState } from 'react';
import type { Job } from '../../../../shared/domain';
import { useCall, useEvent } from '../../api/hooks';
import { Card, EmptyState, ErrorBanner } from '../../components/ui';
import type { TabProps } from '../types';
import { TrainForm } from './TrainForm';
import { TrainRun } from './TrainRun';

/** Train: LoRA fine-tuning with a safety-preserving method, live loss, resumable, adapter at the end. */
export function TrainTab({ project }: TabProps) {
  const jobs = useCall('jobs.list', { projectId: project.id, limit: 50 }, [project.id]);
  // training runs and the merged-model exports started from them
  const [runs, setRuns] = useState<Job[]>([]);
  useEffect(() => setRuns((jobs.data ?? []).filter((j) => j.type === 'train.run' || j.type === 'model.merge')), [jobs.data]);
  useEvent('job.updated', (j) => {
    if ((j.type !== 'train.run' && j.type !== 'model.merge') || j.projectId !== project.id) return;
    setRuns((l) => (l.some((x) => x.id === j.id) ? l.map((x) => (x.id === j.id ? j : x)) : [j, ...l]));
  });
  const merges = runs.filter((j) => j.type === 'model.merge');
  return (
    <>
      <TrainForm projectId={project.id} />
      <Card title="Training runs">
        <ErrorBanner error={jobs.error} />
        {runs.every((j) => j.type !== 'train.run') ? (
          <EmptyState title="No training runs yet">Start one above; its loss curve appears here live.</EmptyState>
        ) : (
          runs
            .filter((j) => j.type === 'train.run')
            .map((j) => <TrainRun key={j.id} job={j} merge={latestMergeOf(j, merges)} />)
        )}
      </Card>
    </>
  );
}

/** The newest merged-model export of a run's adapter, if any. */
function latestMergeOf(run: Job, merges: Job[]): Job | null {
  const adapter = (run.result as { adapterPath?: string } | null)?.adapterPath;
  if (!adapter) return null;
  return merges.filter((m) => (m.params as { adapterPath?: string }).adapterPath === adapter).sort((a, b) => b.id - a.id)[0] ?? null;
}
