/**
 * Merge benchmark: TIES across three ~1B-parameter random fp16 models (TinyLlama-1.1B's shape, a
 * base and two fine-tunes, 2.2 GB each in 2 GB shards), streamed into a new fp16 folder. Reported:
 * input read throughput (GB/s of input tensor bytes) against `cp` of the same three folders in the
 * same run (runs interleaved merge, cp, merge, cp… so drift hits both), peak RSS against the goal
 * of 2 × the largest tensor + 300 MB, CPU time, and the load average, for each thread count in
 * THREADS (default: 1 and the machine's cores, at most 4). Warm cache by default (the inputs are
 * read once first); COLD=1 also drops the page cache before every run (needs root). The models are
 * deleted afterwards (KEEP=1 keeps them). CPU seconds (user + system) are reported for both the
 * merge and `cp`: on a shared machine they are steadier than wall time.
 *
 *   npm run bench:merge            (REPS=3; SIZE=small for a quick check of the script)
 *
 * Writes the generated "merge" block of bench/RESULTS.md (between its markers); the written
 * reading kept below the end marker is not touched.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResultsSection } from '../results';
import { buildSync } from 'esbuild';
import { benchTensors, LLAMA_1B, numelOf, writeBenchModel, type BenchShape } from './model';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cache = join(root, 'bench', '.cache', 'merge');
const REPS = Number(process.env.REPS ?? 3);
const SMALL: BenchShape = { vocab: 8000, hidden: 512, layers: 4, heads: 8, kvHeads: 4, ff: 1408 };
const shape = process.env.SIZE === 'small' ? SMALL : LLAMA_1B;
const workerDir = join(root, 'bench', '.cache', 'merge-worker');
const workerJs = join(workerDir, 'worker.js');

/**
 * The measured process bundled to plain JS like the app's build: code-split, so the modules the app
 * loads lazily (the folder-to-GGUF exporter, with onnxruntime and the tokenizer libraries) stay out
 * of the worker threads, as in the app.
 */
function bundle(): void {
  rmSync(workerDir, { recursive: true, force: true });
  buildSync({
    entryPoints: [join(root, 'bench', 'merge', 'worker.ts')],
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    outdir: workerDir,
    outExtension: { '.js': '.js' },
    external: ['onnxruntime-node', 'node-llama-cpp', '@huggingface/tokenizers', '@huggingface/jinja', 'yaml', 'zod'],
    logLevel: 'error',
  });
  writeFileSync(join(workerDir, 'package.json'), '{ "type": "module" }');
}
const THREADS = (process.env.THREADS ?? [...new Set([1, Math.min(4, availableParallelism())])].join(',')).split(',').map(Number);

interface MergeRun {
  seconds: number;
  cpuSeconds: number;
  bytesRead: number;
  maxRssMB: number;
}

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = (s: string) => process.stderr.write(`${s}\n`);

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((s, f) => s + statSync(join(dir, f)).size, 0);
}

