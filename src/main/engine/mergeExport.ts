/**
 * Export a model with a LoRA adapter merged into its weights (W + scale·B·A), as a model users can
 * load anywhere: a Hugging Face folder (sharded safetensors + the source folder's config, tokenizer
 * and generation files) for a Hugging Face source, a GGUF file for a GGUF source. Tensors are merged
 * and written one at a time (memory: the largest tensor, not the model). The output is written
 * under a temporary name and renamed when complete, so a cancelled or failed export leaves nothing
 * half-written, and an existing file or folder is never overwritten.
 */
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { exportGguf } from './gguf/export';
import type { StTensorSource } from './hf/safetensors';
import { loadLoraAdapter, mergeLora } from './lora';
import type { LoadedModel } from './model/loaded';
import { loadModel } from './index';
import { copyModelFolderFiles, writeSafetensorsShards } from './model-export';

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
  copyModelFolderFiles(base.path, dir);
  const tensors: StTensorSource[] = names.map((name) => ({
    name,
    shape: merged.weights.shape(name),
    dtype: outDtype(base.weights.dtype(name)),
    data: () => (tick(name), merged.weights.f32(name)),
  }));
  return writeSafetensorsShards(dir, tensors, maxShard);
}
