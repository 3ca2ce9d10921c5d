import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { Job } from '../../../src/shared/domain';
import type { Services } from '../../../src/main/app/services';
import { fingerprintFile } from '../../../src/main/data/fingerprint';
import { DEFAULT_JOB_HEAP_MB } from '../../../src/main/jobs/define';
import { tempDir, testServices } from '../../helpers/services';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

function setup(opts: Parameters<typeof testServices>[1] = {}): { s: Services; dir: string } {
  const t = tempDir();
  const s = testServices(t.dir, opts);
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir };
}

function recordUpdates(s: Services, id: number): Job[] {
  const seen: Job[] = [];
  s.events.on('job.updated', (j) => j.id === id && seen.push(j));
  return seen;
}

function steps(s: Services, jobId: number): number[] {
  s.db.exec('CREATE TABLE IF NOT EXISTS test_steps (job_id INTEGER NOT NULL, step INTEGER NOT NULL)');
  return (s.db.prepare('SELECT step FROM test_steps WHERE job_id = ? ORDER BY rowid').all(jobId) as { step: number }[]).map((r) => r.step);
}

describe('job runner', () => {
  it('runs a job in a worker thread and streams progress to 100%', async () => {
    const { s } = setup();
    const job = s.jobs.enqueue('test.steps', { steps: 10, stepMs: 30 });
    const updates = recordUpdates(s, job.id);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('succeeded');
    expect(done.progress.fraction).toBe(1);
    expect(done.result).toEqual({ steps: 10, resumedFrom: 0 });
    const fractions = updates.map((u) => u.progress.fraction).filter((f): f is number => f !== null);
    expect(fractions.length).toBeGreaterThan(2);
    expect([...fractions].sort((a, b) => a - b)).toEqual(fractions); // never goes backwards
    expect(updates.some((u) => u.state === 'running' && u.progress.fraction! > 0 && u.progress.fraction! < 1)).toBe(true);
    expect(steps(s, job.id)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(done.elapsedSeconds).toBeGreaterThan(0.2);
    const kinds = s.jobs.events(job.id, 100).map((e) => e.message);
    expect(kinds).toEqual(expect.arrayContaining(['queued', 'running', 'succeeded']));
  });

  it("gives a job type's worker the young-generation cap it declares, and others V8's default", async () => {
    const { s } = setup();
    const capped = await s.jobs.waitFor(s.jobs.enqueue('test.limits', {}).id);
    const plain = await s.jobs.waitFor(s.jobs.enqueue('test.nolimits', {}).id);
    const young = (j: Job) => (j.result as { maxYoungGenerationSizeMb: number }).maxYoungGenerationSizeMb;
    expect(capped.state).toBe('succeeded');
    expect(young(capped)).toBe(3);
    expect(young(plain)).toBeGreaterThan(3);
  });

  it("caps every job worker's heap: its job type's cap or the default, and SAFETUNE_JOB_HEAP_MB over both", async () => {
    const heap = (j: Job) => (j.result as { maxOldGenerationSizeMb: number }).maxOldGenerationSizeMb;
    const { s } = setup();
    expect(heap(await s.jobs.waitFor(s.jobs.enqueue('test.limits', {}).id))).toBe(96);
    expect(heap(await s.jobs.waitFor(s.jobs.enqueue('test.nolimits', {}).id))).toBe(DEFAULT_JOB_HEAP_MB);
    process.env.SAFETUNE_JOB_HEAP_MB = '300';
    try {
      const { s: s2 } = setup();
      expect(heap(await s2.jobs.waitFor(s2.jobs.enqueue('test.limits', {}).id))).toBe(300);
      expect(heap(await s2.jobs.waitFor(s2.jobs.enqueue('test.nolimits', {}).id))).toBe(300);
      process.env.SAFETUNE_JOB_HEAP_MB = 'lots';
      expect(() => setup()).toThrowError(/SAFETUNE_JOB_HEAP_MB must be a whole number of megabytes \(at least 64\), got "lots"/);
    } finally {
      delete process.env.SAFETUNE_JOB_HEAP_MB;
    }
  });

  it('fails a job that runs out of memory with its limit, does not resume it, and keeps the app running', async () => {
    const { s } = setup();
    const hog = await s.jobs.waitFor(s.jobs.enqueue('test.hog', { stopAtMb: 600 }).id, 60_000);
    expect(hog.state).toBe('failed');
    expect(hog.error).toMatch(/^ran out of memory \(limit 64 MB\) and was stopped: its input is too large or damaged for this job/);
    expect(hog).toMatchObject({ failure: 'out_of_memory', resumable: false });
    expect(() => s.jobs.resume(hog.id)).toThrowError(new RegExp(`Job ${hog.id} ran out of memory and would again if resumed`));
    expect(s.jobs.get(hog.id).state).toBe('failed');
    // the runner and its process carry on
    expect((await s.jobs.waitFor(s.jobs.enqueue('test.steps', { steps: 2, stepMs: 1 }).id)).state).toBe('succeeded');
  });

  it('does not offer resume for a job that failed on an invalid or missing input, and does after a passing error', async () => {
    const { s } = setup();
    const run = async (kind: string) => s.jobs.waitFor(s.jobs.enqueue('test.badInput', { kind }).id);
    const invalid = await run('invalid');
    expect(invalid).toMatchObject({ state: 'failed', error: '/data/model.gguf: corrupt header', failure: 'invalid_input', resumable: false });
    expect(() => s.jobs.resume(invalid.id)).toThrowError(/failed on input that cannot be used, and would fail the same way if resumed/);
    const missing = await run('missing');
    expect(missing).toMatchObject({ state: 'failed', failure: 'invalid_input', resumable: false });
    expect(missing.error).toMatch(/ENOENT.*\/nonexistent\/safetune\/input\.jsonl/);
    const glitch = await run('glitch');
    expect(glitch).toMatchObject({ state: 'failed', error: 'the disk hiccuped', failure: 'error', resumable: true });
    expect(s.jobs.resume(glitch.id)).toMatchObject({ failure: null, resumable: false });
    // the kind is stored with the job
    expect(s.jobs.list({ limit: 10 }).find((j) => j.id === invalid.id)).toMatchObject({ failure: 'invalid_input', resumable: false });
  });

  it('reports an ETA while running', async () => {
    const { s } = setup();
    const job = s.jobs.enqueue('test.steps', { steps: 20, stepMs: 40 });
    const updates = recordUpdates(s, job.id);
    await s.jobs.waitFor(job.id);
    const etas = updates.filter((u) => u.state === 'running' && u.etaSeconds !== null).map((u) => u.etaSeconds!);
    expect(etas.length).toBeGreaterThan(0);
    expect(Math.max(...etas)).toBeLessThan(5);
  });

  it('validates params with the job type schema before queueing', () => {
    const { s } = setup();
    expect(() => s.jobs.enqueue('test.steps', { steps: 'many' })).toThrowError(/Invalid parameters for test.steps/);
    expect(() => s.jobs.enqueue('no.such', {})).toThrowError(/Unknown job type/);
    expect(s.jobs.list({ limit: 10 })).toHaveLength(0);
  });

  it('records a failing job with its error', async () => {
    const { s } = setup();
    const job = s.jobs.enqueue('test.steps', { steps: 5, stepMs: 1, failAt: 2 });
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toBe('step 2 failed on purpose');
    expect(done).toMatchObject({ failure: 'error', resumable: true });
    expect(steps(s, job.id)).toEqual([0, 1]);
  });

  it('clears finished jobs (with their event logs) and never a queued, running or interrupted one', async () => {
    const { s } = setup();
    const project = s.projects.create('clear').id;
    const ok = await s.jobs.waitFor(s.jobs.enqueue('test.steps', { steps: 1, stepMs: 1 }).id);
    const failed = await s.jobs.waitFor(s.jobs.enqueue('test.steps', { steps: 3, stepMs: 1, failAt: 1 }).id);
    const ofProject = await s.jobs.waitFor(s.jobs.enqueue('test.steps', { steps: 1, stepMs: 1 }, project).id);
    const running = s.jobs.enqueue('test.steps', { steps: 400, stepMs: 20 });
    const queued = s.jobs.enqueue('test.steps', { steps: 1, stepMs: 1 });
    const interrupted = s.jobs.enqueue('test.steps', { steps: 1, stepMs: 1 });
    s.db.prepare(`UPDATE jobs SET state = 'interrupted' WHERE id = ?`).run(interrupted.id); // as after a crash
    const cancelled = s.jobs.cancel(s.jobs.enqueue('test.steps', { steps: 1, stepMs: 1 }).id);
    expect([ok.state, failed.state, ofProject.state, cancelled.state]).toEqual(['succeeded', 'failed', 'succeeded', 'cancelled']);
    expect(s.jobs.get(running.id).state).toBe('running');

    // one project's finished jobs only
    expect(s.jobs.clearFinished(project)).toEqual([ofProject.id]);
    // then every finished job of no project; the running and the interrupted one stay
    expect(s.jobs.clearFinished(null)).toEqual([ok.id, failed.id, cancelled.id]);
    expect(s.jobs.list({ limit: 50 }).map((j) => [j.id, j.state])).toEqual([
      [interrupted.id, 'interrupted'],
      [queued.id, 'queued'],
      [running.id, 'running'],
    ]);
    expect(() => s.jobs.events(ok.id, 10)).toThrowError(`Job ${ok.id} does not exist`);
    expect(s.db.prepare('SELECT COUNT(*) AS n FROM job_events WHERE job_id IN (?, ?, ?)').get(ok.id, failed.id, cancelled.id)).toEqual({ n: 0 });
    expect(s.jobs.clearFinished()).toEqual([]);
    s.jobs.cancel(running.id);
    expect((await s.jobs.waitFor(running.id)).state).toBe('cancelled');
    await s.jobs.waitFor(queued.id);
    expect(s.jobs.clearFinished()).toEqual([running.id, queued.id]);
    expect(s.jobs.list({ limit: 50 }).map((j) => j.id)).toEqual([interrupted.id]);
  });

  it('runs one heavy job at a time and cancels a queued one without running it', async () => {
    const { s } = setup();
    const a = s.jobs.enqueue('test.steps', { steps: 8, stepMs: 30 });
    const b = s.jobs.enqueue('test.steps', { steps: 8, stepMs: 30 });
    expect(s.jobs.get(a.id).state).toBe('running');
    expect(s.jobs.get(b.id).state).toBe('queued');
    expect(s.jobs.cancel(b.id).state).toBe('cancelled');
    expect((await s.jobs.waitFor(a.id)).state).toBe('succeeded');
    expect(s.jobs.get(b.id).attempts).toBe(0);
  });

  it('cancels a running job cooperatively and keeps its finished steps', async () => {
    const { s } = setup();
    const job = s.jobs.enqueue('test.steps', { steps: 200, stepMs: 20 });
    await until(() => steps(s, job.id).length >= 3);
    s.jobs.cancel(job.id);
    const done = await s.jobs.waitFor(job.id, 5000);
    expect(done.state).toBe('cancelled');
    const n = steps(s, job.id).length;
    expect(n).toBeGreaterThanOrEqual(3);
    expect(n).toBeLessThan(200);
    expect(() => s.jobs.cancel(job.id)).toThrowError(/only queued, running or interrupted/);
  });

  it('terminates a job that ignores cancellation after the grace period', async () => {
    const { s } = setup({ cancelGraceMs: 300 });
    const job = s.jobs.enqueue('test.spin', { ms: 60_000 });
    await until(() => s.jobs.get(job.id).state === 'running');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    s.jobs.cancel(job.id);
    const done = await s.jobs.waitFor(job.id, 5000);
    expect(done.state).toBe('cancelled');
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('resumes a cancelled job from its checkpoint without repeating or losing steps', async () => {
    const { s } = setup();
    const job = s.jobs.enqueue('test.steps', { steps: 30, stepMs: 15 });
    await until(() => steps(s, job.id).length >= 5);
    s.jobs.cancel(job.id);
    await s.jobs.waitFor(job.id);
    const before = steps(s, job.id).length;
    s.jobs.resume(job.id);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('succeeded');
    expect((done.result as { resumedFrom: number }).resumedFrom).toBe(before);
    expect(steps(s, job.id)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(done.attempts).toBe(2);
  });

  it('marks jobs of a killed process interrupted at the next start, and resumes them exactly', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    // A separate process runs the job; we SIGKILL it mid-way, as a crash or power cut would.
    const host = fileURLToPath(new URL('../../fixtures/jobs/hostProcess.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', host, t.dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    await until(() => /progress (0\.[3-9]|1)/.test(out), 30_000);
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const jobId = Number(/job (\d+)/.exec(out)![1]);

    const s = testServices(t.dir);
    cleanups.push(() => s.close());
    const job = s.jobs.get(jobId);
    expect(job.state).toBe('interrupted');
    const done1 = steps(s, jobId);
    expect(done1.length).toBeGreaterThan(0);
    expect(done1.length).toBeLessThan(40);
    s.jobs.resume(jobId);
    const done = await s.jobs.waitFor(jobId);
    expect(done.state).toBe('succeeded');
    expect(steps(s, jobId)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('stops running jobs as interrupted on close', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const s1 = testServices(t.dir);
    const job = s1.jobs.enqueue('test.steps', { steps: 100, stepMs: 20 });
    await until(() => s1.jobs.get(job.id).progress.fraction !== null);
    await s1.close();
    const s2 = testServices(t.dir, { runJobs: false });
    cleanups.push(() => s2.close());
    expect(s2.jobs.get(job.id).state).toBe('interrupted');
  });

  it('on close, waits a bounded time for a job that ignores cancellation, then terminates it as interrupted', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const s1 = testServices(t.dir, { cancelGraceMs: 300 });
    const job = s1.jobs.enqueue('test.spin', { ms: 30_000 });
    await until(() => s1.jobs.get(job.id).progress.message === 'spinning');
    const started = Date.now();
    await s1.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    const s2 = testServices(t.dir, { runJobs: false });
    cleanups.push(() => s2.close());
    expect(s2.jobs.get(job.id).state).toBe('interrupted');
    expect(s2.jobs.events(job.id, 100).map((e) => e.message)).toContainEqual(expect.stringMatching(/did not stop within 300 ms of closing/));
  });

  it('refuses a second job-running process on the same workspace', () => {
    const { dir } = setup();
    expect(() => testServices(dir)).toThrowError(/Another SafeTune Workbench process/);
  });
});

describe('file.checksum job', () => {
  it('fingerprints a file block by block', async () => {
    const { s, dir } = setup();
    const file = join(dir, 'data.bin');
    const data = Buffer.alloc(300_000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    writeFileSync(file, data);
    const job = s.jobs.enqueue('file.checksum', { path: file, blockSizeBytes: 65536 });
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('succeeded');
    const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    const blocks = [0, 1, 2, 3, 4].map((i) => sha(readFileSync(file).subarray(i * 65536, (i + 1) * 65536)));
    expect(done.result).toMatchObject({
      sizeBytes: 300_000,
      sha256: sha(readFileSync(file)),
      blockDigests: blocks,
      blocksDigest: sha(Buffer.from(blocks.join(''))),
    });
  });

  it("reports the whole file's SHA-256 after resuming from a block checkpoint", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const file = join(dir, 'data.bin');
    const data = Buffer.alloc(200_000, 3);
    writeFileSync(file, data);
    const info = statSync(file);
    const blocks = [0, 1, 2, 3].map((i) =>
      createHash('sha256')
        .update(data.subarray(i * 65536, (i + 1) * 65536))
        .digest('hex'),
    );
    const seen: number[] = [];
    const fp = await fingerprintFile(file, 65536, {
      resume: { sizeBytes: info.size, mtimeMs: info.mtimeMs, blockDigests: blocks.slice(0, 2) },
      onBlock: (done) => seen.push(done),
    });
    expect(seen).toEqual([3, 4]);
    expect(fp.blockDigests).toEqual(blocks);
    expect(fp.sha256).toBe(createHash('sha256').update(data).digest('hex'));
  });

  it('fails clearly on a missing file', async () => {
    const { s, dir } = setup();
    const job = s.jobs.enqueue('file.checksum', { path: join(dir, 'nope.jsonl') });
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/Cannot read .*nope\.jsonl: ENOENT/);
    expect(done).toMatchObject({ failure: 'invalid_input', resumable: false });
  });
});

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
