/**
 * One measured merge, in its own process (bundled to plain JS like the app's job worker): reads a
 * MergeConfig (JSON) and an output path, merges, and prints its timing and peak RSS as JSON.
 */
import { readFileSync } from 'node:fs';
import { runMerge } from '../../src/main/merge/driver';
import { MergeConfig } from '../../src/shared/merge';

const [configPath, outPath] = process.argv.slice(2);
const config = MergeConfig.parse(JSON.parse(readFileSync(configPath!, 'utf8')));
const cpu0 = process.cpuUsage();
const r = runMerge(config, outPath!);
const cpu = process.cpuUsage(cpu0);
console.log(JSON.stringify({ ...r, cpuSeconds: (cpu.user + cpu.system) / 1e6, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