/** Drop the page cache (root only); false when the kernel refuses. */
function dropCaches(): boolean {
  try {
    execFileSync('sh', ['-c', 'sync && echo 3 > /proc/sys/vm/drop_caches'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function runMergeOnce(configPath: string, out: string, threads: number): MergeRun {
  rmSync(out, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [workerJs, configPath, out, String(threads)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`merge failed: ${r.stderr}`);
  rmSync(out, { recursive: true, force: true });
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as MergeRun;
}

/** User + system CPU seconds of this process's finished children (/proc/self/stat cutime + cstime). */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / 100; // clock ticks (USER_HZ = 100 on Linux)
}

interface CpRun {
  seconds: number;
  cpuSeconds: number;
}

function runCpOnce(inputs: string[], dest: string): CpRun {
  rmSync(dest, { recursive: true, force: true });
  mkdirSync(dest);
  const c0 = childrenCpuSeconds();
  const t0 = performance.now();
  const r = spawnSync('cp', ['-r', ...inputs, dest], { stdio: 'ignore' });
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = childrenCpuSeconds() - c0;
  if (r.status !== 0) throw new Error('cp failed');
  rmSync(dest, { recursive: true, force: true });
  return { seconds, cpuSeconds };
}

function main(): void {
  mkdirSync(cache, { recursive: true });
  const names = ['base', 'ft1', 'ft2'];
  const dirs = names.map((n) => join(cache, n));
  const t0 = performance.now();
  dirs.forEach((d, i) => {
    // reuse a folder of this shape (KEEP=1 runs), rewrite anything else
    if (existsSync(join(d, 'model.safetensors.index.json')) && JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')).hidden_size === shape.hidden) return;
    rmSync(d, { recursive: true, force: true });
    log(`writing ${d}…`);
    writeBenchModel(d, shape, i === 0 ? null : i);
  });
  log(`models ready in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  bundle();
  const config = {
    method: 'ties',
    base: { modelPath: dirs[0] },
    models: [
      { model: { modelPath: dirs[1] }, parameters: { weight: 1, density: 0.5 } },
      { model: { modelPath: dirs[2] }, parameters: { weight: 0.5, density: 0.5 } },
    ],
  };
  const configPath = join(cache, 'ties.json');
  writeFileSync(configPath, JSON.stringify(config));
  const inputBytes = dirs.reduce((s, d) => s + folderBytes(d), 0);
  const params = benchTensors(shape).reduce((s, [, sh]) => s + numelOf(sh), 0);
  const largest = Math.max(...benchTensors(shape).map(([, sh]) => numelOf(sh) * 2));
  const out = join(cache, 'merged');
  const dest = join(cache, 'cp-dest');
  const modes: ('warm' | 'cold')[] = ['warm', ...(process.env.COLD === '1' ? (['cold'] as const) : [])];
  const sections: string[] = [];
  const la0 = loadavg();
  for (const mode of modes) {
    if (mode === 'cold' && !dropCaches()) {
      sections.push('- cold cache: not measured (the page cache could not be dropped: not root?)');
      continue;
    }
    if (mode === 'warm') spawnSync('sh', ['-c', `cat ${dirs.map((d) => `'${d}'/*`).join(' ')} > /dev/null`]);
    const merges = new Map<number, MergeRun[]>(THREADS.map((t) => [t, []]));
    const cps = new Map<number, CpRun[]>(THREADS.map((t) => [t, []]));
    const loads: number[] = [];
    for (let rep = 0; rep < REPS; rep++)
      for (const threads of THREADS) {
        if (mode === 'cold') dropCaches();
        loads.push(loadavg()[0]!);
        const m = runMergeOnce(configPath, out, threads);
        if (mode === 'cold') dropCaches();
        loads.push(loadavg()[0]!);
        const c = runCpOnce(dirs, dest);
        merges.get(threads)!.push(m);
        cps.get(threads)!.push(c);
        log(
          `${mode} rep ${rep + 1}, ${threads} thread(s): merge ${m.seconds.toFixed(1)} s (cpu ${m.cpuSeconds.toFixed(1)} s, RSS ${m.maxRssMB.toFixed(0)} MB), cp ${c.seconds.toFixed(1)} s (cpu ${c.cpuSeconds.toFixed(1)} s), load ${loadavg()[0]!.toFixed(1)}`,
        );
      }
    const rssGoal = (2 * largest) / 2 ** 20 + 300;
    const rows: string[] = [];
    const goals: string[] = [];
    for (const threads of THREADS) {
      const ms = merges.get(threads)!;
      const cs = cps.get(threads)!;
      const sec = median(ms.map((m) => m.seconds));
      const rss = median(ms.map((m) => m.maxRssMB));
      const ratio = median(ms.map((m, i) => cs[i]!.seconds / m.seconds));
      const cpuRatio = median(ms.map((m, i) => cs[i]!.cpuSeconds / m.cpuSeconds));
      const cpSec = median(cs.map((c) => c.seconds));
      const t = `${threads} thread${threads > 1 ? 's' : ''}`;
      rows.push(
        `| merge, ${t} | ${sec.toFixed(1)} | ${(inputBytes / 1e9 / sec).toFixed(3)} | ${median(ms.map((m) => m.cpuSeconds)).toFixed(1)} | ${rss.toFixed(0)} |`,
      );
      rows.push(
        `| cp -r (runs paired with the row above) | ${cpSec.toFixed(1)} | ${(inputBytes / 1e9 / cpSec).toFixed(3)} | ${median(cs.map((c) => c.cpuSeconds)).toFixed(1)} | — |`,
      );
      goals.push(
        `- ${t}: throughput merge / cp (pairwise, median) = ${ratio.toFixed(2)} (goal >= 0.7): ${ratio >= 0.7 ? 'met' : 'NOT met'}; by CPU seconds (cp's / the merge's) ${cpuRatio.toFixed(2)}; peak RSS ${rss.toFixed(0)} MiB vs 2 × largest tensor (${(largest / 2 ** 20).toFixed(0)} MiB fp16) + 300 MiB = ${rssGoal.toFixed(0)} MiB: ${rss <= rssGoal ? 'met' : 'NOT met'}`,
        `  - per run, merge / cp wall s: ${ms.map((m, i) => `${m.seconds.toFixed(1)} / ${cs[i]!.seconds.toFixed(1)}`).join(', ')}`,
      );
    }
    sections.push(
      [
        `### ${mode === 'warm' ? 'Warm' : 'Cold'} page cache (${mode === 'warm' ? 'inputs read once before the runs' : 'page cache dropped before every run'}), ${REPS} interleaved runs each, medians`,
        '',
        '| command | seconds | input GB/s | CPU s (user + system, all threads) | peak RSS MiB |',
        '|---|---|---|---|---|',
        ...rows,
        '',
        ...goals,
        `- 1-minute load average during the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
        '',
      ].join('\n'),
    );
  }
  const la1 = loadavg();
  const md = [
    '## Model merging (bench/merge)',
    '',
    `TIES (density 0.5, weights 1 and 0.5) of a base and two fine-tunes, random fp16 models of TinyLlama-1.1B's shape (${(params / 1e9).toFixed(2)} B parameters each: hidden ${shape.hidden}, ${shape.layers} layers, ${shape.heads}/${shape.kvHeads} heads, FFN ${shape.ff}, vocab ${shape.vocab}); ${(inputBytes / 1e9).toFixed(2)} GB of input in all, merged into a new fp16 folder. Each merge runs in a fresh Node process (the merge code bundled to plain JS); \`cp -r\` copies the same three folders. Both are timed from outside, interleaved.`,
    '',
    `- CPU: ${cpus()[0]?.model ?? '?'}, ${availableParallelism()} logical cores, RAM ${(totalmem() / 2 ** 30).toFixed(1)} GiB; load average ${la0.map((x) => x.toFixed(1)).join(' / ')} at the start, ${la1.map((x) => x.toFixed(1)).join(' / ')} at the end (the machine is shared)`,
    `- Node ${process.version}; the merge uses worker threads for several tensors at once (THREADS); its memory budget (256 MiB of chunk buffers) is split between them`,
    '',
    ...sections,
  ].join('\n');
  log(md);
  writeResultsSection('merge', md);
  if (process.env.KEEP !== '1') for (const d of [...dirs, out, dest]) rmSync(d, { recursive: true, force: true });
}

main();
