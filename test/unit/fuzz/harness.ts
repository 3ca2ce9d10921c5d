/**
 * Fuzz harness for the importers and loaders: runs each case (a loader name + a file) in a separate
 * Node process that outlives many cases, and classifies what happened:
 *   accepted  the loader returned;
 *   rejected  it threw an error (the error message is kept, and whether it names the file);
 *   crashed   the process died (native abort, V8 out of memory, segfault) — the host is restarted;
 *   hung      no answer within the time limit — the host is killed and restarted;
 *   memory    it answered, but the peak RSS during the case passed the memory bound.
 * A loaders module default-exports `Record<name, (file: string) => Promise<unknown> | unknown>`.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface FuzzCase {
  /** A short description of the mutation or hostile construction. */
  id: string;
  loader: string;
  file: string;
}

export type FuzzStatus = 'accepted' | 'rejected' | 'crashed' | 'hung' | 'memory';

export interface FuzzOutcome extends FuzzCase {
  status: FuzzStatus;
  message: string | null;
  /** The error message names the file (its base name or full path). */
  namesFile: boolean;
  ms: number;
  /** Peak resident memory of the host during this case (MB), when the OS reports it. */
  peakRssMb: number | null;
}

export interface FuzzOptions {
  /** Absolute path (or file URL) of the loaders module. */
  loadersModule: string;
  timeoutMs?: number;
  /** Peak RSS allowed during one case. */
  rssLimitMb?: number;
  /** V8 heap limit of the host process. */
  heapMb?: number;
}

interface HostReply {
  ok: boolean;
  message: string | null;
  ms: number;
  peakRssMb: number | null;
}

const HOST = fileURLToPath(new URL('./host.ts', import.meta.url));

class Host {
  private child: ChildProcess | null = null;
  private waiting: { resolve: (r: HostReply | { died: string }) => void } | null = null;

  constructor(private readonly opts: Required<FuzzOptions>) {}

  private spawn(): ChildProcess {
    const child = fork(HOST, [this.opts.loadersModule], {
      execArgv: ['--import', 'tsx', `--max-old-space-size=${this.opts.heapMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('message', (m: HostReply) => {
      if (this.child !== child) return;
      const w = this.waiting;
      this.waiting = null;
      w?.resolve(m);
    });
    child.on('exit', (code, signal) => {
      // A host killed on purpose (hang, memory) is already replaced: its exit concerns no case.
      if (this.child !== child) return;
      this.child = null;
      const w = this.waiting;
      this.waiting = null;
      const last = stderr.trim().split('\n').slice(-3).join(' | ');
      w?.resolve({ died: `host exited (${signal ?? `code ${code}`})${last ? `: ${last}` : ''}` });
    });
    return child;
  }

  async run(c: FuzzCase): Promise<Omit<FuzzOutcome, keyof FuzzCase>> {
    if (!this.child) this.child = this.spawn();
    const child = this.child;
    const t0 = Date.now();
    const reply = await new Promise<HostReply | { died: string } | { hung: true }>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting = null;
        this.child = null;
        child.kill('SIGKILL');
        resolve({ hung: true });
      }, this.opts.timeoutMs);
      this.waiting = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      child.send({ loader: c.loader, file: c.file });
    });
    const ms = Date.now() - t0;
    if ('hung' in reply) return { status: 'hung', message: `no answer within ${this.opts.timeoutMs} ms`, namesFile: false, ms, peakRssMb: null };
    if ('died' in reply) return { status: 'crashed', message: reply.died, namesFile: false, ms, peakRssMb: null };
    const namesFile = reply.message !== null && (reply.message.includes(basename(c.file)) || reply.message.includes(c.file));
    const overMemory = reply.peakRssMb !== null && reply.peakRssMb > this.opts.rssLimitMb;
    // What a memory-hungry case allocated may still be resident: start the next case afresh.
    if (overMemory) this.close();
    return {
      status: overMemory ? 'memory' : reply.ok ? 'accepted' : 'rejected',
      message: reply.message,
      namesFile,
      ms: reply.ms,
      peakRssMb: reply.peakRssMb,
    };
  }

  close(): void {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
  }
}

/** Runs every case in order; one host process is reused until a case kills it. */
export async function runFuzz(cases: readonly FuzzCase[], options: FuzzOptions): Promise<FuzzOutcome[]> {
  const opts: Required<FuzzOptions> = { timeoutMs: 10_000, rssLimitMb: 1024, heapMb: 512, ...options };
  const host = new Host(opts);
  const out: FuzzOutcome[] = [];
  try {
    for (const c of cases) out.push({ ...c, ...(await host.run(c)) });
  } finally {
    host.close();
  }
  return out;
}

/** Counts per loader and status, for the test log and the issue note. */
export function summarise(outcomes: readonly FuzzOutcome[]): string {
  const rows = new Map<string, Record<FuzzStatus | 'unnamed', number>>();
  for (const o of outcomes) {
    const r = rows.get(o.loader) ?? { accepted: 0, rejected: 0, crashed: 0, hung: 0, memory: 0, unnamed: 0 };
    r[o.status]++;
    if (o.status === 'rejected' && !o.namesFile) r.unnamed++;
    rows.set(o.loader, r);
  }
  const lines = ['loader          cases accepted rejected (no file named) crashed hung memory'];
  for (const [loader, r] of rows) {
    const n = r.accepted + r.rejected + r.crashed + r.hung + r.memory;
    lines.push(
      `${loader.padEnd(15)} ${String(n).padStart(5)} ${String(r.accepted).padStart(8)} ${String(r.rejected).padStart(8)} ` +
        `${String(r.unnamed).padStart(16)} ${String(r.crashed).padStart(7)} ${String(r.hung).padStart(4)} ${String(r.memory).padStart(6)}`,
    );
  }
  return lines.join('\n');
}

/** The outcomes that break the rules: a crash, a hang, a memory blow-up, or a rejection that does not name its file. */
export function failures(outcomes: readonly FuzzOutcome[]): FuzzOutcome[] {
  return outcomes.filter((o) => o.status === 'crashed' || o.status === 'hung' || o.status === 'memory' || (o.status === 'rejected' && !o.namesFile));
}
