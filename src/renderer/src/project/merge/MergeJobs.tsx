/** The merges started from the Merge tab: progress (bytes read and time left), cancel, and the merged model once it is in the Models list. */
import type { Job } from '../../../../shared/domain';
import type { MergeRunResult } from '../../../../shared/merge';
import type { RegisteredModel } from '../../../../shared/models';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { Badge, Button, Card, ErrorBanner, ProgressBar } from '../../components/ui';

const TONE = { succeeded: 'success', failed: 'danger', running: 'info', cancelled: 'warning' } as const;

export function MergeJobs({ jobs, models }: { jobs: readonly Job[]; models: readonly RegisteredModel[] }) {
  if (jobs.length === 0) return null;
  return (
    <Card title="Merges">
      {jobs.map((j) => (
        <MergeJob key={j.id} job={j} model={models.find((m) => m.path === (j.result as MergeRunResult | null)?.outPath) ?? null} />
      ))}
    </Card>
  );
}

function MergeJob({ job, model }: { job: Job; model: RegisteredModel | null }) {
  const cancel = useAction(() => api.call('jobs.cancel', { id: job.id }));
  const resume = useAction(() => api.call('jobs.resume', { id: job.id }));
  const result = job.state === 'succeeded' ? (job.result as MergeRunResult) : null;
  const active = job.state === 'queued' || job.state === 'running';
  return (
    <section className="merge-job" data-job-id={job.id} aria-label={`Merge #${job.id}`}>
      <div className="job-top">
        <strong>
          #{job.id} {job.title}
        </strong>
        <Badge tone={TONE[job.state as keyof typeof TONE] ?? 'neutral'}>{job.state}</Badge>
        {active && (
          <Button variant="ghost" onClick={() => void cancel.run()} busy={cancel.pending}>
            Cancel
          </Button>
        )}
        {(job.state === 'failed' || job.state === 'cancelled') && (
          <Button variant="ghost" onClick={() => void resume.run()} busy={resume.pending}>
            Retry
          </Button>
        )}
      </div>
      {active && (
        <>
          <ProgressBar fraction={job.progress.fraction} label={`Merge #${job.id} progress`} />
          <p className="muted small merge-progress">{job.progress.message || 'queued'}</p>
        </>
      )}
      {job.error && <p className="field-error">{job.error}</p>}
      {result && (
        <p className="muted small merge-result">
          Merged model: <code>{result.outPath}</code> — {result.tensors} tensors, {(result.bytesWritten / 2 ** 20).toFixed(2)} MiB written in{' '}
          {result.seconds.toFixed(1)} s.{' '}
          {model ? <span className="merge-listed">In the Models list as {model.info.name}.</span> : <span>Adding it to the Models list…</span>}
        </p>
      )}
      <ErrorBanner error={cancel.error ?? resume.error} />
    </section>
  );
}
