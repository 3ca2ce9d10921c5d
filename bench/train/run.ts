/**
 * Training benchmark: LoRA and full-parameter steps with our engine (onnxruntime, hand-built
 * backward graph, AdamW in TypeScript) vs PyTorch (Debian python3-torch, autograd,
 * torch.optim.AdamW) on the same model shape with random weights. Each measurement runs in its own
 * process (peak RSS is per run), ours and PyTorch's alternating; the first step is a warm-up and is
 * not timed. Both wall time and process CPU time per step are reported, with the 1-minute load
 * average when each process started: the benchmark machine is shared, and CPU time is the steadier
 * of the two under contention.
 *
 *   npm run bench:train        (REPS=1 STEPS=3 THREADS=2 CONFIGS=stories260k-b8s256,smol135m-b1s128,smol135m-b4s256,smol135m-b4s256-recompute,smol135m-b4s256-recompute-f16,smol135m-b4s256-q4)
 *   CONFIGS=stories260k-full-b8s256,llama15m-full-b4s256 npm run bench:train    (full-parameter rows)
 *
 *   PYTORCH=0 CONFIGS=… npm run bench:train   (our side only: the estimate-vs-measured table alone)
 *
 * Every row of ours sets the peak-memory estimate the Train tab shows before such a run (the
 * train.estimateMemory task) beside the measured peak RSS (goal: within 15%).
 *
 * Writes the train section (LoRA rows) and the train-full section (full-parameter rows) of
 * bench/RESULTS.md, each only when the run measured rows of its kind and PyTorch ran, and the
 * train-memory section (every row's estimate against its measured peak RSS) in either case.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { writeResultsSection } from '../results';
import { fileURLToPath } from 'node:url';
import { Graph, createSession, ort } from '../../src/main/engine/graph';
import { bundleWorker, ENGINE_JOB_NODE_FLAGS } from '../worker-process';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const shared = process.env.SAFETUNE_SHARED_DIR ?? join(root, '..', 'shared');
const stories = join(shared, 'models', 'stories260K.gguf');
const REPS = Number(process.env.REPS ?? 1);
const STEPS = Number(process.env.STEPS ?? 3);
const THREADS = Number(process.env.THREADS ?? 2);
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
/** PYTORCH=0: our side only (the estimate-vs-measured table; no speed comparison) */
const PYTORCH = process.env.PYTORCH !== '0';

/** SmolLM-135M's shape (a 134.5M-parameter Llama): hidden 576, 30 layers, 9 heads / 3 KV heads, FFN 1536, vocab 49152 */
const SMOL = { hidden: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, vocab: 49152, context: 2048 };
/** stories260K's shape; our side trains the real GGUF, PyTorch the same shape with random weights (speed does not depend on the values) */
const STORIES = { hidden: 64, layers: 5, heads: 8, kvHeads: 4, ffn: 172, vocab: 512, context: 512, model: 'stories260K', untiedOutput: true };
/** stories15M's shape (llama2.c; a 15.2M-parameter Llama with tied embeddings): hidden 288, 6 layers, 6 heads, FFN 768, vocab 32000 */
const LLAMA15M = { hidden: 288, layers: 6, heads: 6, kvHeads: 6, ffn: 768, vocab: 32000, context: 1024 };
type Config = Omit<typeof SMOL, 'context'> & {
  context: number;
  model?: string;
  untiedOutput?: boolean;
  recompute?: boolean;
  frozenF16?: boolean;
  /** ours: LoRA on a frozen base quantised on load (recompute on); PyTorch: fp32 LoRA as in the plain row */
  baseQuant?: string;
  full?: string[];
  batch: number;
  seq: number;
  rank: number;
  alpha: number;
  targets: string[];
};
const CONFIGS: Record<string, Config> = {
  'stories260k-b8s256': { ...STORIES, batch: 8, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b1s128': { ...SMOL, batch: 1, seq: 128, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b4s256': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b4s256-recompute': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'], recompute: true },
  'smol135m-b4s256-recompute-f16': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'], recompute: true, frozenF16: true },
  'smol135m-b4s256-q4': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'], baseQuant: 'q4_0' },
  'smol135m-b4s256-all': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
  // full-parameter training: every weight (embeddings, norms, projections, LM head) trains
  'stories260k-full-b8s256': { ...STORIES, batch: 8, seq: 256, rank: 0, alpha: 0, targets: [], full: ['all'] },
  'llama15m-full-b4s256': { ...LLAMA15M, batch: 4, seq: 256, rank: 0, alpha: 0, targets: [], full: ['all'] },
};
const chosen = (
  process.env.CONFIGS ?? 'stories260k-b8s256,smol135m-b1s128,smol135m-b4s256,smol135m-b4s256-recompute,smol135m-b4s256-recompute-f16,smol135m-b4s256-q4'
).split(',');

