/**
 * File-level quantizer: a GGUF file (or, through the GGUF export, a Hugging Face folder) written as
 * a quantised GGUF that llama.cpp loads, the way `llama-quantize IN OUT <TYPE>` does without an
 * importance matrix.
 *
 * The per-tensor type mix is llama.cpp's (src/llama-quant.cpp, llama_tensor_get_type) for the
 * presets below, on dense models (no MoE experts):
 * - only tensors of two or more dimensions whose name ends in "weight" and is not a norm
 *   ("_norm.weight"), an expert router (ffn_gate_inp), a position or token-type embedding are
 *   quantised; the rest keep their type (F32 norms and biases);
 * - the LM head (output.weight, or token_embd.weight when the embeddings are tied) becomes Q6_K
 *   unless the preset's type is Q8_0 (Q8_0 when its row length does not fit the preset's blocks);
 * - attn_v: Q2_K → Q4_K when n_head/n_head_kv ≥ 4 else Q3_K; Q2_K_S → Q4_K when GQA ≥ 4;
 *   Q3_K_M → Q5_K for the first two layers else Q4_K; Q3_K_L → Q5_K; Q4_K_M and Q5_K_M → Q6_K on
 *   "more bits" layers (the first and last eighth and every third layer between: i < n/8 or
 *   i ≥ 7n/8 or (i − n/8) % 3 == 2); Q4_K_S → Q5_K for the first four; 70B Llama (80 layers):
 *   Q3_K/Q4_K → Q5_K;
 * - ffn_down (layer i of n): Q2_K → Q3_K; Q2_K_S → Q4_K when i < n/8; Q3_K_M → Q5_K when i < n/16,
 *   else Q4_K (Falcon: Q4_K only on "more bits" layers, else Q3_K); Q3_K_L → Q5_K (Falcon Q4_K);
 *   Q4_K_M → Q6_K on "more bits" layers (Falcon: Q6_K when i < n/16, Q5_K on "more bits" layers);
 *   Q5_K_M → Q6_K on "more bits" layers; Q4_K_S → Q5_K when i < n/8 (not Falcon);
 * - attn_output: Q2_K → Q3_K, Q3_K_M → Q4_K, Q3_K_L → Q5_K (Falcon: Q3_K_L → Q4_K);
 * - attn_qkv (fused): Q3_K_M/L → Q4_K, Q4_K_M → Q5_K, Q5_K_M → Q6_K;
 * - a row length that is not a whole number of blocks falls back as llama.cpp does (Q2_K/Q3_K →
 *   Q4_0, Q4_K → Q5_0, Q5_K → Q5_1, Q6_K → Q8_0; then F16 if even 32 does not divide it).
 * Tensors are written in llama.cpp's order (by layer, then by name) with the input's metadata copied
 * verbatim (types included) plus general.file_type and general.quantization_version = 2.
 */
