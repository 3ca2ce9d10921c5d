/**
 * Atomic training checkpoints. A checkpoint is a folder `<root>/checkpoint-<step>` holding the
 * trained values — the adapter in PEFT format (loadable for inference as it is), or with
 * full-parameter training the trained weights in weights.safetensors (F32, Hugging Face names) —,
 * the optimiser moments and trainer_state.json (step, data cursor, RNG state, loss history,
 * config). It is written into
 * `<root>/.tmp-…`, every file fsynced, then renamed into place and the root fsynced: a crash or a
 * full disk while saving leaves the previous checkpoint untouched and valid.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SafetensorsFile, writeSafetensors } from '../hf/safetensors';
import { readPeftAdapter, writePeftAdapter } from '../hf/peftAdapter';
import { fsyncDir, removeQuietly, renameDurable, writeFileDurable } from './fsutil';
import type { FullParams, TrainableWeight } from './full';
import type { LoraConfig, LoraParams, LoraTarget } from './lora';
import type { AdamWState } from './optim';

export const CHECKPOINT_VERSION = 1;

export interface TrainerStateJson {
  version: number;
  /** optimiser steps completed */
  step: number;
  /** data cursor: epoch and position in that epoch's order */
  epoch: number;
  cursor: number;
  /** Rng.state of the trainer (dropout, replay sampling) */
  rngState: number;
  /** per-step training loss so far */
  losses: number[];
  tokensSeen: number;
  /** the options the run was started with (checked on resume) */
  options: unknown;
  /** model identity (path and config) */
  model: { path: string; config: unknown };
  /** extra state of continual-learning terms */
  extra?: Record<string, unknown>;
  savedAt: string;
}

export interface CheckpointData {
  state: TrainerStateJson;
  params: LoraParams | FullParams;
  optimizer: AdamWState;
}

/** the trained weights of a full-parameter checkpoint */
const WEIGHTS_FILE = 'weights.safetensors';

const NAME = /^checkpoint-(\d+)$/;

export function checkpointName(step: number): string {
  return `checkpoint-${String(step).padStart(7, '0')}`;
}

/**
 * Save a checkpoint atomically; keeps the newest `keep` checkpoints (default 2). Returns its folder.
 * `lora` is the adapter's configuration (null for full-parameter training).
 */
export function saveCheckpoint(root: string, data: CheckpointData, lora: LoraConfig | null, opts: { keep?: number; baseModel?: string } = {}): string {
  mkdirSync(root, { recursive: true });
  const final = join(root, checkpointName(data.state.step));
  const tmp = join(root, `.tmp-${checkpointName(data.state.step)}-${process.pid}-${Date.now()}`);
  try {
    mkdirSync(tmp);
    const params = data.params;
    if ('weights' in params) {
      const path = join(tmp, WEIGHTS_FILE);
      writeSafetensors(
        path,
        params.weights.map((w) => ({ name: w.name, shape: w.shape, dtype: 'F32' as const, data: () => params.tensors.get(w.name)! })),
        { format: 'pt' },
      );
      writeFileDurable(path, null);
    } else {
      if (!lora) throw new Error('a LoRA checkpoint needs the adapter configuration');
      writePeftAdapter(tmp, params, lora, { baseModel: opts.baseModel });
    }
    const opt = join(tmp, 'optimizer.safetensors');
    const tensors = [...data.optimizer.m.keys()].flatMap((k) => [
      { name: `m.${k}`, shape: [data.optimizer.m.get(k)!.length], dtype: 'F32' as const, data: () => data.optimizer.m.get(k)! },
      { name: `v.${k}`, shape: [data.optimizer.v.get(k)!.length], dtype: 'F32' as const, data: () => data.optimizer.v.get(k)! },
    ]);
    writeSafetensors(opt, tensors, { step: String(data.optimizer.step) });
    writeFileDurable(opt, null);
    writeFileDurable(join(tmp, 'trainer_state.json'), JSON.stringify(data.state));
    fsyncDir(tmp);
    if (existsSync(final)) {
      const old = join(root, `.old-${checkpointName(data.state.step)}-${Date.now()}`);
      renameDurable(final, old);
      renameDurable(tmp, final);
      removeQuietly(old);
    } else renameDurable(tmp, final);
  } catch (e) {
    removeQuietly(tmp);
    throw new Error(`saving checkpoint ${final} failed (the previous checkpoint is kept): ${(e as Error).message}`);
  }
  const keep = opts.keep ?? 2;
  const all = listCheckpoints(root);
  for (const c of all.slice(0, Math.max(0, all.length - keep))) removeQuietly(c.dir);
  return final;
}

