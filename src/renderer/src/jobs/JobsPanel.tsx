import { useEffect, useState } from 'react';
import type { Job } from '../../../shared/domain';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Button, EmptyState, ErrorBanner, SelectField, Spinner } from '../components/ui';
import { JobRow } from './JobRow';
import { ALL_JOBS, STATE_FILTERS, filterJobs, isFinished, jobTypes, type JobFilter, type StateFilter } from './jobView';

const STATE_OPTIONS = Object.entries(STATE_FILTERS).map(([value, f]) => ({ value: value as StateFilter, label: f.label }));

/**
 * Every background job with live progress, elapsed time and ETA; cancel, and resume where it can
 * succeed (else the reason why not); a row expands to its full title and error; filters by state
 * and type; "Clear finished" deletes the finished jobs' rows.
 */
export function JobsPanel() {
  const { data, error, loading, reload } = useCall('jobs.list', { limit: 50 });
  const [jobs, setJobs] = useState<Job[]>([]);
  const [now, setNow] = useState(Date.now());
  const [filter, setFilter] = useState<JobFilter>(ALL_JOBS);
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
  const clear = useAction(async () => {
    const { deleted } = await api.call('jobs.clearFinished', {});
    const gone = new Set(deleted);
    setJobs((list) => list.filter((j) => !gone.has(j.id)));
    reload();
  });

  const interrupted = jobs.filter((j) => j.state === 'interrupted');
  const types = jobTypes(jobs);
  const shown = filterJobs(jobs, filter);
  return (
    <aside className="jobs-panel" aria-label="Jobs">
      <header className="jobs-header">
        <h2>Jobs</h2>
        <span className="jobs-header-actions">
          <Button variant="ghost" onClick={() => void clear.run()} busy={clear.pending} disabled={!jobs.some(isFinished)}>
            Clear finished
          </Button>
          <Button variant="ghost" onClick={reload} aria-label="Refresh jobs">
            ↻
          </Button>
        </span>
      </header>
      {jobs.length > 0 && (
        <div className="jobs-filters">
          <SelectField label="State" value={filter.state} options={STATE_OPTIONS} onChange={(state) => setFilter({ ...filter, state })} />
          <SelectField
            label="Type"
            value={filter.type}
            options={[{ value: 'all', label: 'All types' }, ...types.map((t) => ({ value: t, label: t }))]}
            onChange={(type) => setFilter({ ...filter, type })}
          />
        </div>
      )}
      {interrupted.length > 0 && (
        <div className="banner banner-warning" role="status">
          {interrupted.length} job{interrupted.length > 1 ? 's were' : ' was'} interrupted when the app stopped. Resume continues from the last checkpoint.
        </div>
      )}
      <ErrorBanner error={error ?? act.error ?? clear.error} onDismiss={act.error ? act.clearError : clear.error ? clear.clearError : undefined} />
      {loading && jobs.length === 0 ? (
        <Spinner label="Loading jobs" />
      ) : jobs.length === 0 ? (
        <EmptyState title="No jobs yet">Long work (imports, embeddings, training, evaluation) appears here.</EmptyState>
      ) : shown.length === 0 ? (
        <EmptyState title="No jobs match">
          <Button variant="ghost" onClick={() => setFilter(ALL_JOBS)}>
            Show all jobs
          </Button>
        </EmptyState>
      ) : (
        <ul className="jobs-list">
          {shown.map((j) => (
            <JobRow key={j.id} job={j} now={now} onAction={act.run} />
          ))}
        </ul>
      )}
    </aside>
  );
}
