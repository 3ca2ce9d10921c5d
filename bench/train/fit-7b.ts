/**
 * Does LoRA training of a 7B model fit a 24 GB accelerator with fp16 frozen weights and activation
 * checkpointing? Measured here on the CPU execution provider, the only one this machine has: one
 * training step of a random-weight model with Llama-2-7B's exact shape (6.74 B parameters, F16 GGUF),
 * the peak memory of the training process split into anonymous memory (what onnxruntime and Node
 * allocate: activations, casts, adapter, optimiser) and file-backed pages (the fp16 weight file
 * onnxruntime memory-maps; on a GPU these bytes are the weights copied to device memory).
 *
 *   npm run bench:train-7b     (SEQ=512 BATCH=1 RANK=16 THREADS=2; writes ~27 GB under bench/.cache
 *                               the first time: the GGUF and the trainer's fp16 weight file)
 *   BASE_QUANT=q4_0 npm run bench:train-7b
 *                              LoRA on a frozen base quantised on load (the Train tab's "Frozen base",
 *                              `--base-quant`; q8_0 | q4_0 | q4_k): QLoRA-style, its own section
 *
 * Writes the train-7b section of bench/RESULTS.md (train-7b-<type> with BASE_QUANT).
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeResultsSection } from '../results';
import { bundleWorker, ENGINE_JOB_NODE_FLAGS } from '../worker-process';
import { paramCount } from '../engine/random-model';
import { BASE_QUANTS, BaseQuant } from '../../src/shared/train';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.SAFETUNE_SHARED_DIR ?? join(root, '..', 'shared');
const stories = join(shared, 'models', 'stories260K.gguf');
if (!existsSync(stories)) {
  console.error(`skipped: ${stories} not found (the random model borrows its tokenizer)`);
  process.exit(0);
}

/** Llama-2-7B: hidden 4096, 32 layers, 32 heads (no GQA), FFN 11008, vocab 32000, untied LM head */
const LLAMA2_7B = { hidden: 4096, layers: 32, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000, context: 4096, untiedOutput: true };
const baseQuant = BaseQuant.parse(process.env.BASE_QUANT ?? 'none');
const quantised = baseQuant !== 'none';
const spec = {
  ...LLAMA2_7B,
  fileType: 'F16' as const,
  batch: Number(process.env.BATCH ?? 1),
  seq: Number(process.env.SEQ ?? 512),
  rank: Number(process.env.RANK ?? 16),
  alpha: 2 * Number(process.env.RANK ?? 16),
  /** the Train tab's default */
  dropout: 0.05,
  targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'],
  recompute: true,
  frozenF16: true,
  ...(quantised ? { baseQuant } : {}),
  steps: 1,
  threads: Number(process.env.THREADS ?? 2),
  cacheDir: join(root, 'bench', '.cache'),
  tokenizerFrom: stories,
};

interface Mem {
  rss: number;
  anon: number;
  file: number;
}
/** resident memory of a process in bytes, from /proc/<pid>/status */
function memOf(pid: number): Mem | null {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') + kb('RssShmem') };
  } catch {
    return null;
  }
}