interface Row {
  engine: string;
  /** 1-minute load average when the process started */
  loadAvg?: number;
  trainedParams?: number;
  stepMs: number;
  cpuMsPerStep: number;
  tokensPerSecond: number;
  tokensPerCpuSecond: number;
  maxRssMB: number;
  setupMs?: number;
  estimateMB?: number;
}

/** the median (the mean of the two middle values of an even count) */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** the worker bundled to plain JS, as the app ships it (no TypeScript loader in the measured process) */
const workerJs = join(root, 'bench', '.cache', 'train-worker.mjs');

/**
 * Our side runs as the train.run job does: frozen weights streamed to a file onnxruntime memory-maps
 * (WEIGHT_CACHE=0 reads them into memory instead) and the job's V8 young-generation cap.
 */
function runOurs(spec: object): Row {
  const loadAvg = loadavg()[0]!;
  const out = execFileSync(process.execPath, [...ENGINE_JOB_NODE_FLAGS, workerJs, JSON.stringify(spec)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return { ...(JSON.parse(out.trim().split('\n').pop()!) as Row), loadAvg };
}

function runTorch(spec: object): Row {
  const loadAvg = loadavg()[0]!;
  const out = execFileSync(PYTHON, [join(root, 'bench', 'train', 'torch_ref.py'), JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return { ...(JSON.parse(out.trim().split('\n').pop()!) as Row), loadAvg };
}

if (!existsSync(stories)) {
  console.error(`skipped: ${stories} not found (the random model borrows its tokenizer)`);
  process.exit(0);
}
/** raw 1024³ fp32 MatMul throughput of both engines right now: how loaded the shared CPU is */
async function calibrate(): Promise<string> {
  const g = new Graph('mm');
  const a = g.input('a', 'float32', [1024, 1024]);
  g.output(g.matmul(a, a), 'y');
  const s = await createSession(g.build(), { intraOpThreads: THREADS });
  const A = new ort.Tensor('float32', new Float32Array(1024 * 1024).fill(0.5), [1024, 1024]);
  await s.run({ a: A });
  const c0 = process.cpuUsage();
  for (let i = 0; i < 10; i++) await s.run({ a: A });
  const c = process.cpuUsage(c0);
  await s.release();
  const ours = (20 * 1024 ** 3) / ((c.user + c.system) / 1e6) / 1e9;
  const py = `import torch,time\ntorch.set_num_threads(${THREADS})\na=torch.full((1024,1024),0.5);a@a\nc=time.process_time()\nfor i in range(10): a@a\nprint(20*1024**3/(time.process_time()-c)/1e9)`;
  const torch = Number(execFileSync(PYTHON, ['-c', py], { encoding: 'utf8' }).trim());
  return `Calibration, 1024³ fp32 MatMul: onnxruntime ${ours.toFixed(1)}, PyTorch ${torch.toFixed(1)} GFLOP per CPU-second (an idle core of this CPU does ~75).`;
}

/**
 * Model FLOPs of one step: every linear layer (and the LM head) costs 2N per token forward and 2N
 * backward for the input gradients, plus 2N for the weight gradients in full-parameter training
 * (LoRA on frozen weights has none; its own matmuls are ignored); attention scores and mixing
 * 4·S·d per token per layer forward and twice that backward.
 */
function stepFlops(c: Config): number {
  const hd = c.hidden / c.heads;
  const perLayer = c.hidden * c.heads * hd * 2 + c.hidden * c.kvHeads * hd * 2 + 3 * c.hidden * c.ffn;
  const linear = c.layers * perLayer + c.vocab * c.hidden;
  const attention = c.layers * 4 * c.seq * c.heads * hd;
  return c.batch * c.seq * ((c.full ? 6 : 4) * linear + 3 * attention);
}

bundleWorker(join(root, 'bench', 'train', 'worker.ts'), workerJs);
const lines: Record<'lora' | 'full', string[]> = { lora: [], full: [] };
/** per kind, each row's estimate shown before the run against its measured peak RSS */
const estimates: Record<'lora' | 'full', string[]> = { lora: [], full: [] };
/** "name 1234 / 1300 MB = 0.95", flagged when more than 15% off */
function estimateReading(name: string, ours: Row[]): string {
  const est = median(ours.map((r) => r.estimateMB ?? 0));
  const rss = median(ours.map((r) => r.maxRssMB));
  const ratio = est / rss;
  return `${name} ${est.toFixed(0)} / ${rss.toFixed(0)} MB = ${ratio.toFixed(2)}${Math.abs(ratio - 1) > 0.15 ? ' (off by more than 15%)' : ''}`;
}
/** one row of the train-memory table */
const memoryRows: string[] = [];
function memoryRow(name: string, c: Config, ours: Row[]): string {
  const est = median(ours.map((r) => r.estimateMB ?? 0));
  const rss = median(ours.map((r) => r.maxRssMB));
  const what = c.full
    ? `full (${c.full.join(',')})`
    : `LoRA r${c.rank} ${c.targets.join(',')}${c.recompute ? ', recompute' : ''}${c.frozenF16 ? ', fp16 frozen' : ''}${c.baseQuant ? `, ${c.baseQuant} base (recompute)` : ''}`;
  return `| ${name} | ${what} | ${c.batch} × ${c.seq} | ${est.toFixed(0)} | ${rss.toFixed(0)} | ${(est / rss).toFixed(2)} | ${ours.map((r) => (r.loadAvg ?? 0).toFixed(1)).join(', ')} |`;
}
const estimatesLine = (rows: string[]) =>
  `Estimate shown before a run (the Train tab's, train.estimateMemory) / measured peak RSS, goal within 15%: ${rows.join('; ')}.`;
const started = new Date().toISOString();
const calibration = PYTORCH ? await calibrate() : '';
for (const name of chosen) {
  const c = CONFIGS[name];
  if (!c) throw new Error(`unknown config ${name} (known: ${Object.keys(CONFIGS).join(', ')})`);
  const spec = { ...c, steps: STEPS, threads: THREADS, cacheDir: join(root, 'bench', '.cache'), tokenizerFrom: stories };
  const ours: Row[] = [];
  const torch: Row[] = [];
  for (let r = 0; r < REPS; r++) {
    ours.push(runOurs(spec));
    console.log(name, 'ours', JSON.stringify(ours.at(-1)));
    if (!PYTORCH) continue;
    torch.push(runTorch(spec));
    console.log(name, 'torch', JSON.stringify(torch.at(-1)));
  }
  estimates[c.full ? 'full' : 'lora'].push(estimateReading(name, ours));
  memoryRows.push(memoryRow(name, c, ours));
  if (!PYTORCH) continue;
  const flops = stepFlops(c);
  /** the estimate shown before the run and its ratio to the measured peak (ours only: PyTorch has none) */
  const estimateCells = (rs: Row[]) => {
    if (rs.some((r) => r.estimateMB === undefined)) return '— | —';
    const est = median(rs.map((r) => r.estimateMB!));
    return `${est.toFixed(0)} | ${(est / median(rs.map((r) => r.maxRssMB))).toFixed(2)}`;
  };
  const row = (label: string, rs: Row[]) =>
    `| ${label} | ${median(rs.map((r) => r.stepMs)).toFixed(0)} | ${median(rs.map((r) => r.cpuMsPerStep)).toFixed(0)} | ${median(rs.map((r) => r.tokensPerSecond)).toFixed(1)} | ${median(rs.map((r) => r.tokensPerCpuSecond)).toFixed(1)} | ${(flops / (median(rs.map((r) => r.cpuMsPerStep)) / 1000) / 1e9).toFixed(1)} | ${median(rs.map((r) => r.maxRssMB)).toFixed(0)} | ${estimateCells(rs)} | ${rs.map((r) => (r.loadAvg ?? 0).toFixed(1)).join(', ')} |`;
  const ratios = `Peak RSS ours / PyTorch: ${(median(ours.map((r) => r.maxRssMB)) / median(torch.map((r) => r.maxRssMB))).toFixed(2)}× (goal ≤ 1.2); tokens/s ours / PyTorch: ${(median(ours.map((r) => r.tokensPerSecond)) / median(torch.map((r) => r.tokensPerSecond))).toFixed(2)}× (goal ≥ 1.0).`;
  const header = [
    '| engine | wall ms/step | CPU ms/step | tokens/s (wall) | tokens per CPU-second | model GFLOP per CPU-second | peak RSS MB | estimate shown before the run MB | estimate / peak RSS | load avg at start |',
    '|---|---|---|---|---|---|---|---|---|---|',
    row('SafeTune (onnxruntime-node 1.30, CPU EP)', ours),
    row(`PyTorch ${(torch[0] as Row & { torch?: string }).torch ?? ''} (autograd, OpenBLAS)`, torch),
    '',
  ];
  if (c.full) {
    const p = median(ours.map((r) => r.trainedParams ?? 0));
    const est = median(ours.map((r) => r.estimateMB ?? 0));
    const rss = median(ours.map((r) => r.maxRssMB));
    lines.full.push(
      `### ${name}: ${(p / 1e6).toFixed(2)} M parameters, all trained, batch ${c.batch} × ${c.seq} tokens, ${THREADS} threads`,
      '',
      ...header,
      `Model FLOPs per step ${(flops / 1e9).toFixed(0)} G (6N per token for the linear layers: forward, input and weight gradients, plus attention). ${ratios} Trained parameters: ours ${p.toLocaleString('en-US')}, PyTorch ${(median(torch.map((r) => r.trainedParams ?? 0))).toLocaleString('en-US')}.`,
      '',
      `Memory: the estimate shown before the run said ${est.toFixed(0)} MB, measured peak RSS ${rss.toFixed(0)} MB (estimate / measured ${(est / rss).toFixed(2)}); the trained weights, their gradients and AdamW moments are ${((16 * p) / 2 ** 20).toFixed(0)} MB of it. Speed-up in CPU time per step: ${(median(torch.map((r) => r.cpuMsPerStep)) / median(ours.map((r) => r.cpuMsPerStep))).toFixed(2)}×; SafeTune setup (read weights, build and optimise the training graph): ${median(ours.map((r) => r.setupMs ?? 0)).toFixed(0)} ms.`,
      '',
    );
    continue;
  }
  lines.lora.push(
    `### ${name}: batch ${c.batch} × ${c.seq} tokens, LoRA r${c.rank} on ${c.targets.join(',')}, ${THREADS} threads${c.recompute ? ', activation checkpointing per layer on both sides (ours: recompute; PyTorch: torch.utils.checkpoint)' : ''}${c.frozenF16 ? ', frozen projection weights stored in fp16 and cast to fp32 where used on both sides' : ''}${c.baseQuant ? `, ours: frozen base quantised on load to ${c.baseQuant} (QLoRA-style, dequantised per layer where used; recompute on), PyTorch: fp32 LoRA without checkpointing` : ''}`,
    '',
    ...header,
    `Model FLOPs per step ${(flops / 1e9).toFixed(0)} G (frozen-weight LoRA: 4N per token for the linear layers, no weight gradients, plus attention); compare the GFLOP per CPU-second column with the MatMul calibration above. ${ratios}`,
    '',
    `Speed-up in CPU time per step: ${(median(torch.map((r) => r.cpuMsPerStep)) / median(ours.map((r) => r.cpuMsPerStep))).toFixed(2)}×; SafeTune setup (read weights, build and optimise the training graph): ${median(ours.map((r) => r.setupMs ?? 0)).toFixed(0)} ms.`,
    '',
  );
}
const machine = `Run ${started} on ${cpus()[0]?.model ?? 'CPU'} × ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}; ${REPS} repetition(s), ${STEPS} steps each (the first is a warm-up, not timed), medians; ${PYTORCH ? 'ours and PyTorch alternate' : 'our side only'}, each in a fresh process.`;
if (lines.lora.length) {
  const md = [
    '## Engine part 2: LoRA training (ours vs PyTorch on CPU)',
    '',
    `${machine} stories260K: our side trains the real model, PyTorch random weights of its shape; SmolLM-135M's shape: random weights on both sides. The same masked-CE + AdamW step in both engines. The machine is shared with other jobs: wall times vary a lot, CPU time per step less.`,
    '',
    calibration,
    '',
    estimatesLine(estimates.lora),
    '',
    ...lines.lora,
  ].join('\n');
  writeResultsSection('train', md);
  console.log(md);
}
if (memoryRows.length) {
  const md = [
    '## Engine part 2: the training memory estimate against measured peak RSS',
    '',
    `${machine} Each row is a fresh process running the train.run job's trainer (frozen weights memory-mapped from the weight file, the job's Node flags), its peak RSS (getrusage maxrss, setup included) against the estimate the Train tab shows before such a run (the train.estimateMemory task, from the model's header). Goal: within 15%. Peak RSS hardly depends on the load; the load average is recorded because the machine is shared.`,
    '',
    '| config | run | batch × tokens | estimate shown before the run MB | measured peak RSS MB | estimate / measured | load avg at start |',
    '|---|---|---|---|---|---|---|',
    ...memoryRows,
  ].join('\n');
  writeResultsSection('train-memory', md);
  console.log(md);
}
if (lines.full.length) {
  const md = [
    '## Engine part 2: full-parameter training (ours vs PyTorch on CPU)',
    '',
    `${machine} Every weight trains (embeddings, norms, attention and MLP projections, LM head): masked CE, gradient clipping, AdamW over all parameters in both engines. stories260K: our side trains the real model (untied LM head), PyTorch random weights of its shape; stories15M's shape (tied embeddings): random weights on both sides. The machine is shared with other jobs: wall times vary a lot, CPU time per step less.`,
    '',
    calibration,
    '',
    estimatesLine(estimates.full),
    '',
    ...lines.full,
  ].join('\n');
  writeResultsSection('train-full', md);
  console.log(md);
}
