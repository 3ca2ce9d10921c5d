/** One row of the Jobs panel: progress, elapsed time and ETA, Cancel/Resume (or why not), expandable details. */
import { useState } from 'react';
import type { Job } from '../../../shared/domain';
import { Badge, Button, ProgressBar, formatDate, formatDuration } from '../components/ui';
import { noResumeReason } from './jobView';

const TONE = {
  queued: 'neutral',
  running: 'info',
  succeeded: 'success',
  failed: 'danger',
  cancelled: 'neutral',
  interrupted: 'warning',
} as const;

export function JobRow({ job, now, onAction }: { job: Job; now: number; onAction: (k: 'cancel' | 'resume', id: number) => void }) {
  const [open, setOpen] = useState(false);
  const elapsed = job.state === 'running' ? job.elapsedSeconds + Math.max(0, (now - Date.parse(job.updatedAt)) / 1000) : job.elapsedSeconds;
  const pct = job.progress.fraction === null ? null : Math.round(job.progress.fraction * 100);
  const why = noResumeReason(job);
  const detailsId = `job-details-${job.id}`;
  return (
    <li className="job" data-job-id={job.id} data-state={job.state} data-expanded={open || undefined}>
      <div className="job-top">
        <button type="button" className="job-title" title={job.title} aria-expanded={open} aria-controls={detailsId} onClick={() => setOpen(!open)}>
          <span aria-hidden="true">{open ? '▾' : '▸'}</span> #{job.id} {job.title}
        </button>
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
      {why && (
        <div className="job-meta job-no-resume" title={why}>
          {why}
        </div>
      )}
      {open && (
        <dl className="job-details" id={detailsId}>
          <dt>Title</dt>
          <dd>{job.title}</dd>
          <dt>Type</dt>
          <dd>{job.type}</dd>
          {job.error && (
            <>
              <dt>Error</dt>
              <dd className="job-error">{job.error}</dd>
            </>
          )}
          {!job.error && job.progress.message && (
            <>
              <dt>Last message</dt>
              <dd>{job.progress.message}</dd>
            </>
          )}
          <dt>Started</dt>
          <dd>{job.startedAt ? formatDate(job.startedAt) : 'not yet'}</dd>
          {job.finishedAt && (
            <>
              <dt>Finished</dt>
              <dd>{formatDate(job.finishedAt)}</dd>
            </>
          )}
          <dt>Attempts</dt>
          <dd>{job.attempts}</dd>
        </dl>
      )}
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
