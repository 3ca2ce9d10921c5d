import { useEffect, useState } from 'react';
import type { Job } from '../../../shared/domain';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Badge, Button, EmptyState, ErrorBanner, ProgressBar, Spinner, formatDuration } from '../components/ui';

const TONE = {
  queued: 'neutral',
  running: 'info',
  succeeded: 'success',
  failed: 'danger',
  cancelled: 'neutral',
  interrupted: 'warning',
} as const;

/** Every background job with live progress, elapsed time and ETA; cancel and resume. */
export function JobsPanel() {
  const { data, error, loading, reload } = useCall('jobs.list', { limit: 50 });
  const [jobs, setJobs] = useState<Job[]>([]);
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (data) setJobs(data);
  }, [data]);
  useEvent('job.updated', (job) =>
    setJobs((list) => {
      const i = list.findIndex((j) => j.id === job.id);
      if (i === -1) return [job, ...list].slice(0, 50);
      const next = list.slice();
      next[i] = job;
      return next;
    }),
  );
  useEvent('projects.changed', reload);
  // Tick elapsed time of running jobs between progress events.
  const running = jobs.some((j) => j.state === 'running');
  useEffect(() => {
    if (!running) return;
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [running]);

  const act = useAction(async (kind: 'cancel' | 'resume', id: number) => {
    const job = kind === 'cancel' ? await api.call('jobs.cancel', { id }) : await api.call('jobs.resume', { id });
    setJobs((list) => list.map((j) => (j.id === id ? job : j)));
  });

  const interrupted = jobs.filter((j) => j.state === 'interrupted');
  return (
    <aside className="jobs-panel" aria-label="Jobs">
      <header className="jobs-header">
        <h2>Jobs</h2>
        <Button variant="ghost" onClick={reload} aria-label="Refresh jobs">
          ↻
        </Button>
      </header>
      {interrupted.length > 0 && (
        <div className="banner banner-warning" role="status">
          {interrupted.length} job{interrupted.length > 1 ? 's were' : ' was'} interrupted when the app stopped. Resume
          continues from the last checkpoint.
        </div>
      )}
      <ErrorBanner error={error ?? act.error} onDismiss={act.error ? act.clearError : undefined} />
      {loading && jobs.length === 0 ? (
        <Spinner label="Loading jobs" />
      ) : jobs.length === 0 ? (
        <EmptyState title="No jobs yet">Long work (imports, embeddings, training, evaluation) appears here.</EmptyState>
      ) : (
        <ul className="jobs-list">
          {jobs.map((j) => (
            <JobRow key={j.id} job={j} now={now} onAction={act.run} />
          ))}
        </ul>
      )}
    </aside>
  );
}

function JobRow({ job, now, onAction }: { job: Job; now: number; onAction: (k: 'cancel' | 'resume', id: number) => void }) {
  const elapsed =
    job.state === 'running' ? job.elapsedSeconds + Math.max(0, (now - Date.parse(job.updatedAt)) / 1000) : job.elapsedSeconds;
  const pct = job.progress.fraction === null ? null : Math.round(job.progress.fraction * 100);
  return (
    <li className="job" data-job-id={job.id} data-state={job.state}>
      <div className="job-top">
        <span className="job-title" title={job.title}>
          #{job.id} {job.title}
        </span>
        <Badge tone={TONE[job.state]}>{job.state}</Badge>
      </div>
      <ProgressBar
        fraction={job.state === 'succeeded' ? 1 : job.state === 'running' ? job.progress.fraction : (job.progress.fraction ?? 0)}
        label={`Progress of job ${job.id}`}
      />
      <div className="job-meta">
        <span className="job-percent">{job.state === 'succeeded' ? '100%' : pct === null ? '' : `${pct}%`}</span>
        <span className="job-message">{job.error ?? job.progress.message}</span>
      </div>
      <div className="job-meta">
        <span>elapsed {formatDuration(elapsed)}</span>
        {job.state === 'running' && <span>ETA {formatDuration(job.etaSeconds)}</span>}
        <span className="job-actions">
          {['queued', 'running', 'interrupted'].includes(job.state) && (
            <Button variant="ghost" onClick={() => onAction('cancel', job.id)} aria-label={`Cancel job ${job.id}`}>
              Cancel
            </Button>
          )}
          {job.resumable && (
            <Button variant="ghost" onClick={() => onAction('resume', job.id)} aria-label={`Resume job ${job.id}`}>
              Resume
            </Button>
          )}
        </span>
      </div>
    </li>
  );
}
