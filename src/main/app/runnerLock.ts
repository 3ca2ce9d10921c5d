/**
 * The workspace lock: one process per workspace runs jobs (the app window, browser mode, or a CLI
 * job). `runner.lock` holds its owner's record — pid, process start time, host, boot id and a
 * random nonce — and appears atomically and whole: the record is written to a private temporary
 * file that is then hard-linked to `runner.lock`, which fails when one is already there.
 *
 * A lock whose owner is gone (no such process, a pid now used by a process that started at another
 * time, a record from an earlier boot) is stale. Deleting a stale lock is where lock files usually
 * race: two processes see the same stale lock, both delete it, and the second deletes the lock
 * the first has just made. Here a stale file is only deleted by the process that wins the claim
 * `runner.lock.takeover-<its nonce>` (again a hard link, so exactly one wins), after checking,
 * while holding the claim, that the file still carries that nonce. Nonces are never reused, so a
 * late process that wins the claim afterwards finds another nonce and leaves the new lock alone.
 * A claim whose owner died is itself stale and is removed the same way.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, copyFileSync, fstatSync, linkSync, openSync, readFileSync, readSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../shared/errors';

export const LOCK_FILE = 'runner.lock';

/** What `runner.lock` holds. */
export interface LockOwner {
  app: 'safetune-workbench';
  pid: number;
  /** The process's start time as the OS reports it (Linux: /proc/<pid>/stat field 22); null where unknown. */
  started: string | null;
  host: string;
  /** Linux boot id: a record written before the last reboot is stale. */
  boot: string | null;
  nonce: string;
  acquiredAt: string;
}

/** A lock or claim file as read back: an owner record, a bare pid (older versions), or anything else. */
type LockRecord =
  | { kind: 'owner'; owner: LockOwner; id: string }
  | { kind: 'legacy'; pid: number; writtenMs: number; id: string }
  | { kind: 'garbage'; id: string };

type OwnerState = 'alive' | 'dead' | 'elsewhere';

const MAX_RECORD_BYTES = 4096;
/** A lock file younger than this whose content cannot be read yet may still be being written. */
const UNFINISHED_GRACE_MS = 2000;
const TAKE_TIMEOUT_MS = 10_000;
const MAX_CLAIM_DEPTH = 8;
const NONCE = /^[0-9a-f]{32}$/;

const heldHere = new Set<string>();

/** Takes the workspace's lock for this process, or throws a 'conflict' naming the process that holds it. */
export function acquireRunnerLock(workspace: string): () => void {
  const lockPath = join(workspace, LOCK_FILE);
  if (heldHere.has(lockPath)) {
    throw new AppError('conflict', `Another SafeTune Workbench process (pid ${process.pid}, this one) is using the workspace ${workspace}.`, {
      pid: process.pid,
      workspace,
    });
  }
  const me = ownerRecord();
  const candidate = `${lockPath}.${me.nonce}.tmp`;
  writeNewFile(candidate, JSON.stringify(me) + '\n');
  try {
    takeLock(lockPath, candidate, workspace);
  } finally {
    rmSync(candidate, { force: true });
  }
  heldHere.add(lockPath);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    heldHere.delete(lockPath);
    const record = readRecord(lockPath);
    if (typeof record === 'object' && record !== null && record.id === me.nonce) rmSync(lockPath, { force: true });
  };
}

function takeLock(lockPath: string, candidate: string, workspace: string): void {
  const deadline = Date.now() + TAKE_TIMEOUT_MS;
  for (;;) {
    if (placeExclusive(candidate, lockPath)) return;
    const record = readRecord(lockPath);
    if (record === 'unfinished') pause();
    else if (record !== null) {
      const state = ownerState(record);
      if (state !== 'dead') throw inUse(record, state, workspace, lockPath);
      removeStale(lockPath, lockPath, record, candidate, 0);
    }
    if (Date.now() > deadline) {
      throw new AppError('conflict', `Could not lock the workspace ${workspace}: ${lockPath} kept changing. Try again.`, { workspace });
    }
  }
}

