/**
 * Export a model with a LoRA adapter merged into its weights (W + scale·B·A), as a model users can
 * load anywhere: mergeLora (the merged weights, computed tensor by tensor as they are read) written
 * by exportModel — a Hugging Face folder (sharded safetensors + the source folder's config,
 * tokenizer and generation files) for a Hugging Face source, a GGUF file for a GGUF source, each
 * tensor in the precision the source stores it. exportModel writes under a temporary name and
 * renames when complete, so a cancelled or failed export leaves nothing, and never overwrites.
 */
import { basename } from 'node:path';
import { loadLoraAdapter } from './hf/peftAdapter';
import { mergeLora } from './lora';
import { loadModel } from './index';
import { exportModel, type ExportModelOptions, type ExportModelResult } from './modelExport';

export type MergeExportOptions = Pick<ExportModelOptions, 'onProgress' | 'shouldStop' | 'maxShardBytes'>;

/**
 * Merge `adapterPath` (PEFT folder) into the model at `modelPath` and write it to `outPath`: a
 * folder for a Hugging Face model, a .gguf file for a GGUF model. Stored precision is kept (F32,
 * F16, BF16; quantised GGUF tensors are written as F16).
 */
export function exportMergedModel(modelPath: string, adapterPath: string, outPath: string, opts: MergeExportOptions = {}): ExportModelResult {
  const base = loadModel(modelPath);
  if (base.format === 'gguf' && !/\.gguf$/i.test(outPath))
    throw new Error(`${outPath}: the model is a GGUF file, so the merged model is one too: give a path ending in .gguf`);
  const merged = mergeLora(base, loadLoraAdapter(adapterPath));
  return exportModel(merged, outPath, { ...opts, format: base.format, dtype: 'source', name: `${base.name} + ${basename(adapterPath)}` });
}
