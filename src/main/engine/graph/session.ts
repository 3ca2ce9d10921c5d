/** Create onnxruntime-node sessions from built models, and small tensor helpers. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { BuiltModel } from './builder';
import type { DType } from './types';

export { ort };

export interface SessionOptions {
  /** execution providers in order of preference (default ['cpu']) */
  executionProviders?: string[];
  /** intra-op threads (default: available parallelism, at most 8) */
  intraOpThreads?: number;
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** write the model (and in-memory external data) to this folder and load it by path (lower peak memory for big models) */
  saveDir?: string;
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** write an onnxruntime profile JSON with this file prefix */
  profilePrefix?: string;
  /** extra session config entries (e.g. { 'session.disable_prepacking': '1' }) */
  extra?: Record<string, string>;
  /** onnxruntime CPU memory arena (default true) */
  memArena?: boolean;
  /** load an already saved model from this .onnx path instead of the given bytes */
  modelPath?: string;
}

export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/**
 * Create an InferenceSession for a built model. In-memory external data is passed through
 * `externalData` without copies. File-backed initializers (`fileWeight`) must use locations
 * relative to `saveDir`, where the model is then written and loaded by path (onnxruntime 1.30
 * rejects absolute external-data paths and symlinks that leave the model folder).
 */
export async function createSession(model: BuiltModel, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const so: ort.InferenceSession.SessionOptions = {
    executionProviders: opts.executionProviders ?? ['cpu'],
    intraOpNumThreads: opts.intraOpThreads ?? defaultThreads(),
    interOpNumThreads: 1,
    graphOptimizationLevel: opts.graphOptimizationLevel ?? 'all',
    logSeverityLevel: opts.logSeverityLevel ?? 3,
    enableCpuMemArena: opts.memArena ?? true,
  };
  if (opts.profilePrefix) {
    so.enableProfiling = true;
    so.profileFilePrefix = opts.profilePrefix;
  }
  if (opts.extra) {
    // onnxruntime-common flattens nested objects into dotted config keys
    const nested: Record<string, Record<string, string>> = {};
    for (const [k, v] of Object.entries(opts.extra)) {
      const [a, ...rest] = k.split('.');
      (nested[a!] ??= {})[rest.join('.')] = v;
    }
    so.extra = nested;
  }
  if (opts.modelPath) return ort.InferenceSession.create(opts.modelPath, so);
  if (model.externalFiles.length && !opts.saveDir)
    throw new Error(
      `model references external files (${model.externalFiles.join(', ')}): pass saveDir (the folder they are relative to; onnxruntime rejects absolute paths and links escaping the model folder)`,
    );
  if (opts.saveDir) {
    const path = saveModel(model, opts.saveDir, 'model.onnx');
    return ort.InferenceSession.create(path, so);
  }
  if (model.externalData.length) so.externalData = model.externalData;
  return ort.InferenceSession.create(model.bytes, so);
}

/** Write a built model and its in-memory external data into a folder; returns the .onnx path. */
export function saveModel(model: BuiltModel, dir: string, fileName = 'model.onnx'): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, fileName);
  writeFileSync(path, model.bytes);
  for (const e of model.externalData) {
    const p = isAbsolute(e.path) ? e.path : join(dir, e.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, e.data);
  }
  return path;
}

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
};

export function ortType(d: DType): ort.Tensor.Type {
  const t = ORT_TYPE[d];
  if (!t) throw new Error(`dtype ${d} is not supported by onnxruntime-node tensors`);
  return t;
}

export function f32Tensor(data: Float32Array | number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data instanceof Float32Array ? data : Float32Array.from(data), dims);
}

export function i64Tensor(data: ArrayLike<number> | BigInt64Array, dims: number[]): ort.Tensor {
  const arr = data instanceof BigInt64Array ? data : BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
  return new ort.Tensor('int64', arr, dims);
}