import { closeSync, existsSync, openSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { exportGguf } from './export';
import { loadHfModel } from '../hf/model';
import { ggufToHfName } from './weights';
import { GGML_TYPE, GGML_TYPE_NAME, GgufError, readGguf, readTensorBytes, readTensorF32, type GgufFile } from './reader';
import { QUANT_BLOCK, isBlockQuant } from './quants';
import { writeGguf, type GgufMetaInput, type GgufTensorSource, type GgufWriteType } from './writer';

interface Preset {
  /** llama.cpp's LLAMA_FTYPE_* (general.file_type) */
  ftype: number;
  /** the type most tensors get */
  base: number;
}

const T = GGML_TYPE;

/** `--type` values (llama-quantize's names, lower case). q3_k, q4_k, q5_k are llama-quantize's aliases of the _m presets. */
export const QUANT_PRESETS: Record<string, Preset> = {
  f32: { ftype: 0, base: T.F32 },
  f16: { ftype: 1, base: T.F16 },
  q4_0: { ftype: 2, base: T.Q4_0 },
  q4_1: { ftype: 3, base: T.Q4_1 },
  q8_0: { ftype: 7, base: T.Q8_0 },
  q5_0: { ftype: 8, base: T.Q5_0 },
  q5_1: { ftype: 9, base: T.Q5_1 },
  q2_k: { ftype: 10, base: T.Q2_K },
  q2_k_s: { ftype: 21, base: T.Q2_K },
  q3_k_s: { ftype: 11, base: T.Q3_K },
  q3_k_m: { ftype: 12, base: T.Q3_K },
  q3_k_l: { ftype: 13, base: T.Q3_K },
  q4_k_s: { ftype: 14, base: T.Q4_K },
  q4_k_m: { ftype: 15, base: T.Q4_K },
  q5_k_s: { ftype: 16, base: T.Q5_K },
  q5_k_m: { ftype: 17, base: T.Q5_K },
  q6_k: { ftype: 18, base: T.Q6_K },
  q3_k: { ftype: 12, base: T.Q3_K },
  q4_k: { ftype: 15, base: T.Q4_K },
  q5_k: { ftype: 17, base: T.Q5_K },
};

export type QuantPreset = keyof typeof QUANT_PRESETS;

export function presetOf(name: string): Preset {
  const p = QUANT_PRESETS[name.toLowerCase()];
  if (!p) throw new Error(`unknown quantisation type "${name}" (choose one of ${Object.keys(QUANT_PRESETS).join(', ')})`);
  return p;
}

export interface TensorPlanInput {
  name: string;
  /** ggml order: dims[0] is the row length */
  dims: number[];
  /** current ggml type code */
  type: number;
}

export interface ModelShape {
  architecture: string;
  layers: number;
  heads: number;
  kvHeads: number;
}

/** llama.cpp's weight order for quantisation: by block number ("blk.N."; other tensors first), then by name. */
export function llamaTensorOrder<X extends { name: string }>(ts: X[]): X[] {
  const layer = (n: string) => {
    const m = /^blk\.(\d+)\./.exec(n);
    return m ? Number(m[1]) : -1;
  };
  return ts.slice().sort((a, b) => layer(a.name) - layer(b.name) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function allowsQuantization(t: TensorPlanInput): boolean {
  let nd = t.dims.length;
  while (nd > 1 && t.dims[nd - 1] === 1) nd--;
  if (nd < 2) return false;
  const n = t.name;
  if (!n.endsWith('weight')) return false;
  if (n.includes('_norm.weight')) return false;
  if (n.includes('ffn_gate_inp.weight')) return false;
  if (n === 'position_embd.weight' || n === 'token_types.weight') return false;
  if (n.includes('ssm_conv1d')) return false;
  return true;
}

type Category = 'output' | 'token_embd' | 'attn_qkv' | 'attn_v' | 'attn_k' | 'attn_q' | 'attn_output' | 'ffn_up' | 'ffn_gate' | 'ffn_down' | 'other';

function category(name: string): Category {
  if (name === 'output.weight') return 'output';
  if (name === 'token_embd.weight') return 'token_embd';
  for (const c of ['attn_qkv', 'attn_v', 'attn_k', 'attn_q', 'attn_output'] as const) if (name.includes(`${c}.weight`)) return c;
  for (const c of ['ffn_up', 'ffn_gate', 'ffn_down'] as const) if (name.includes(c)) return c;
  return 'other';
}

function blockSize(type: number): number {
  return QUANT_BLOCK[type]?.[0] ?? 1;
}

/** llama.cpp's fallback for a row length the chosen type's blocks do not divide. */
function fallback(type: number, ncols: number): number {
  if (ncols % blockSize(type) === 0) return type;
  const to: Record<number, number> = { [T.Q2_K]: T.Q4_0, [T.Q3_K]: T.Q4_0, [T.Q4_K]: T.Q5_0, [T.Q5_K]: T.Q5_1, [T.Q6_K]: T.Q8_0 };
  const r = to[type] ?? type;
  return ncols % blockSize(r) === 0 ? r : T.F16;
}

/**
 * The target type of every tensor (a map from name to ggml type code; equal to the current type
 * when the tensor is kept), chosen as llama.cpp chooses it for the preset. `tensors` in any order.
 */
export function planTensorTypes(tensors: TensorPlanInput[], presetName: string, shape: ModelShape): Map<string, number> {
  const preset = presetOf(presetName);
  const f = preset.ftype;
  const ordered = llamaTensorOrder(tensors);
  const tied = !ordered.some((t) => t.name === 'output.weight');
  const nAttnV = ordered.filter((t) => category(t.name) === 'attn_qkv' || category(t.name) === 'attn_v').length;
  const nLayer = shape.layers;
  const gqa = shape.kvHeads > 0 ? shape.heads / shape.kvHeads : 1;
  const falcon = shape.architecture === 'falcon';
  const is70b = shape.architecture === 'llama' && nLayer === 80;
  const moreBits = (i: number, n: number) => i < Math.trunc(n / 8) || i >= Math.trunc((7 * n) / 8) || (i - Math.trunc(n / 8)) % 3 === 2;
  const quantized = isBlockQuant(preset.base);
  let iAttnV = 0;
  let iFfnDown = 0;
  const out = new Map<string, number>();
  for (const t of ordered) {
    if (!allowsQuantization(t)) {
      out.set(t.name, t.type);
      continue;
    }
    let nt = preset.base;
    if (quantized) {
      const c = category(t.name);
      if (c === 'output' || (tied && c === 'token_embd')) {
        if (falcon || t.dims[0]! % blockSize(nt) !== 0) nt = T.Q8_0;
        else if (nt !== T.Q8_0) nt = T.Q6_K;
      } else if (c === 'attn_v' || c === 'attn_qkv') {
        if (c === 'attn_qkv') {
          if (f === 12 || f === 13) nt = T.Q4_K;
          else if (f === 15) nt = T.Q5_K;
          else if (f === 17) nt = T.Q6_K;
        } else {
          if (f === 10) nt = gqa >= 4 ? T.Q4_K : T.Q3_K;
          else if (f === 21 && gqa >= 4) nt = T.Q4_K;
          else if (f === 12) nt = iAttnV < 2 ? T.Q5_K : T.Q4_K;
          else if (f === 13) nt = T.Q5_K;
          else if ((f === 15 || f === 17) && moreBits(iAttnV, nAttnV)) nt = T.Q6_K;
          else if (f === 14 && iAttnV < 4) nt = T.Q5_K;
          if (is70b && (nt === T.Q3_K || nt === T.Q4_K)) nt = T.Q5_K;
        }
        iAttnV++;
      } else if (c === 'ffn_down') {
        const i = iFfnDown;
        const n = nLayer;
        if (f === 10) nt = T.Q3_K;
        else if (f === 21) {
          if (i < Math.trunc(n / 8)) nt = T.Q4_K;
        } else if (f === 12) nt = i < Math.trunc(n / 16) ? T.Q5_K : !falcon || moreBits(i, n) ? T.Q4_K : T.Q3_K;
        else if (f === 13) nt = falcon ? T.Q4_K : T.Q5_K;
        else if (f === 15) {
          if (falcon) nt = i < Math.trunc(n / 16) ? T.Q6_K : moreBits(i, n) ? T.Q5_K : T.Q4_K;
          else if (moreBits(i, n)) nt = T.Q6_K;
        } else if (f === 17 && moreBits(i, n)) nt = T.Q6_K;
        else if (f === 14 && !falcon && i < Math.trunc(n / 8)) nt = T.Q5_K;
        iFfnDown++;
      } else if (c === 'attn_output') {
        if (!falcon) {
          if (f === 10) nt = T.Q3_K;
          else if (f === 12) nt = T.Q4_K;
          else if (f === 13) nt = T.Q5_K;
        } else if (f === 13) nt = T.Q4_K;
      }
      nt = fallback(nt, t.dims[0]!);
    }
    out.set(t.name, nt);
  }
  return out;
}

/** The model shape the type rules need, from GGUF metadata. */
export function ggufModelShape(g: GgufFile): ModelShape {
  const arch = String(g.metadata.get('general.architecture') ?? '');
  const num = (k: string) => {
    const v = g.metadata.get(`${arch}.${k}`);
    return typeof v === 'number' ? v : Array.isArray(v) && typeof v[0] === 'number' ? (v[0] as number) : 0;
  };
  const heads = num('attention.head_count');
  return { architecture: arch, layers: num('block_count'), heads, kvHeads: num('attention.head_count_kv') || heads };
}

// ---------------------------------------------------------------------------------------------
// verbatim metadata copy

/** Every metadata entry of a GGUF v2/v3 file as raw bytes (value type code + value), in file order. */
function rawMetadata(g: GgufFile): { key: string; raw: Uint8Array }[] {
  if (g.version < 2) throw new GgufError(`${g.path}: GGUF v${g.version} files cannot be quantised (convert the model to GGUF v3 first)`);
  const fd = openSync(g.path, 'r');
  try {
    const len = Math.min(g.dataOffset, statSync(g.path).size);
    const b = Buffer.alloc(len);
    readSync(fd, b, 0, len, 0);
    let p = 16;
    const u64 = () => {
      const v = Number(b.readBigUInt64LE(p));
      p += 8;
      return v;
    };
    const nKv = Number(b.readBigUInt64LE(16));
    p = 24;
    const SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
    const skipString = () => {
      const n = u64(); // read before adding: `p += u64()` would add to the old p
      p += n;
    };
    const skipValue = (type: number): void => {
      if (type === 8) skipString();
      else if (type === 9) {
        const et = b.readUInt32LE(p);
        p += 4;
        const n = u64();
        if (et === 8) for (let i = 0; i < n; i++) skipString();
        else if (SIZE[et] !== undefined) p += n * SIZE[et]!;
        else throw new GgufError(`${g.path}: nested metadata arrays cannot be copied`);
      } else if (SIZE[type] !== undefined) p += SIZE[type]!;
      else throw new GgufError(`${g.path}: metadata value type ${type} is unknown`);
      if (p > len) throw new GgufError(`${g.path}: truncated metadata`);
    };
    const out: { key: string; raw: Uint8Array }[] = [];
    for (let i = 0; i < nKv; i++) {
      const kl = u64();
      const key = b.toString('utf8', p, p + kl);
      p += kl;
      const start = p;
      const type = b.readUInt32LE(p);
      p += 4;
      skipValue(type);
      out.push({ key, raw: b.subarray(start, p) });
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------

export interface QuantizeOptions {
  /** requantise tensors that are already block-quantised (llama-quantize --allow-requantize) */
  allowRequantize?: boolean;
  onProgress?: (done: number, total: number, tensor: string) => void;
}

export interface QuantizeReport {
  path: string;
  preset: string;
  /** tensor count per written type */
  types: Record<string, number>;
  tensors: number;
  bytes: number;
  /** the type of each tensor, in the written order */
  plan: { name: string; from: string; to: string }[];
}

/** Quantise a GGUF file into a new GGUF file (atomic: written under a temporary name, then renamed). */
export function quantizeGguf(inPath: string, outPath: string, presetName: string, opts: QuantizeOptions = {}): QuantizeReport {
  const preset = presetOf(presetName);
  const g = readGguf(inPath);
  const unreadable = g.tensors.find((t) => t.byteLength < 0);
  if (unreadable) throw new GgufError(`${inPath}: tensor ${unreadable.name} has type ${unreadable.typeName}, which cannot be read`);
  const plan = planTensorTypes(g.tensors, presetName, ggufModelShape(g));
  const meta: Record<string, GgufMetaInput> = {};
  for (const { key, raw } of rawMetadata(g)) {
    if (key === 'general.alignment' || key.startsWith('split.')) continue;
    meta[key] = { type: 'raw', value: raw };
  }
  // as gguf_set_val does: an existing key is removed and the new value appended
  delete meta['general.quantization_version'];
  meta['general.quantization_version'] = { type: 'u32', value: 2 };
  delete meta['general.file_type'];
  meta['general.file_type'] = { type: 'u32', value: preset.ftype };
  const ordered = llamaTensorOrder(g.tensors);
  const report: QuantizeReport = { path: outPath, preset: presetName, types: {}, tensors: ordered.length, bytes: 0, plan: [] };
  const sources: GgufTensorSource[] = ordered.map((t, i) => {
    const to = plan.get(t.name)!;
    report.types[GGML_TYPE_NAME[to]!] = (report.types[GGML_TYPE_NAME[to]!] ?? 0) + 1;
    report.plan.push({ name: t.name, from: t.typeName, to: GGML_TYPE_NAME[to]! });
    const progress = () => opts.onProgress?.(i + 1, ordered.length, t.name);
    if (to === t.type)
      return {
        name: t.name,
        dims: t.dims,
        rawType: t.type,
        bytes: () => {
          progress();
          return readTensorBytes(g, t);
        },
      };
    if (isBlockQuant(t.type) && !opts.allowRequantize)
      throw new GgufError(
        `${inPath}: tensor ${t.name} is already quantised (${t.typeName}); requantising it to ${GGML_TYPE_NAME[to]} loses accuracy (allow it explicitly to proceed)`,
      );
    return {
      name: t.name,
      dims: t.dims,
      type: GGML_TYPE_NAME[to] as GgufWriteType,
      data: () => {
        progress();
        return readTensorF32(g, t);
      },
    };
  });
  writeAtomic(outPath, (tmp) => writeGguf(tmp, meta, sources, g.alignment));
  report.bytes = statSync(outPath).size;
  return report;
}

/** Write through a temporary file in the same folder and rename it into place. */
export function writeAtomic(outPath: string, write: (tmp: string) => void): void {
  const tmp = `${outPath}.partial-${process.pid}`;
  try {
    write(tmp);
    renameSync(tmp, outPath);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Quantise a GGUF file or a Hugging Face folder (llama/mistral architecture; written through the
 * GGUF export with the same per-tensor type rules) into a new GGUF file. Never overwrites.
 */
export function quantizeModel(inPath: string, outPath: string, presetName: string, opts: QuantizeOptions = {}): QuantizeReport {
  const preset = presetOf(presetName);
  if (existsSync(outPath)) throw new Error(`${outPath} already exists (choose a new file name)`);
  if (!statSync(inPath).isDirectory()) return quantizeGguf(inPath, outPath, presetName, opts);
  const model = loadHfModel(inPath);
  const c = model.config;
  const report: QuantizeReport = { path: outPath, preset: presetName, types: {}, tensors: 0, bytes: 0, plan: [] };
  writeAtomic(outPath, (tmp) =>
    exportGguf(model, tmp, {
      fileType: preset.ftype,
      tensorTypes: (list) => {
        const plan = planTensorTypes(
          list.map((t) => ({ ...t, type: GGML_TYPE.F32 })),
          presetName,
          { architecture: 'llama', layers: c.numLayers, heads: c.numHeads, kvHeads: c.numKvHeads },
        );
        const out = new Map<string, GgufWriteType>();
        for (const t of llamaTensorOrder(list)) {
          const to = GGML_TYPE_NAME[plan.get(t.name)!] as GgufWriteType;
          out.set(t.name, to);
          report.types[to] = (report.types[to] ?? 0) + 1;
          const hf = ggufToHfName(t.name);
          report.plan.push({ name: t.name, from: hf && model.weights.has(hf) ? model.weights.dtype(hf) : 'F32', to });
        }
        report.tensors = list.length;
        return out;
      },
    }),
  );
  report.bytes = statSync(outPath).size;
  return report;
}
