/**
 * Export a model with a LoRA adapter merged into its weights (W + scale·B·A), as a model users can
 * load anywhere: a Hugging Face folder (sharded safetensors + the source folder's config, tokenizer
 * and generation files) for a Hugging Face source, a GGUF file for a GGUF source. Tensors are merged
 * and written one at a time (memory: the largest tensor, not the model). The output is written
 * under a temporary name and renamed when complete, so a cancelled or failed export leaves nothing
 * half-written, and an existing file or folder is never overwritten.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { exportGguf } from './export';
import { writeSafetensors, type StTensorSource } from './hf/safetensors';
import { loadLoraAdapter, mergeLora } from './lora';
import type { LoadedModel } from './model/loaded';
import { loadModel } from './index';

export interface MergeExportOptions {
  /** called before each tensor is merged and written */
  onProgress?: (done: number, total: number, tensor: string) => void;
  /** polled before each tensor; true stops the export and removes the partial output */
  shouldStop?: () => boolean;
  /** largest safetensors shard (default 5 GiB, as Hugging Face writes them) */
  maxShardBytes?: number;
}

export interface MergeExportResult {
  /** the folder (Hugging Face) or file (GGUF) to load */
  modelPath: string;
  format: 'hf' | 'gguf';
  tensors: number;
  bytes: number;
  /** true when shouldStop ended the export (nothing is left on disk) */
  cancelled: boolean;
}

export class MergeExportCancelled extends Error {
  constructor() {
    super('export cancelled');
  }
}

/** Source-folder files that describe weights (not copied: the export writes its own). */
const WEIGHT_FILE = /(\.safetensors|\.bin|\.pt|\.pth|\.gguf|\.safetensors\.index\.json|\.bin\.index\.json)$/i;
const ADAPTER_FILE = /^adapter_(config\.json|model\.)/;

/** Bytes of one stored element per output dtype. */
const BYTES = { F32: 4, F16: 2, BF16: 2 } as const;

function outDtype(stored: string): 'F32' | 'F16' | 'BF16' {
  return stored === 'F16' || stored === 'BF16' ? stored : 'F32';
}

/**
 * Merge `adapterPath` (PEFT folder) into the model at `modelPath` and write it to `outPath`: a
 * folder for a Hugging Face model, a .gguf file for a GGUF model. Stored precision is kept (F32,
 * F16, BF16; quantised GGUF tensors are written as F16).
 */
export function exportMergedModel(modelPath: string, adapterPath: string, outPath: string, opts: MergeExportOptions = {}): MergeExportResult {
  if (existsSync(outPath)) throw new Error(`${outPath} already exists: choose a new name (an export never overwrites)`);
  const base = loadModel(modelPath);
  if (base.format === 'gguf' && !/\.gguf$/i.test(outPath)) throw new Error(`${outPath}: the model is a GGUF file, so the merged model is one too: give a path ending in .gguf`);
  const merged = mergeLora(base, loadLoraAdapter(adapterPath));
  const names = merged.weights.names();
  let done = 0;
  const tick = (name: string) => {
    if (opts.shouldStop?.()) throw new MergeExportCancelled();
    opts.onProgress?.(done++, names.length, name);
  };
  const tmp = join(dirname(outPath), `.${basename(outPath)}.partial-${process.pid}`);
  mkdirSync(dirname(outPath), { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  try {
    let bytes: number;
    if (base.format === 'hf') bytes = writeHfFolder(base, merged, names, tmp, tick, opts.maxShardBytes ?? 5 * 2 ** 30);
    else {
      const counting: LoadedModel = { ...merged, weights: { ...merged.weights, f32: (n) => (tick(n), merged.weights.f32(n)) } };
      const stored = new Set(names.map((n) => base.weights.dtype(n)));
      exportGguf(counting, tmp, { type: [...stored].every((d) => d === 'F32') ? 'F32' : 'F16', name: `${base.name} + ${basename(adapterPath)}` });
      bytes = statSync(tmp).size;
    }
    renameSync(tmp, outPath);
    opts.onProgress?.(names.length, names.length, '');
    return { modelPath: outPath, format: base.format, tensors: names.length, bytes, cancelled: false };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof MergeExportCancelled) return { modelPath: outPath, format: base.format, tensors: done, bytes: 0, cancelled: true };
    throw e;
  }
}

function writeHfFolder(base: LoadedModel, merged: LoadedModel, names: string[], dir: string, tick: (name: string) => void, maxShard: number): number {
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(base.path)) {
    const src = join(base.path, f);
    if (WEIGHT_FILE.test(f) || ADAPTER_FILE.test(f) || !statSync(src).isFile()) continue;
    copyFileSync(src, join(dir, f));
  }
  const tensors: (StTensorSource & { bytes: number })[] = names.map((name) => {
    const shape = merged.weights.shape(name);
    const dtype = outDtype(base.weights.dtype(name));
    return {
      name,
      shape,
      dtype,
      bytes: shape.reduce((a, b) => a * b, 1) * BYTES[dtype],
      data: () => (tick(name), merged.weights.f32(name)),
    };
  });
  const shards: (typeof tensors)[] = [[]];
  let size = 0;
  for (const t of tensors) {
    if (size > 0 && size + t.bytes > maxShard) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += t.bytes;
  }
  const total = tensors.reduce((s, t) => s + t.bytes, 0);
  const metadata = { format: 'pt' };
  if (shards.length === 1) {
    writeSafetensors(join(dir, 'model.safetensors'), shards[0]!, metadata);
    return total;
  }
  const pad = (n: number) => String(n).padStart(5, '0');
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, i) => {
    const file = `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    writeSafetensors(join(dir, file), shard, metadata);
    for (const t of shard) weightMap[t.name] = file;
  });
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  return total;
}
