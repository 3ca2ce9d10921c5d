// The workspace lock: exactly one holder when many processes start at once (on a fresh workspace
// and over the stale lock a crash leaves), and stale locks — including one whose pid now belongs
// to an unrelated live process — are taken over while a live owner's lock is respected.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE, acquireRunnerLock, processStart, type LockOwner } from '../../../src/main/app/runnerLock';
import { tempDir } from '../../helpers/services';

const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function workspace(): string {
  const t = tempDir('safetune-lock-');
  cleanups.push(t.cleanup);
  return t.dir;
}

/**
 * A pid that no process has any more: a child that has just exited (and been reaped). Fresh each
 * time, as pids get reused (a bare-pid lock has no start time to tell a reused pid apart).
 */
function deadPid(): number {
  return (process.platform === 'win32' ? spawnSync(process.execPath, ['-e', '0']) : spawnSync('true')).pid!;
}

/** An owner record; by default of a process that is gone (its start time guards against pid reuse). */
function record(over: Partial<LockOwner>): LockOwner {
  return {
    app: 'safetune-workbench',
    pid: deadPid(),
    started: '0',
    host: hostname(),
    boot: null,
    nonce: randomBytes(16).toString('hex'),
    acquiredAt: new Date().toISOString(),
    ...over,
  };
}

function writeLock(dir: string, content: LockOwner | string, name = LOCK_FILE): void {
  writeFileSync(join(dir, name), typeof content === 'string' ? content : JSON.stringify(content));
}

const lockOwner = (dir: string) => JSON.parse(readFileSync(join(dir, LOCK_FILE), 'utf8')) as LockOwner;

function expectHeldByUs(dir: string, release: () => void): void {
  const owner = lockOwner(dir);
  expect(owner.pid).toBe(process.pid);
  expect(owner.host).toBe(hostname());
  expect(owner.nonce).toMatch(/^[0-9a-f]{32}$/);
  if (process.platform === 'linux') expect(owner.started).toBe(processStart(process.pid)!.token);
  expect(readdirSync(dir)).toEqual([LOCK_FILE]); // no temporary file or claim left behind
  release();
  expect(readdirSync(dir)).toEqual([]);
}

describe('workspace lock: stale and live owners', () => {
  it('takes over a lock whose pid now belongs to an unrelated live process that started at another time', () => {
    const dir = workspace();
    // The test runner's parent process is alive, but it is not the process that wrote this lock.
    writeLock(dir, record({ pid: process.ppid, started: '12345' }));
    expectHeldByUs(dir, acquireRunnerLock(dir));
  });

  it('respects a lock whose pid and start time match a live process', () => {
    if (!processStart(process.ppid)) return void console.warn('skipped: process start times are not available on this platform');
    const dir = workspace();
    writeLock(dir, record({ pid: process.ppid, started: processStart(process.ppid)!.token }));
    expect(() => acquireRunnerLock(dir)).toThrowError(
      `Another SafeTune Workbench process (pid ${process.ppid}) is using the workspace ${dir}. Close it first, or choose another workspace with --workspace DIR.`,
    );
    expect(lockOwner(dir).pid).toBe(process.ppid);
  });

  it('takes over the lock of a process that is gone, and a record from an earlier boot', () => {
    const dir = workspace();
    writeLock(dir, record({}));
    expectHeldByUs(dir, acquireRunnerLock(dir));
    if (process.platform === 'linux') {
      writeLock(dir, record({ pid: process.ppid, started: processStart(process.ppid)!.token, boot: 'an-earlier-boot' }));
      expectHeldByUs(dir, acquireRunnerLock(dir));
    }
  });

  it('reads the bare-pid locks of older versions: a pid reused since the file was written is stale', () => {
    if (!processStart(process.ppid)?.ms) return void console.warn('skipped: process start times are not available on this platform');
    const dir = workspace();
    writeLock(dir, String(process.ppid));
    expect(() => acquireRunnerLock(dir)).toThrowError(`Another SafeTune Workbench process (pid ${process.ppid})`);
    // The same pid, in a file written long before that process started.
    utimesSync(join(dir, LOCK_FILE), new Date('2001-01-01'), new Date('2001-01-01'));
    expectHeldByUs(dir, acquireRunnerLock(dir));
    writeLock(dir, String(deadPid()));
    expectHeldByUs(dir, acquireRunnerLock(dir));
  });

  it('treats a lock from another host as in use and says how to clear it', () => {
    const dir = workspace();
    writeLock(dir, record({ pid: 4242, host: 'gpu-box-7' }));
    expect(() => acquireRunnerLock(dir)).toThrowError(
      `Another SafeTune Workbench process (pid 4242 on gpu-box-7) is using the workspace ${dir}. Close it first, or choose another workspace ` +
        `with --workspace DIR. If SafeTune Workbench no longer runs there, delete ${join(dir, LOCK_FILE)}.`,
    );
  });

  it('gets past a takeover claim left by a process that died while taking over', () => {
    const dir = workspace();
    const stale = record({});
    writeLock(dir, stale);
    writeLock(dir, record({}), `${LOCK_FILE}.takeover-${stale.nonce}`);
    expectHeldByUs(dir, acquireRunnerLock(dir));
  });

  it('takes over a lock file holding garbage once it is old, and never follows a nonce out of the folder', () => {
    const dir = workspace();
    writeLock(dir, '{"pid": 1, "nonce": "../../escape", "host": "x"}');
    utimesSync(join(dir, LOCK_FILE), new Date('2001-01-01'), new Date('2001-01-01'));
    expectHeldByUs(dir, acquireRunnerLock(dir));
  });

  it('names a folder called runner.lock instead of failing with EISDIR', () => {
    const dir = workspace();
    mkdirSync(join(dir, LOCK_FILE));
    expect(() => acquireRunnerLock(dir)).toThrowError(
      `${join(dir, LOCK_FILE)} is not a file, so the workspace cannot be locked. Move it away and start again.`,
    );
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
  });

  it('is held once per process, and a release removes only its own lock', () => {
    const dir = workspace();
    const release = acquireRunnerLock(dir);
    expect(() => acquireRunnerLock(dir)).toThrowError(/Another SafeTune Workbench process \(pid \d+, this one\)/);
    const mine = lockOwner(dir);
    // Someone replaced the file (by hand): releasing must not delete theirs.
    writeLock(dir, record({ pid: process.ppid }));
    release();
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    expect(lockOwner(dir).nonce).not.toBe(mine.nonce);
  });
});

