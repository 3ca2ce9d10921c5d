/**
 * The Jobs panel: Resume only where the main process says a retry can succeed, with the reason
 * when it cannot; the state and type filters. Rows rendered to static markup (no DOM).
 */
import { createElement as h } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import type { Job } from '../../../src/shared/domain';
import { JobRow } from '../../../src/renderer/src/jobs/JobRow';
import { ALL_JOBS, filterJobs, jobStateChanged, jobTypes, noResumeReason } from '../../../src/renderer/src/jobs/jobView';

function job(over: Partial<Job>): Job {
  return {
    id: 7,
    projectId: null,
    type: 'data.import',
    title: 'Import /data/pool.jsonl',
    state: 'failed',
    params: {},
    progress: { fraction: 0.4, message: 'read 400 rows' },
    result: null,
    error: null,
    failure: null,
    resumable: false,
    createdAt: '2026-12-01T10:00:00.000Z',
    startedAt: '2026-12-01T10:00:01.000Z',
    finishedAt: '2026-12-01T10:00:09.000Z',
    updatedAt: '2026-12-01T10:00:09.000Z',
    elapsedSeconds: 8,
    etaSeconds: null,
    attempts: 1,
    ...over,
  };
}

const row = (j: Job) => renderToStaticMarkup(h(JobRow, { job: j, now: Date.parse(j.updatedAt), onAction: () => {} }));

describe('Jobs panel rows', () => {
  it('offers Resume for a failure a retry may fix, and none (with the reason) for a missing input or out of memory', () => {
    const glitch = row(job({ error: 'the disk hiccuped', failure: 'error', resumable: true }));
    expect(glitch).toContain('aria-label="Resume job 7"');
    expect(glitch).not.toContain('Not resumable');

    const missing = row(job({ error: 'Cannot read /data/pool.jsonl: ENOENT: no such file or directory', failure: 'invalid_input' }));
    expect(missing).not.toContain('Resume job 7');
    expect(missing).toContain('Not resumable: an input is missing, at a bad path or cannot be used, and would fail the same way. Fix it and start a new job.');

    const oom = row(job({ error: 'ran out of memory (limit 2048 MB)', failure: 'out_of_memory' }));
    expect(oom).not.toContain('Resume job 7');
    expect(oom).toContain('Not resumable: it ran out of memory and would again.');
  });

  it('words no reason for jobs that did not fail or may be resumed', () => {
    expect(noResumeReason(job({ state: 'succeeded', resumable: false }))).toBeNull();
    expect(noResumeReason(job({ state: 'interrupted', resumable: true }))).toBeNull();
    expect(noResumeReason(job({ failure: 'error', resumable: true }))).toBeNull();
  });

  it('shows the full title on the row button, collapsed until clicked', () => {
    const html = row(job({ title: 'Analyse data set 3 with a very long title that the row cuts short' }));
    expect(html).toContain('title="Analyse data set 3 with a very long title that the row cuts short"');
    expect(html).toContain('aria-expanded="false"');
    expect(html).not.toContain('<dl');
  });
});

describe('Jobs panel filters', () => {
  const jobs = [
    job({ id: 6, state: 'running', type: 'train.run' }),
    job({ id: 5, state: 'queued', type: 'data.analyse' }),
    job({ id: 4, state: 'interrupted', type: 'train.run' }),
    job({ id: 3, state: 'failed', type: 'data.import' }),
    job({ id: 2, state: 'cancelled', type: 'train.run' }),
    job({ id: 1, state: 'succeeded', type: 'data.import' }),
  ];
  const ids = (f: Parameters<typeof filterJobs>[1]) => filterJobs(jobs, f).map((j) => j.id);

  it('filters by state group and by type, keeping the order', () => {
    expect(ids(ALL_JOBS)).toEqual([6, 5, 4, 3, 2, 1]);
    expect(ids({ state: 'active', type: 'all' })).toEqual([6, 5]);
    expect(ids({ state: 'interrupted', type: 'all' })).toEqual([4]);
    expect(ids({ state: 'failed', type: 'all' })).toEqual([3]);
    expect(ids({ state: 'finished', type: 'all' })).toEqual([3, 2, 1]);
    expect(ids({ state: 'all', type: 'train.run' })).toEqual([6, 4, 2]);
    expect(ids({ state: 'finished', type: 'train.run' })).toEqual([2]);
    expect(ids({ state: 'failed', type: 'train.run' })).toEqual([]);
  });

  it('lists the types present once each, sorted', () => {
    expect(jobTypes(jobs)).toEqual(['data.analyse', 'data.import', 'train.run']);
  });
});

describe('following job states (Compare refreshes its runs when an evaluation starts or finishes)', () => {
  it('reports a change of state once, not every progress update', () => {
    const seen = new Map<number, Job['state']>();
    const updates: Pick<Job, 'id' | 'state'>[] = [
      { id: 4, state: 'queued' },
      { id: 4, state: 'running' },
      { id: 4, state: 'running' },
      { id: 5, state: 'running' },
      { id: 4, state: 'running' },
      { id: 4, state: 'succeeded' },
      { id: 5, state: 'failed' },
    ];
    expect(updates.map((u) => jobStateChanged(seen, u))).toEqual([true, true, false, true, false, true, true]);
  });
});
