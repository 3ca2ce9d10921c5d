/**
 * The real `safetune serve` (src/main/cli.ts under tsx) in a child process, for tests that need a
 * whole process: signals, exit codes, crashes, the browser opener.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { repoRoot } from '../../helpers/shared';

/** A call's JSON envelope (`value` left loose: tests read the fields they check). */
export interface CallBody {
  ok: boolean;
  value?: any;
  error?: { code: string; message: string };
}

export interface ServeChild {
  child: ChildProcess;
  url: string;
  port: number;
  token: string;
  /** Everything printed so far. */
  stdout(): string;
  stderr(): string;
  /** A contract call with the bearer token. */
  call(name: string, input?: unknown): Promise<{ status: number; body: CallBody }>;
  /** Resolves when the process has ended. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal and waits for the process to end. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `safetune serve ARGS`; `env` entries set to undefined are removed (CI=1 unless told otherwise). */
export async function startServe(args: string[], env: Record<string, string | undefined> = {}): Promise<ServeChild> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, CI: '1' };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'src', 'main', 'cli.ts'), 'serve', ...args], {
    cwd: repoRoot,
    env: childEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start within 60 s:\n${out}\n${err}`)), 60_000);
    const check = () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`serve exited (${code ?? signal}) before printing its URL:\n${out}\n${err}`));
    });
  });
  const { port, hash } = new URL(url);
  const token = hash.slice('#token='.length);
  return {
    child,
    url,
    port: Number(port),
    token,
    stdout: () => out,
    stderr: () => err,
    async call(name, input = {}) {
      const res = await fetch(`http://127.0.0.1:${port}/api/call/${name}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(input),
      });
      return { status: res.status, body: (await res.json()) as CallBody };
    },
    exited,
    async stop(signal = 'SIGINT') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
