/**
 * Training benchmark: LoRA steps with our engine (onnxruntime, hand-built backward graph, AdamW in
 * TypeScript) vs PyTorch (Debian python3-torch, autograd, torch.optim.AdamW) on the same model shape
 * with random weights. Each measurement runs in its own process (peak RSS is per run); the first
 * step is a warm-up and is not timed. Both wall time and process CPU time per step are reported:
 * the benchmark machine is shared, and CPU time is the steadier of the two under contention.
 *
 *   npm run bench:train        (REPS=1 STEPS=3 THREADS=2 CONFIGS=stories260k-b8s256,smol135m-b1s128,smol135m-b4s256,smol135m-b4s256-recompute,smol135m-b4s256-recompute-f16)
 *
 * Writes the train section of bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
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

/** SmolLM-135M's shape (a 134.5M-parameter Llama): hidden 576, 30 layers, 9 heads / 3 KV heads, FFN 1536, vocab 49152 */
const SMOL = { hidden: 576, layers: 30, heads: 9, kvHeads: 3, ffn: 1536, vocab: 49152, context: 2048 };
/** stories260K's shape; our side trains the real GGUF, PyTorch the same shape with random weights (speed does not depend on the values) */
const STORIES = { hidden: 64, layers: 5, heads: 8, kvHeads: 4, ffn: 172, vocab: 512, context: 512, model: 'stories260K' };
const CONFIGS: Record<string, typeof SMOL & { model?: string; recompute?: boolean; frozenF16?: boolean; batch: number; seq: number; rank: number; alpha: number; targets: string[] }> = {
  'stories260k-b8s256': { ...STORIES, batch: 8, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b1s128': { ...SMOL, batch: 1, seq: 128, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b4s256': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'] },
  'smol135m-b4s256-recompute': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'], recompute: true },
  'smol135m-b4s256-recompute-f16': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'v'], recompute: true, frozenF16: true },
  'smol135m-b4s256-all': { ...SMOL, batch: 4, seq: 256, rank: 8, alpha: 16, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
};
const chosen = (process.env.CONFIGS ?? 'stories260k-b8s256,smol135m-b1s128,smol135m-b4s256,smol135m-b4s256-recompute,smol135m-b4s256-recompute-f16').split(',');