/** Complete checkpoints under root, oldest first (temporary folders of interrupted saves are ignored). */
export function listCheckpoints(root: string): { step: number; dir: string }[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .map((n) => ({ m: NAME.exec(n), n }))
    .filter((x) => x.m && existsSync(join(root, x.n, 'trainer_state.json')))
    .map((x) => ({ step: Number(x.m![1]), dir: join(root, x.n) }))
    .sort((a, b) => a.step - b.step);
}

/** The newest readable checkpoint folder, or null. */
export function latestCheckpoint(root: string): string | null {
  const all = listCheckpoints(root);
  for (let i = all.length - 1; i >= 0; i--) {
    try {
      JSON.parse(readFileSync(join(all[i]!.dir, 'trainer_state.json'), 'utf8'));
      return all[i]!.dir;
    } catch {
      // unreadable: fall back to an older one
    }
  }
  return null;
}

/**
 * Load a checkpoint folder for the given LoRA targets, or for full-parameter training the given
 * trainable weights (their shapes are checked).
 */
export function loadCheckpoint(dir: string, layout: LoraTarget[] | TrainableWeight[]): CheckpointData {
  const state = JSON.parse(readFileSync(join(dir, 'trainer_state.json'), 'utf8')) as TrainerStateJson;
  if (state.version !== CHECKPOINT_VERSION) throw new Error(`${dir}: checkpoint version ${state.version} is not supported (expected ${CHECKPOINT_VERSION})`);
  const full = existsSync(join(dir, WEIGHTS_FILE));
  const wantFull = layout.length > 0 && !('rank' in layout[0]!);
  if (full !== wantFull)
    throw new Error(
      `${dir}: the checkpoint is from ${full ? 'full-parameter' : 'LoRA'} training; it cannot resume ${wantFull ? 'full-parameter' : 'LoRA'} training`,
    );
  const params = full ? readTrainedWeights(join(dir, WEIGHTS_FILE), layout as TrainableWeight[]) : readPeftAdapter(dir, layout as LoraTarget[]);
  const f = new SafetensorsFile(join(dir, 'optimizer.safetensors'));
  const m = new Map<string, Float32Array>();
  const v = new Map<string, Float32Array>();
  for (const name of f.tensors.keys()) {
    if (name.startsWith('m.')) m.set(name.slice(2), f.readF32(name));
    else if (name.startsWith('v.')) v.set(name.slice(2), f.readF32(name));
  }
  return { state, params, optimizer: { step: Number(f.metadata['step'] ?? state.step), m, v } };
}

/** The trained weights of a full-parameter checkpoint, in `weights` order. */
function readTrainedWeights(path: string, weights: TrainableWeight[]): FullParams {
  const f = new SafetensorsFile(path);
  const tensors = new Map<string, Float32Array>();
  for (const w of weights) {
    if (!f.tensors.has(w.name)) throw new Error(`${path}: missing ${w.name} (the checkpoint trained other weights)`);
    const info = f.info(w.name);
    if (info.shape.join(',') !== w.shape.join(','))
      throw new Error(`${path}: ${w.name} has shape [${info.shape.join(', ')}], expected [${w.shape.join(', ')}]`);
    tensors.set(w.name, f.readF32(w.name));
  }
  return { weights, tensors };
}