// ---- the race: many processes start at once ----

const CONTENDERS = 20;
const contenderScript = fileURLToPath(new URL('../../fixtures/app/lockContender.ts', import.meta.url));

interface Contender {
  child: ChildProcessWithoutNullStreams;
  next(): Promise<string>;
}

function startContender(): Contender {
  const child = spawn(process.execPath, ['--import', 'tsx', contenderScript], { stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const waiting: ((l: string) => void)[] = [];
  let buf = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      const w = waiting.shift();
      if (w) w(line);
      else lines.push(line);
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => process.stderr.write(d));
  return {
    child,
    next: () => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r))),
  };
}

type Setup = 'fresh' | 'dead owner' | 'reused pid' | 'old bare pid';
const SETUPS: Setup[] = ['fresh', 'dead owner', 'reused pid', 'old bare pid'];

describe('workspace lock race', () => {
  let contenders: Contender[] = [];
  beforeAll(async () => {
    contenders = Array.from({ length: CONTENDERS }, startContender);
    expect(await Promise.all(contenders.map((c) => c.next()))).toEqual(Array(CONTENDERS).fill('ready'));
  }, 120_000);
  afterAll(() => contenders.forEach((c) => c.child.kill()));

  it(`gives the lock to exactly one of ${CONTENDERS} processes starting at once, ${75 * SETUPS.length} times over`, async () => {
    const failures: string[] = [];
    const started = Date.now();
    let trials = 0;
    for (let round = 0; round < 75; round++) {
      for (const setup of SETUPS) {
        const dir = workspace();
        if (setup === 'dead owner') writeLock(dir, record({}));
        if (setup === 'reused pid') writeLock(dir, record({ pid: process.pid, started: 'not-this-process' }));
        if (setup === 'old bare pid') writeLock(dir, String(deadPid()));
        contenders.forEach((c) => c.child.stdin.write(`try\t${dir}\n`));
        const answers = await Promise.all(contenders.map((c) => c.next()));
        const holders = answers.flatMap((a, i) => (a === 'held' ? [i] : []));
        const odd = answers.filter((a) => a !== 'held' && a !== 'busy');
        if (holders.length !== 1 || odd.length > 0) failures.push(`trial ${trials} (${setup}): ${holders.length} holders ${odd.join('; ')}`);
        // Holders keep the lock until every contender has answered, then let go.
        for (const i of holders) contenders[i]!.child.stdin.write('release\n');
        expect(await Promise.all(holders.map((i) => contenders[i]!.next()))).toEqual(holders.map(() => 'released'));
        const left = readdirSync(dir);
        if (left.length > 0) failures.push(`trial ${trials} (${setup}): left ${left.join(', ')}`);
        rmSync(dir, { recursive: true, force: true });
        trials++;
      }
    }
    console.log(`lock race: ${trials} trials × ${CONTENDERS} processes in ${((Date.now() - started) / 1000).toFixed(1)} s, ${failures.length} failures`);
    expect(failures).toEqual([]);
  }, 300_000);
});