interface Row {
  engine: string;
  stepMs: number;
  cpuMsPerStep: number;
  tokensPerSecond: number;
  tokensPerCpuSecond: number;
  maxRssMB: number;
  setupMs?: number;
  estimateMB?: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** the worker bundled to plain JS, as the app ships it (no TypeScript loader in the measured process) */
const workerJs = join(root, 'bench', '.cache', 'train-worker.mjs');

/**
 * Our side runs as the train.run job does: frozen weights streamed to a file onnxruntime memory-maps
 * (WEIGHT_CACHE=0 reads them into memory instead) and the job's V8 young-generation cap.
 */
function runOurs(spec: object): Row {
  const out = execFileSync(process.execPath, [...ENGINE_JOB_NODE_FLAGS, workerJs, JSON.stringify(spec)], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  return JSON.parse(out.trim().split('\n').pop()!) as Row;
}

function runTorch(spec: object): Row {
  const out = execFileSync(PYTHON, [join(root, 'bench', 'train', 'torch_ref.py'), JSON.stringify(spec)], { encoding: 'utf8', maxBuffer: 1 << 24 });
  return JSON.parse(out.trim().split('\n').pop()!) as Row;
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
 * Model FLOPs of one LoRA step on frozen weights: every linear layer (and the LM head) costs 2N per
 * token forward and 2N backward (input gradients only; no weight gradients), attention scores and
 * mixing 4·S·d per token per layer forward and twice that backward. LoRA's own matmuls are ignored.
 */
function stepFlops(c: (typeof CONFIGS)[string]): number {
  const hd = c.hidden / c.heads;
  const perLayer = c.hidden * c.heads * hd * 2 + c.hidden * c.kvHeads * hd * 2 + 3 * c.hidden * c.ffn;
  const linear = c.layers * perLayer + c.vocab * c.hidden;
  const attention = c.layers * 4 * c.seq * c.heads * hd;
  return c.batch * c.seq * (4 * linear + 3 * attention);
}

bundleWorker(join(root, 'bench', 'train', 'worker.ts'), workerJs);
const lines: string[] = [];
const started = new Date().toISOString();
lines.push(await calibrate(), '');
for (const name of chosen) {
  const c = CONFIGS[name];
  if (!c) throw new Error(`unknown config ${name} (known: ${Object.keys(CONFIGS).join(', ')})`);
  const spec = { ...c, steps: STEPS, threads: THREADS, cacheDir: join(root, 'bench', '.cache'), tokenizerFrom: stories };
  const ours: Row[] = [];
  const torch: Row[] = [];
  for (let r = 0; r < REPS; r++) {
    ours.push(runOurs(spec));
    console.log(name, 'ours', JSON.stringify(ours.at(-1)));
    torch.push(runTorch(spec));
    console.log(name, 'torch', JSON.stringify(torch.at(-1)));
  }
  const flops = stepFlops(c);
  const row = (label: string, rs: Row[]) =>
    `| ${label} | ${median(rs.map((r) => r.stepMs)).toFixed(0)} | ${median(rs.map((r) => r.cpuMsPerStep)).toFixed(0)} | ${median(rs.map((r) => r.tokensPerSecond)).toFixed(1)} | ${median(rs.map((r) => r.tokensPerCpuSecond)).toFixed(1)} | ${(flops / (median(rs.map((r) => r.cpuMsPerStep)) / 1000) / 1e9).toFixed(1)} | ${median(rs.map((r) => r.maxRssMB)).toFixed(0)} |`;
  lines.push(
    `### ${name}: batch ${c.batch} × ${c.seq} tokens, LoRA r${c.rank} on ${c.targets.join(',')}, ${THREADS} threads${c.recompute ? ', activation checkpointing per layer on both sides (ours: recompute; PyTorch: torch.utils.checkpoint)' : ''}${c.frozenF16 ? ', frozen projection weights stored in fp16 and cast to fp32 where used on both sides' : ''}`,
    '',
    '| engine | wall ms/step | CPU ms/step | tokens/s (wall) | tokens per CPU-second | model GFLOP per CPU-second | peak RSS MB |',
    '|---|---|---|---|---|---|---|',
    row('SafeTune (onnxruntime-node 1.30, CPU EP)', ours),
    row(`PyTorch ${(torch[0] as Row & { torch?: string }).torch ?? ''} (autograd, OpenBLAS)`, torch),
    '',
    `Model FLOPs per step ${(flops / 1e9).toFixed(0)} G (frozen-weight LoRA: 4N per token for the linear layers, no weight gradients, plus attention); compare the GFLOP per CPU-second column with the MatMul calibration above. Peak RSS ours / PyTorch: ${(median(ours.map((r) => r.maxRssMB)) / median(torch.map((r) => r.maxRssMB))).toFixed(2)}× (goal ≤ 1.2); tokens/s ours / PyTorch: ${(median(ours.map((r) => r.tokensPerSecond)) / median(torch.map((r) => r.tokensPerSecond))).toFixed(2)}× (goal ≥ 1.0).`,
    '',
    `Estimated peak (estimateTrainingMemory): ${median(ours.map((r) => r.estimateMB ?? 0)).toFixed(0)} MB for SafeTune. Speed-up in CPU time per step: ${(median(torch.map((r) => r.cpuMsPerStep)) / median(ours.map((r) => r.cpuMsPerStep))).toFixed(2)}×; SafeTune setup (read weights, build and optimise the training graph): ${median(ours.map((r) => r.setupMs ?? 0)).toFixed(0)} ms.`,
    '',
  );
}
const md = [
  '## Engine part 2: LoRA training (ours vs PyTorch on CPU)',
  '',
  `Run ${started} on ${cpus()[0]?.model ?? 'CPU'} × ${cpus().length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}; ${REPS} repetition(s), ${STEPS} steps each (the first is a warm-up, not timed), medians. stories260K: our side trains the real model, PyTorch random weights of its shape; SmolLM-135M's shape: random weights on both sides. The same masked-CE + AdamW step in both engines. The machine is shared with other jobs: wall times vary a lot, CPU time per step less.`,
  '',
  ...lines,
].join('\n');
writeResultsSection('train', md);
console.log(md);
