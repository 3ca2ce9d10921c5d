/**
 * Following a group of jobs (a merge sweep, an experiment grid): when one of its jobs ends, the
 * group's next steps are queued — batched per tick, so a burst of job updates advances each group
 * once — and at start-up every unfinished group is advanced, picking up what a closed app left.
 */
import { AppError } from '../../shared/errors';
import type { Job } from '../../shared/domain';
import type { Services } from './types';

export interface JobGroupFollower {
  /** what a group is called in a log line ("sweep", "experiment") */
  what: string;
  /** the group a job belongs to, or null */
  groupOfJob: (jobId: number) => number | null;
  /** groups that may still have steps to queue */
  unfinished: () => readonly { id: number }[];
  /** queues the group's next steps, then says the group changed */
  advance: (id: number) => void;
  /** called for every ended job of a group before its group is advanced */
  onJobEnded?: (job: Job) => void;
}

/** Starts following; returns the function that stops it. */
export function followJobGroups(s: Services, f: JobGroupFollower): () => void {
  const pending = new Set<number>();
  let scheduled = false;
  let stopped = false;
  const flush = () => {
    scheduled = false;
    for (const id of [...pending]) {
      pending.delete(id);
      if (stopped) return;
      try {
        f.advance(id);
      } catch (e) {
        // the runner is closing, or the group's project was deleted: the next start picks it up
        if (!(e instanceof AppError)) console.error(`${f.what} ${id}: cannot queue its next step:`, e);
      }
    }
  };
  const later = (id: number) => {
    pending.add(id);
    if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };
  const off = s.events.on('job.updated', (job) => {
    if (job.state === 'queued' || job.state === 'running') return;
    const id = f.groupOfJob(job.id);
    if (id === null) return;
    f.onJobEnded?.(job);
    later(id);
  });
  for (const row of f.unfinished()) later(row.id);
  return () => {
    stopped = true;
    off();
  };
}
