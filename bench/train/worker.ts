/**
 * One training-benchmark measurement in its own process: LoRA or full-parameter training steps on
 * stories260K or a random Llama (GGUF written by bench/engine/random-model.ts), printing one JSON line.
 *
 *   node --import tsx bench/train/worker.ts '<spec json>'   (bench/train/run.ts runs it bundled to plain JS)
 */
import { join } from 'node:path';
import { loadModel } from '../../src/main/engine';
import { BASE_QUANT_TYPES, Trainer, trainableParameterCount, type TrainableGroup, type TrainExample } from '../../src/main/engine/train';
import { trainingMemory } from '../../src/main/jobs/tasks';
import type { BaseQuant, LoraTarget } from '../../src/shared/train';
import { ensureRandomLlama, paramCount, type RandomLlamaSpec } from '../engine/random-model';

interface Spec extends RandomLlamaSpec {
  /** 'stories260K': train the real model (tokenizerFrom), not a random one of this shape */
  model?: string;
  /** activation checkpointing */
  recompute?: boolean;
  /** frozen projection weights stored in fp16 (implies recompute) */
  frozenF16?: boolean;
  /** LoRA on a frozen base quantised on load (the Train tab's choice; implies recompute) */
  baseQuant?: BaseQuant;
  /** full-parameter training of these weight groups (e.g. ['all']) instead of LoRA */
  full?: TrainableGroup[];
  rank: number;
  alpha: number;
  /** LoRA dropout (default 0) */
  dropout?: number;
  targets: string[];
  batch: number;
  seq: number;
  steps: number;
  threads: number;
  cacheDir: string;
  tokenizerFrom: string;
  /** storage type of the random model's matrices (default F32) */
  fileType?: 'F32' | 'F16';
}

const spec = JSON.parse(process.argv[2]!) as Spec;
const randomName = `train-llama-${spec.hidden}x${spec.layers}-${spec.vocab}${spec.untiedOutput ? '-untied' : ''}${spec.fileType === 'F16' ? '-f16' : ''}.gguf`;
const path = spec.model === 'stories260K' ? spec.tokenizerFrom : ensureRandomLlama(join(spec.cacheDir, randomName), spec, spec.tokenizerFrom, spec.fileType);
const cpu0 = process.cpuUsage();
const t0 = Date.now();
const model = loadModel(path);
let seed = 1;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
const data: TrainExample[] = Array.from({ length: spec.batch }, () => ({
  ids: Array.from({ length: spec.seq }, () => 3 + Math.floor(rand() * (spec.vocab - 3))),
}));
const recompute = spec.recompute || process.env.RECOMPUTE === '1';
const frozenWeightDtype = spec.frozenF16 ? 'float16' : 'float32';
const baseQuant = BASE_QUANT_TYPES[spec.baseQuant ?? 'none'] ?? undefined;
const weightCacheDir =
  process.env.WEIGHT_CACHE === '0'
    ? undefined
    : join(
        spec.cacheDir,
        `train-weights-${spec.hidden}x${spec.layers}${spec.frozenF16 ? '-f16' : ''}${spec.full ? '-full' : ''}${baseQuant ? `-${spec.baseQuant}` : ''}`,
      );
// the peak-memory estimate the Train tab shows before such a run (the train.estimateMemory task)
const estimate = await trainingMemory({
  modelPath: path,
  batchSize: spec.batch,
  maxLength: spec.seq,
  ...(spec.full
    ? { mode: 'full', trainable: spec.full, gradAccumSteps: 1 }
    : { mode: 'lora', rank: spec.rank, targetModules: spec.targets as LoraTarget[], dropout: spec.dropout ?? 0 }),
  recompute,
  frozenWeightDtype,
  ...(spec.baseQuant ? { baseQuant: spec.baseQuant } : {}),
});
const tr = await Trainer.create(model, data, {
  ...(spec.full ? { full: { trainable: spec.full } } : { lora: { rank: spec.rank, alpha: spec.alpha, dropout: spec.dropout, targetModules: spec.targets } }),
  lr: 1e-4,
  weightDecay: 0.01,
  maxSteps: spec.steps,
  batchSize: spec.batch,
  threads: spec.threads,
  schedule: { type: 'constant' },
  memArena: process.env.MEM_ARENA ? process.env.MEM_ARENA === '1' : undefined,
  recompute,
  frozenWeightDtype,
  ...(baseQuant ? { baseQuant } : {}),
  weightCacheDir,
});
const loraParams = tr.targets.reduce((s, t) => s + t.rank * (t.inFeatures + t.outFeatures), 0);
const trainedParams = trainableParameterCount(tr.trainable);
const setupMs = Date.now() - t0;
// for a parent that samples this process's memory by phase (bench/train/fit-7b.ts)
console.error(JSON.stringify({ phase: 'training', setupMs }));
const times: number[] = [];
const cpus: number[] = [];
let last = Date.now();
let lastCpu = process.cpuUsage();
let loss = 0;
await tr.train({
  onProgress: (m) => {
    const now = Date.now();
    const c = process.cpuUsage();
    times.push(now - last);
    cpus.push((c.user - lastCpu.user + c.system - lastCpu.system) / 1000);
    last = now;
    lastCpu = c;
    loss = m.loss;
  },
});
await tr.release();
const steady = times.length > 1 ? times.slice(1) : times;
const steadyCpu = cpus.length > 1 ? cpus.slice(1) : cpus;
const mean = (a: number[]) => a.reduce((s, x) => s + x, 0) / a.length;
const total = process.cpuUsage(cpu0);
console.log(
  JSON.stringify({
    engine: 'safetune',
    params: paramCount(spec),
    setupMs,
    stepMs: mean(steady),
    cpuMsPerStep: mean(steadyCpu),
    tokensPerSecond: (spec.batch * spec.seq * 1000) / mean(steady),
    tokensPerCpuSecond: (spec.batch * spec.seq * 1000) / mean(steadyCpu),
    totalCpuS: (total.user + total.system) / 1e6,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    estimateMB: estimate.totalBytes / 2 ** 20,
    loss,
    loraParams,
    trainedParams,
    weightCacheDir,
  }),
);
