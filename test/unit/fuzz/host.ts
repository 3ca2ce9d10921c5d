/**
 * The fuzz harness's child process: loads a loaders module, then runs one case per message and
 * answers with the outcome and the case's peak RSS (Linux: VmHWM after resetting it through
 * /proc/self/clear_refs; elsewhere the RSS after the case).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

type Loader = (file: string) => unknown;

const moduleArg = process.argv[2]!;
const url = moduleArg.startsWith('file:') ? moduleArg : pathToFileURL(moduleArg).href;
const loaders = ((await import(url)) as { default: Record<string, Loader> }).default;

function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function peakRssMb(canReset: boolean): number | null {
  if (canReset) {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
      if (m) return Number(m[1]) / 1024;
    } catch {
      /* fall through */
    }
  }
  return process.memoryUsage().rss / 2 ** 20;
}

process.on('message', async (m: { loader: string; file: string }) => {
  const fn = loaders[m.loader];
  const canReset = resetPeak();
  const t0 = performance.now();
  let ok = true;
  let message: string | null = null;
  try {
    if (!fn) throw new Error(`no loader named ${m.loader}`);
    await fn(m.file);
  } catch (e) {
    ok = false;
    message = e instanceof Error ? e.message : String(e);
  }
  process.send!({ ok, message, ms: performance.now() - t0, peakRssMb: peakRssMb(canReset) });
});