/**
 * Deletes the stale `target` (a lock, or a claim whose owner died) if it still is the one read as
 * `stale`, under the claim for its id. Returns without deleting when someone else holds the claim.
 */
function removeStale(lockPath: string, target: string, stale: LockRecord, candidate: string, depth: number): void {
  const claim = `${lockPath}.takeover-${stale.id}`;
  if (!placeExclusive(candidate, claim)) {
    const holder = readRecord(claim);
    if (holder === null) return;
    if (holder === 'unfinished' || depth >= MAX_CLAIM_DEPTH || ownerState(holder) !== 'dead') {
      pause();
      return;
    }
    removeStale(lockPath, claim, holder, candidate, depth + 1);
    return;
  }
  try {
    const now = readRecord(target);
    if (typeof now === 'object' && now !== null && now.id === stale.id) rmSync(target, { force: true });
  } finally {
    rmSync(claim, { force: true });
  }
}

/** Creates `dest` as a hard link to `src`; false when `dest` exists. */
function placeExclusive(src: string, dest: string): boolean {
  try {
    linkSync(src, dest);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // File systems without hard links: an exclusive copy, which readers may briefly see unfinished.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'ENOSYS' && code !== 'EOPNOTSUPP') throw e;
    try {
      copyFileSync(src, dest, fsConstants.COPYFILE_EXCL);
      return true;
    } catch (c) {
      if ((c as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw c;
    }
  }
}

/**
 * Not fsync'd: a lock only matters while its owner runs, and one that a power cut leaves empty or
 * cut short reads as garbage and is taken over at the next start.
 */
function writeNewFile(path: string, text: string): void {
  const fd = openSync(path, 'wx', 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
}

/** Reads a lock or claim file: null when there is none, 'unfinished' while it may still be being written. */
function readRecord(path: string): LockRecord | 'unfinished' | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) {
      throw new AppError('conflict', `${path} is not a file, so the workspace cannot be locked. Move it away and start again.`, { path });
    }
    const buf = Buffer.alloc(MAX_RECORD_BYTES);
    const text = buf.toString('utf8', 0, readSync(fd, buf, 0, MAX_RECORD_BYTES, 0));
    const incarnation = createHash('sha256').update(`${st.dev}:${st.ino}:${st.mtimeMs}:${st.size}:${text}`).digest('hex').slice(0, 32);
    if (/^\s*\d+\s*$/.test(text)) return { kind: 'legacy', pid: Number(text), writtenMs: st.mtimeMs, id: incarnation };
    const owner = parseOwner(text);
    if (owner) return { kind: 'owner', owner, id: owner.nonce };
    return Date.now() - st.mtimeMs < UNFINISHED_GRACE_MS ? 'unfinished' : { kind: 'garbage', id: incarnation };
  } finally {
    closeSync(fd);
  }
}