const workerJs = join(root, 'bench', '.cache', 'train-worker.mjs');
bundleWorker(join(root, 'bench', 'train', 'worker.ts'), workerJs);
const started = new Date().toISOString();
const loadStart = loadavg()[0]!;
const child = spawn(process.execPath, [...ENGINE_JOB_NODE_FLAGS, workerJs, JSON.stringify(spec)], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
const peak = { setup: { rss: 0, anon: 0, file: 0 }, training: { rss: 0, anon: 0, file: 0 } };
let phase: keyof typeof peak = 'setup';
let out = '';
child.stdout.on('data', (d: Buffer) => (out += d.toString()));
child.stderr.on('data', (d: Buffer) => {
  const text = d.toString();
  if (text.includes('"phase":"training"')) phase = 'training';
  process.stderr.write(text);
});
const sampler = setInterval(() => {
  const m = memOf(child.pid!);
  if (!m) return;
  const p = peak[phase];
  p.rss = Math.max(p.rss, m.rss);
  p.anon = Math.max(p.anon, m.anon);
  p.file = Math.max(p.file, m.file);
}, 200);
const code: number = await new Promise((res) => child.on('exit', (c) => res(c ?? 1)));
clearInterval(sampler);
if (code !== 0) throw new Error(`the training worker exited with ${code}`);
const r = JSON.parse(out.trim().split('\n').pop()!) as {
  setupMs: number;
  stepMs: number;
  maxRssMB: number;
  estimateMB: number;
  loss: number;
  tokensPerSecond: number;
  loraParams: number;
  weightCacheDir: string;
};
const GB = (b: number) => (b / 2 ** 30).toFixed(1);
// the trainer's weight file (fp16 projections, fp32 embeddings, head and norms)
const weightFileBytes = readdirSync(r.weightCacheDir)
  .filter((f) => f.endsWith('.bin'))
  .reduce((sum, f) => sum + statSync(join(r.weightCacheDir, f)).size, 0);
const deviceBytes = weightFileBytes + peak.training.anon;
/** the smallest common accelerator memory size the step fits under */
function fitsCard(bytes: number): string {
  const card = [8, 12, 16, 24, 48, 80].find((gib) => bytes < gib * 2 ** 30);
  return card ? `under the ${card} GiB of a "${card} GB" card` : 'over the 80 GiB of the largest common card';
}
const frozen = quantised
  ? `frozen projections quantised on load to ${BASE_QUANTS[baseQuant].label} (QLoRA-style: the adapter, its gradients and all compute fp32)`
  : 'frozen projections stored in fp16 (embeddings and LM head fp32; all compute fp32)';
const md = [
  quantised
    ? `## Engine part 2: 7B LoRA on a ${BASE_QUANTS[baseQuant].label} frozen base with checkpointing (CPU EP as the proxy)`
    : '## Engine part 2: does 7B LoRA fit 24 GB with fp16 frozen weights and checkpointing? (CPU EP as the proxy)',
  '',
  `Run ${started} on ${cpus()[0]?.model ?? 'CPU'} × ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}, ${spec.threads} threads, ` +
    `1-minute load average ${loadStart.toFixed(1)} at the start and ${loadavg()[0]!.toFixed(1)} at the end (2 cores, shared). ` +
    `Random weights of Llama-2-7B's shape (${(paramCount(LLAMA2_7B) / 1e9).toFixed(2)} B parameters, F16 GGUF), LoRA r${spec.rank} α${spec.alpha} dropout ${spec.dropout} on q,k,v,o,gate,up,down ` +
    `(${(r.loraParams / 1e6).toFixed(1)} M trainable), batch ${spec.batch} × ${spec.seq} tokens, one AdamW step, activation checkpointing per layer, ${frozen}. ` +
    'Memory of the training process sampled every 200 ms from /proc: anonymous = what onnxruntime and Node allocate ' +
    '(activations, per-layer fp32 casts of the weights, adapter, gradients, AdamW moments); file-backed = resident pages of the weight file onnxruntime memory-maps.',
  '',
  '| phase | peak RSS GiB | peak anonymous GiB | peak file-backed GiB |',
  '|---|---|---|---|',
  `| setup (read GGUF, write the ${quantised ? 'quantised' : 'fp16'} weight file, build and optimise the graph) | ${GB(peak.setup.rss)} | ${GB(peak.setup.anon)} | ${GB(peak.setup.file)} |`,
  `| training step | ${GB(peak.training.rss)} | ${GB(peak.training.anon)} | ${GB(peak.training.file)} |`,
  '',
  `Setup ${(r.setupMs / 1000).toFixed(0)} s, the step ${(r.stepMs / 1000).toFixed(0)} s (${r.tokensPerSecond.toFixed(2)} tokens/s on this CPU), loss ${r.loss.toFixed(3)} ` +
    `(a uniform prediction: ln 32000 = ${Math.log(32000).toFixed(3)}). Peak RSS by getrusage ${GB(r.maxRssMB * 2 ** 20)} GiB; estimateTrainingMemory said ${GB(r.estimateMB * 2 ** 20)} GiB.`,
  '',
  `The weight file onnxruntime maps holds ${GB(weightFileBytes)} GiB (not all of it is resident on the CPU: only the embedding rows of the batch's tokens are read). ` +
    `On a GPU the whole file is copied to device memory and the step's anonymous memory is the graph's working set, so the step needs about ${GB(deviceBytes)} GiB ` +
    `(weight file + peak anonymous; this counts Node's and onnxruntime's own ~0.2 GiB, which stay in host memory on a GPU): ` +
    `${fitsCard(deviceBytes)}. Not measured on a GPU: the CUDA EP's arena and kernels add their own overhead.`,
].join('\n');
writeResultsSection(quantised ? `train-7b-${baseQuant}` : 'train-7b', md);
console.log(md);
