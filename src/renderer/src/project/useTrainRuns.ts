/** A project's finished training runs, loaded and kept current as jobs finish (see ./trainRuns). */
import { useCall, useEvent } from '../api/hooks';
import { finishedTrainRuns, type FinishedTrainRun } from './trainRuns';

/** The project's finished training runs, kept current as jobs finish. */
export function useFinishedTrainRuns(projectId: number): {
  runs: FinishedTrainRun[] | undefined;
  selections: readonly { id: number; name: string; method: string }[];
} {
  const jobs = useCall('jobs.list', { projectId, states: ['succeeded'], limit: 1000 }, [projectId]);
  const selections = useCall('select.list', { projectId }, [projectId]);
  useEvent('job.updated', (j) => j.projectId === projectId && j.type === 'train.run' && j.state === 'succeeded' && jobs.reload());
  return { runs: jobs.data && selections.data ? finishedTrainRuns(jobs.data, selections.data) : undefined, selections: selections.data ?? [] };
}