function parseOwner(text: string): LockOwner | null {
  let v: Partial<LockOwner>;
  try {
    v = JSON.parse(text) as Partial<LockOwner>;
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  if (!Number.isSafeInteger(v.pid) || v.pid! <= 0 || typeof v.nonce !== 'string' || !NONCE.test(v.nonce) || typeof v.host !== 'string') return null;
  return {
    app: 'safetune-workbench',
    pid: v.pid!,
    started: typeof v.started === 'string' ? v.started : null,
    host: v.host,
    boot: typeof v.boot === 'string' ? v.boot : null,
    nonce: v.nonce,
    acquiredAt: typeof v.acquiredAt === 'string' ? v.acquiredAt : '',
  };
}

/**
 * Whether the process a record names still runs. A record from another host cannot be checked
 * ('elsewhere', treated as in use). A bare pid from an older version counts as stale when that
 * pid now belongs to a process started after the file was written.
 */
function ownerState(record: LockRecord): OwnerState {
  if (record.kind === 'garbage') return 'dead';
  if (record.kind === 'legacy') {
    if (!processRuns(record.pid)) return 'dead';
    const started = processStart(record.pid);
    return started?.ms != null && started.ms > record.writtenMs + 1000 ? 'dead' : 'alive';
  }
  const o = record.owner;
  if (o.host !== hostname()) return 'elsewhere';
  const self = selfIdentity();
  if (o.boot && self.boot && o.boot !== self.boot) return 'dead';
  if (!processRuns(o.pid)) return 'dead';
  if (o.started !== null) {
    const now = processStart(o.pid);
    if (now && now.token !== o.started) return 'dead';
  }
  return 'alive';
}

function inUse(record: LockRecord, state: OwnerState, workspace: string, lockPath: string): AppError {
  const pid = record.kind === 'garbage' ? null : record.kind === 'legacy' ? record.pid : record.owner.pid;
  const host = record.kind === 'owner' ? record.owner.host : hostname();
  const where = state === 'elsewhere' ? ` on ${host}` : '';
  const hint = state === 'elsewhere' ? ` If SafeTune Workbench no longer runs there, delete ${lockPath}.` : '';
  return new AppError(
    'conflict',
    `Another SafeTune Workbench process (pid ${pid}${where}) is using the workspace ${workspace}. ` +
      `Close it first, or choose another workspace with --workspace DIR.${hint}`,
    { pid, host, workspace },
  );
}

let identity: { started: string | null; boot: string | null } | null = null;
function selfIdentity(): { started: string | null; boot: string | null } {
  identity ??= { started: processStart(process.pid)?.token ?? null, boot: bootId() };
  return identity;
}

function ownerRecord(): LockOwner {
  const self = selfIdentity();
  return {
    app: 'safetune-workbench',
    pid: process.pid,
    started: self.started,
    host: hostname(),
    boot: self.boot,
    nonce: randomBytes(16).toString('hex'),
    acquiredAt: new Date().toISOString(),
  };
}

/** Whether a process with this pid exists (zombies, on Linux, do not count). */
function processRuns(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = linuxStat(pid);
  return !stat || (stat.state !== 'Z' && stat.state !== 'X');
}

/**
 * When a process started: an exact token to compare, and epoch milliseconds where known. Linux
 * reads /proc (clock ticks since boot); macOS asks ps (to the second); elsewhere it is unknown.
 */
export function processStart(pid: number): { token: string; ms: number | null } | null {
  if (process.platform === 'linux') {
    const stat = linuxStat(pid);
    const boot = bootTimeMs();
    if (!stat) return null;
    // USER_HZ, the unit of /proc/<pid>/stat's starttime, is 100 on every Linux architecture.
    return { token: stat.startTicks, ms: boot === null ? null : boot + Number(stat.startTicks) * 10 };
  }
  if (process.platform === 'darwin') {
    const r = spawnSync('ps', ['-o', 'lstart=', '-p', String(pid)], { encoding: 'utf8', timeout: 5000 });
    const token = r.status === 0 ? r.stdout.trim() : '';
    if (!token) return null;
    const ms = Date.parse(token);
    return { token, ms: Number.isFinite(ms) ? ms : null };
  }
  return null;
}

function linuxStat(pid: number): { state: string; startTicks: string } | null {
  if (process.platform !== 'linux') return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTicks = fields[19]; // field 22 overall; fields[0] is field 3 (state)
  return startTicks && /^\d+$/.test(startTicks) ? { state: fields[0]!, startTicks } : null;
}

let bootMs: number | null | undefined;
function bootTimeMs(): number | null {
  if (bootMs === undefined) {
    const m = /^btime (\d+)$/m.exec(readText('/proc/stat') ?? '');
    bootMs = m ? Number(m[1]) * 1000 : null;
  }
  return bootMs;
}

function bootId(): string | null {
  return process.platform === 'linux' ? (readText('/proc/sys/kernel/random/boot_id')?.trim() ?? null) : null;
}

function readText(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** Waits a few milliseconds, synchronously (lock taking runs before the app serves anything). */
function pause(): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 2 + Math.random() * 8);
}
