/**
 * Where a merge's time goes: runs one merge in this process (threads = THREADS, default 1) and
 * prints, as JSON, its wall time, user and system CPU, the time its threads waited for a CPU
 * (run-queue wait, /proc/<tid>/schedstat), the time they were blocked on disk (delay accounting,
 * /proc/<tid>/stat; 0 when the kernel does not account it), the read and write calls it made (count,
 * bytes, seconds inside them), page faults and peak RSS. With several threads, workers that have
 * finished are no longer in /proc: run-queue and disk waits then cover the main thread only.
 *
 *   node --import tsx bench/merge/phases.ts CONFIG.json OUT   (CONFIG: a MergeConfig as JSON; OUT is deleted after)
 *
 * bench:merge builds the models (KEEP=1 keeps them in bench/.cache/merge).
 */
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

interface Calls {
  n: number;
  bytes: number;
  ms: number;
}
const reads: Calls = { n: 0, bytes: 0, ms: 0 };
const writes: Calls = { n: 0, bytes: 0, ms: 0 };

/** Wrap one fs call to count its calls, bytes and time (the merge modules import fs after this). */
function timed<A extends unknown[]>(f: (...a: A) => number, c: Calls): (...a: A) => number {
  return (...a: A) => {
    const t = performance.now();
    const n = f(...a);
    c.ms += performance.now() - t;
    c.n++;
    c.bytes += n;
    return n;
  };
}

/** CPU run-queue wait and disk-blocked time of this process's live threads, in seconds. */
function waits(): { runQueue: number; disk: number } {
  let runQueue = 0;
  let disk = 0;
  for (const tid of fs.readdirSync('/proc/self/task')) {
    try {
      runQueue += Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[1]) / 1e9;
      const stat = fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      disk += Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[39]) / 100; // delayacct_blkio_ticks
    } catch {
      // the thread ended meanwhile
    }
  }
  return { runQueue, disk };
}

async function main(): Promise<void> {
  const [configPath, outPath] = process.argv.slice(2);
  if (!configPath || !outPath) throw new Error('usage: phases.ts CONFIG.json OUT');
  fs.readSync = timed(fs.readSync, reads) as typeof fs.readSync;
  fs.writeSync = timed(fs.writeSync, writes) as typeof fs.writeSync;
  syncBuiltinESMExports();
  const { runMerge } = await import('../../src/main/merge/driver');
  const { MergeConfig } = await import('../../src/shared/merge');
  const config = MergeConfig.parse(JSON.parse(fs.readFileSync(configPath, 'utf8')));
  const w0 = waits();
  const u0 = process.resourceUsage();
  const t0 = performance.now();
  await runMerge(config, outPath, { threads: Number(process.env.THREADS ?? 1) });
  const wall = (performance.now() - t0) / 1000;
  const w1 = waits();
  const u1 = process.resourceUsage();
  fs.rmSync(outPath, { recursive: true, force: true });
  const s = (x: number) => Number(x.toFixed(1));
  const calls = (c: Calls) => ({ calls: c.n, GB: Number((c.bytes / 1e9).toFixed(2)), seconds: s(c.ms / 1000) });
  console.log(
    JSON.stringify({
      wallSeconds: s(wall),
      userCpuSeconds: s((u1.userCPUTime - u0.userCPUTime) / 1e6),
      systemCpuSeconds: s((u1.systemCPUTime - u0.systemCPUTime) / 1e6),
      runQueueWaitSeconds: s(w1.runQueue - w0.runQueue),
      diskBlockedSeconds: s(w1.disk - w0.disk),
      reads: calls(reads),
      writes: calls(writes),
      majorFaults: u1.majorPageFault - u0.majorPageFault,
      minorFaults: u1.minorPageFault - u0.minorPageFault,
      maxRssMiB: Math.round(u1.maxRSS / 1024),
    }),
  );
}

void main();
