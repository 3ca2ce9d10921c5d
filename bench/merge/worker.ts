/**
 * One measured merge, in its own process (bundled to plain JS like the app's job worker): reads a
 * MergeConfig (JSON), an output path and a thread count, merges, and prints its timing, CPU time
 * and peak RSS as JSON.
 */
import { readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { runMerge } from '../../src/main/merge/driver';
import { MergeConfig } from '../../src/shared/merge';

// this bundle is also the merge worker threads' module: only the main thread merges
if (isMainThread) {
  const [configPath, outPath, threads] = process.argv.slice(2);
  const config = MergeConfig.parse(JSON.parse(readFileSync(configPath!, 'utf8')));
  const r = await runMerge(config, outPath!, { threads: Number(threads ?? 1) });
  // CPU of the whole process (worker threads included) and its peak RSS
  const u = process.resourceUsage();
  console.log(JSON.stringify({ ...r, cpuSeconds: (u.userCPUTime + u.systemCPUTime) / 1e6, maxRssMB: u.maxRSS / 1024 }));
}
