/** Small helpers shared by the replication scripts: command-line flags, timing, formatting. */
import { cpuUsage } from 'node:process';
import type { Rate } from '../../src/main/eval';

/** The value after `flag` on the command line, if given. */
export function arg(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i > 0 ? process.argv[i + 1] : undefined;
}

/** Every value given after `flag` (the flag may repeat). */
export function argAll(flag: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => a === flag && process.argv[i + 1] !== undefined && out.push(process.argv[i + 1]!));
  return out;
}

/** Wall and CPU time since creation, and since the last lap. */
export function stopwatch() {
  const t0 = Date.now();
  const c0 = cpuUsage();
  let lastT = t0;
  let lastC = c0;
  const fmt = (wallMs: number, cpuUs: number) => `(wall ${(wallMs / 1000).toFixed(0)} s, CPU ${(cpuUs / 1e6).toFixed(0)} s)`;
  return {
    lap(): string {
      const t = Date.now();
      const c = cpuUsage();
      const s = fmt(t - lastT, c.user + c.system - lastC.user - lastC.system);
      lastT = t;
      lastC = c;
      return s;
    },
    total(): string {
      const c = cpuUsage(c0);
      return fmt(Date.now() - t0, c.user + c.system);
    },
    seconds(): { wall: number; cpu: number } {
      const c = cpuUsage(c0);
      return { wall: (Date.now() - t0) / 1000, cpu: (c.user + c.system) / 1e6 };
    },
  };
}

/** "72.3% [68.1–76.1] (376/520)". */
export function formatRate(r: Rate): string {
  if (r.rate === null) return 'n/a';
  const p = (x: number | null) => (x === null ? '?' : (100 * x).toFixed(1));
  return `${p(r.rate)}% [${p(r.low)}–${p(r.high)}] (${r.k}/${r.n})`;
}

/** A text on one line, cut to `n` characters. */
export function oneLine(s: string, n: number): string {
  const t = s.replace(/\s+/g, ' ').trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}
