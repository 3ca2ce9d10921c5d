import type { Job } from '../../shared/domain';
import type { Services } from '../app/services';
import type { CliIo } from './command';

/** Runs a queued job in this process, printing progress to stderr; Ctrl-C cancels it. */
export async function runJobToEnd(s: Services, id: number, io: CliIo): Promise<Job> {
  let lastLine = '';
  const off = s.events.on('job.updated', (j) => {
    if (j.id !== id) return;
    const pct = j.progress.fraction === null ? '' : `${Math.round(j.progress.fraction * 100)}% `;
    const line = `[job ${id}] ${j.state} ${pct}${j.progress.message}`;
    if (line !== lastLine) io.err(line);
    lastLine = line;
  });
  const onSigint = () => {
    io.err(`[job ${id}] cancelling…`);
    s.jobs.cancel(id);
  };
  process.once('SIGINT', onSigint);
  try {
    const job = await s.jobs.waitFor(id, 7 * 24 * 3600 * 1000);
    if (job.state === 'failed') io.err(`[job ${id}] failed: ${job.error}`);
    return job;
  } finally {
    off();
    process.off('SIGINT', onSigint);
  }
}
