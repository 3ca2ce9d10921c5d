/**
 * Runs model-written Python against a task's tests (HumanEval pass@1) in a child process that is
 * fenced in as far as an unprivileged process can be without OS sandboxing:
 *  - a fresh empty working folder (removed afterwards), an environment holding only PATH/LANG, stdin
 *    closed, Python's isolated mode (-I: no user site-packages, no PYTHON* variables);
 *  - a guard run before the program: resource limits (CPU seconds, address space, file size, no new
 *    processes), and the network, process-spawning and file-deleting functions replaced by ones that
 *    raise;
 *  - a wall-clock limit after which the process group is killed, and bounded captured output.
 * This stops accidents (endless loops, memory blow-ups, a stray `rm`, a download), not a
 * determined attacker: Python code can undo its own guard. Run benchmarks, not hostile code.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SandboxOptions {
  /** wall-clock limit (default 10 s) */
  timeoutMs?: number;
  /** CPU-seconds limit inside the child (default: the wall limit, rounded up) */
  cpuSeconds?: number;
  /** address-space limit (default 1 GiB) */
  memoryBytes?: number;
  /** the Python to run (default "python3" on PATH) */
  python?: string;
}

export type SandboxOutcome =
  | { status: 'passed'; ms: number }
  | { status: 'failed'; ms: number; reason: string }
  | { status: 'timeout'; ms: number; reason: string };

/** No Python to run the tests with: an infrastructure problem, not a verdict on the reply. */
export class SandboxUnavailableError extends Error {
  constructor(python: string, cause: string) {
    super(`running code tests needs Python 3 ("${python}" could not be started: ${cause}); install Python 3 or choose another task scorer`);
    this.name = 'SandboxUnavailableError';
  }
}

const OUTPUT_LIMIT = 16 * 1024;

/** The guard run before the program (written here; see the file header for what it covers). */
function guard(cpuSeconds: number, memoryBytes: number): string {
  return `
import builtins, os, shutil, socket, subprocess, sys
try:
    import resource
    resource.setrlimit(resource.RLIMIT_CPU, (${cpuSeconds}, ${cpuSeconds}))
    resource.setrlimit(resource.RLIMIT_AS, (${memoryBytes}, ${memoryBytes}))
    resource.setrlimit(resource.RLIMIT_FSIZE, (${1 << 20}, ${1 << 20}))
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
except (ImportError, ValueError, OSError):
    pass
def _blocked(name):
    def f(*a, **k):
        raise PermissionError(name + " is disabled while running tests")
    return f
for _n in ("socket", "create_connection", "socketpair", "fromfd"):
    setattr(socket, _n, _blocked("socket." + _n))
for _n in ("system", "popen", "fork", "forkpty", "kill", "killpg", "remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace", "truncate", "chmod", "chown", "execv", "execve", "execvp", "execl", "spawnv", "putenv"):
    if hasattr(os, _n):
        setattr(os, _n, _blocked("os." + _n))
for _n in ("rmtree", "move", "chown"):
    setattr(shutil, _n, _blocked("shutil." + _n))
for _n in ("Popen", "run", "call", "check_call", "check_output", "getoutput", "getstatusoutput"):
    setattr(subprocess, _n, _blocked("subprocess." + _n))
builtins.exit = builtins.quit = _blocked("exit")
del _n, _blocked
`;
}

/**
 * Runs `program` (the code under test followed by its tests) and says whether it exited cleanly.
 * Throws SandboxUnavailableError only when Python cannot be started.
 */
export async function runPythonTests(program: string, o: SandboxOptions = {}): Promise<SandboxOutcome> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const python = o.python ?? 'python3';
  const dir = await mkdtemp(join(tmpdir(), 'safetune-code-'));
  const file = join(dir, 'program.py');
  await writeFile(file, `${guard(o.cpuSeconds ?? Math.ceil(timeoutMs / 1000), o.memoryBytes ?? 1 << 30)}\n${program}\n`);
  const started = performance.now();
  try {
    return await new Promise<SandboxOutcome>((resolve, reject) => {
      const child = spawn(python, ['-I', '-B', file], {
        cwd: dir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let output = '';
      const keep = (b: Buffer) => {
        if (output.length < OUTPUT_LIMIT) output += b.toString('utf8').slice(0, OUTPUT_LIMIT - output.length);
      };
      child.stdout.on('data', keep);
      child.stderr.on('data', keep);
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup(child.pid);
      }, timeoutMs);
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new SandboxUnavailableError(python, e.message));
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        killGroup(child.pid); // anything the program left behind in its group
        const ms = performance.now() - started;
        if (timedOut) resolve({ status: 'timeout', ms, reason: `tests did not finish within ${timeoutMs / 1000} s` });
        else if (code === 0) resolve({ status: 'passed', ms });
        else resolve({ status: 'failed', ms, reason: lastError(output) ?? (signal ? `killed by ${signal} (a resource limit)` : `exit code ${code}`) });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function killGroup(pid: number | undefined) {
  if (!pid) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

/** The last line of a Python traceback ("AssertionError", "NameError: name 'x' is not defined"). */
function lastError(output: string): string | null {
  const lines = output.trim().split('\n');
  const last = lines.at(-1)?.trim();
  return last ? last.slice(0, 300) : null;
}
