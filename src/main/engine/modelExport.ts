/**
 * Export a whole model — typically one trained with full-parameter training (Trainer.trainedModel())
 * or initialised from a config — as a Hugging Face folder (sharded safetensors + config.json +
 * tokenizer files) or a GGUF file (llama architecture), loadable by this engine and other tools.
 * Tensors are read and written one at a time. The output is written under a temporary name and
 * renamed when complete, so a cancelled or failed export leaves nothing half-written, and an
 * existing file or folder is never overwritten.
 *
 * Config and tokenizer: a model loaded from a Hugging Face folder keeps that folder's config.json,
 * tokenizer and generation files (copied); any other model (a GGUF file, a model initialised from a
 * config) gets a config.json written from its DecoderConfig and its tokenizer's files (a
 * SentencePiece tokenizer converted to tokenizer.json).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { exportGguf } from './gguf/export';
import { hfConfigJson } from './hf/configWriter';
import { writeSafetensors, type StTensorSource } from './hf/safetensors';
import { writeTokenizerFiles } from './hf/tokenizerWriter';
import { expectedWeightShapes } from './model/decoderGraph';
import type { LoadedModel } from './model/loaded';

export interface ExportModelOptions {
  /** 'hf' (a folder) or 'gguf' (a file); default: 'gguf' when the path ends in .gguf, else 'hf' */
  format?: 'hf' | 'gguf';
  /**
   * stored precision of the weights (default F32; GGUF norms are always F32). 'source': each tensor
   * as the model stores it (F32, F16, BF16) in a folder; in a GGUF, F32 when every stored tensor is F32, else F16
   */
  dtype?: 'F32' | 'F16' | 'source';
  /** largest safetensors shard (default 5 GiB, as Hugging Face writes them) */
  maxShardBytes?: number;
  /** GGUF general.name (default the model's name) */
  name?: string;
  /** called before each tensor is written */
  onProgress?: (done: number, total: number, tensor: string) => void;
  /** polled before each tensor; true stops the export and removes the partial output */
  shouldStop?: () => boolean;
}

export interface ExportModelResult {
  /** the folder (Hugging Face) or file (GGUF) to load */
  modelPath: string;
  format: 'hf' | 'gguf';
  tensors: number;
  bytes: number;
  /** true when shouldStop ended the export (nothing is left on disk) */
  cancelled: boolean;
}

export class ExportCancelled extends Error {
  constructor() {
    super('export cancelled');
  }
}

/** Source-folder files that describe weights or adapters (not copied: an export writes its own). */
const WEIGHT_FILE = /(\.safetensors|\.bin|\.pt|\.pth|\.gguf|\.safetensors\.index\.json|\.bin\.index\.json)$/i;
const ADAPTER_FILE = /^adapter_(config\.json|model\.)/;

/** A stored dtype kept in a folder export (anything else, a quantised GGUF tensor included, as F32). */
function keptDtype(stored: string): 'F32' | 'F16' | 'BF16' {
  return stored === 'F16' || stored === 'BF16' ? stored : 'F32';
}

/** Bytes of one stored element per safetensors dtype. */
const BYTES = { F32: 4, F16: 2, BF16: 2 } as const;

/** A Hugging Face folder the model was loaded from (null for GGUF files and models initialised from a config). */
export function sourceFolder(model: LoadedModel): string | null {
  return model.format === 'hf' && existsSync(join(model.path, 'config.json')) && statSync(model.path).isDirectory() ? model.path : null;
}

/**
 * Copy the non-weight files of a Hugging Face model folder (config, tokenizer, generation config,
 * chat template, licence…) into `dir`.
 */
export function copyModelFolderFiles(from: string, dir: string): void {
  for (const f of readdirSync(from)) {
    const src = join(from, f);
    if (WEIGHT_FILE.test(f) || ADAPTER_FILE.test(f) || !statSync(src).isFile()) continue;
    copyFileSync(src, join(dir, f));
  }
}

/**
 * Write tensors as safetensors into `dir`: one model.safetensors, or shards of at most `maxShard`
 * bytes with a model.safetensors.index.json (Hugging Face's layout). Returns the bytes of tensor data.
 */
export function writeSafetensorsShards(dir: string, tensors: StTensorSource[], maxShard: number): number {
  const sized = tensors.map((t) => ({ ...t, bytes: t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype] }));
  const shards: (typeof sized)[] = [[]];
  let size = 0;
  for (const t of sized) {
    if (size > 0 && size + t.bytes > maxShard) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += t.bytes;
  }
  const total = sized.reduce((s, t) => s + t.bytes, 0);
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

/** Write `model` (its weights as its weight source gives them) to `outPath`. */
export function exportModel(model: LoadedModel, outPath: string, opts: ExportModelOptions = {}): ExportModelResult {
  if (existsSync(outPath)) throw new Error(`${outPath} already exists: choose a new name (an export never overwrites)`);
  const format = opts.format ?? (/\.gguf$/i.test(outPath) ? 'gguf' : 'hf');
  if (format === 'gguf' && !/\.gguf$/i.test(outPath)) throw new Error(`${outPath}: a GGUF export is one file: give a path ending in .gguf`);
  const dtype = opts.dtype ?? 'F32';
  // the model's tensors in the engine's order (a tied LM head is the embedding matrix, written once)
  const names = [...expectedWeightShapes(model.config).keys()];
  let done = 0;
  const tick = (name: string) => {
    if (opts.shouldStop?.()) throw new ExportCancelled();
    opts.onProgress?.(done++, names.length, name);
  };
  const tmp = join(dirname(outPath), `.${basename(outPath)}.partial-${process.pid}`);
  mkdirSync(dirname(outPath), { recursive: true });
  rmSync(tmp, { recursive: true, force: true });
  try {
    let bytes: number;
    if (format === 'hf') {
      mkdirSync(tmp);
      const src = sourceFolder(model);
      if (src) copyModelFolderFiles(src, tmp);
      else {
        writeFileSync(join(tmp, 'config.json'), JSON.stringify(hfConfigJson(model.config, { torch_dtype: dtype === 'F16' ? 'float16' : 'float32' }), null, 2));
        writeTokenizerFiles(tmp, model.tokenizer, { chatTemplate: model.chatTemplate, maxLength: model.config.maxPositions });
      }
      const tensors: StTensorSource[] = names.map((name) => ({
        name,
        shape: model.weights.shape(name),
        dtype: dtype === 'source' ? keptDtype(model.weights.dtype(name)) : dtype,
        data: () => (tick(name), model.weights.f32(name)),
      }));
      bytes = writeSafetensorsShards(tmp, tensors, opts.maxShardBytes ?? 5 * 2 ** 30);
    } else {
      const w = model.weights;
      const counting: LoadedModel = {
        ...model,
        weights: {
          origin: w.origin,
          names: () => w.names(),
          has: (n) => w.has(n),
          shape: (n) => w.shape(n),
          dtype: (n) => w.dtype(n),
          f32: (n) => (tick(n), w.f32(n)),
        },
      };
      const type = dtype !== 'source' ? dtype : names.every((n) => w.dtype(n) === 'F32') ? 'F32' : 'F16';
      exportGguf(counting, tmp, { type, name: opts.name ?? model.name });
      bytes = statSync(tmp).size;
    }
    renameSync(tmp, outPath);
    opts.onProgress?.(names.length, names.length, '');
    return { modelPath: outPath, format, tensors: names.length, bytes, cancelled: false };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    if (e instanceof ExportCancelled) return { modelPath: outPath, format, tensors: done, bytes: 0, cancelled: true };
    throw e;
  }
}
