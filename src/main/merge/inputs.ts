/**
 * Merge inputs, read in chunks with positioned reads (a tensor is never read whole unless it fits
 * one chunk): Hugging Face folders (model.safetensors or shards listed in
 * model.safetensors.index.json; F32/F16/BF16), GGUF files (F32, F16, BF16 and the quantised types
 * the engine reads; Q/K rows restored to Hugging Face order one head at a time), and a PEFT LoRA
 * adapter applied on the fly onto its base (W + scale·B·A, row by row). Every input presents
 * Hugging Face tensor names and PyTorch shapes, so GGUF and folder models merge with each other.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { MergeModelRef } from '../../shared/merge';
import { dequantize, GGML_TYPE, readGguf, type GgufFile, type GgufTensorInfo } from '../engine/gguf/reader';
import { SafetensorsFile, type StTensorInfo } from '../engine/hf/safetensors';
import { loadLoraAdapter, type LoraAdapter } from '../engine/hf/peftAdapter';
import { configFromGguf } from '../engine/gguf/model';
import { ggufToHfName, unpermuteQK } from '../engine/gguf/weights';
import { decodeInto, readDecoded, type FloatDtype } from './codec';

export interface TensorMeta {
  /** PyTorch order */
  shape: number[];
  numel: number;
  /** stored type as the file names it (F32, F16, BF16, Q8_0, …) */
  dtype: string;
  /** bytes of stored data */
  bytes: number;
}

/**
 * What two models must share to be merged: the architecture and the sizes that shape its tensors.
 * Read from config.json or the GGUF header (any architecture for folders: a merge needs names and
 * shapes, not the engine's support).
 */
export interface ModelShape {
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  tieWordEmbeddings: boolean;
}

export interface MergeInput {
  /** the model (and adapter) as the user named it, for messages */
  readonly label: string;
  readonly modelPath: string;
  readonly format: 'hf' | 'gguf';
  readonly shape: ModelShape;
  /** Hugging Face tensor names */
  names(): string[];
  meta(name: string): TensorMeta | undefined;
  /** chunk starts must be multiples of this many elements (whole rows, heads or quantisation blocks) */
  align(name: string): number;
  /** values [start, start + out.length) of a tensor, as float32 */
  read(name: string, start: number, out: Float32Array): void;
  /** bytes it holds in memory while open (a LoRA adapter's matrices), besides the chunk buffers */
  residentBytes(): number;
  close(): void;
}

/**
 * Positioned reads that retry short reads, into the caller's bytes or into one buffer shared by
 * every file: a read is decoded into its chunk before the next one, so one buffer of the largest
 * chunk serves all inputs.
 */
class FileReader {
  private static shared = Buffer.alloc(0);
  private fd: number | null = null;
  constructor(readonly path: string) {}
  read(pos: number, length: number): Buffer {
    if (FileReader.shared.length < length) FileReader.shared = Buffer.allocUnsafe(length);
    const buf = FileReader.shared.subarray(0, length);
    this.readInto(pos, buf);
    return buf;
  }
  /** Fill `buf` with the bytes at `pos`. */
  readInto(pos: number, buf: Uint8Array): void {
    if (this.fd === null) this.fd = openSync(this.path, 'r');
    const length = buf.length;
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, buf, done, Math.min(length - done, 1 << 30), pos + done);
      if (n <= 0) throw new Error(`${this.path}: file ended while reading bytes ${pos}–${pos + length} (truncated?)`);
      done += n;
    }
  }
  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
    FileReader.shared = Buffer.alloc(0);
  }
}

const ST_FLOAT: Record<string, FloatDtype> = { F32: 'F32', F16: 'F16', BF16: 'BF16' };
const numelOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

/** A config.json's architecture and sizes (the fields transformers uses for decoder models). */
export function shapeFromHfConfig(j: Record<string, unknown>, file: string): ModelShape {
  const num = (k: string, def?: number): number => {
    const v = j[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (v === undefined || v === null) {
      if (def !== undefined) return def;
      throw new Error(`${file}: missing "${k}"`);
    }
    throw new Error(`${file}: "${k}" must be a number`);
  };
  const arch = j['model_type'];
  if (typeof arch !== 'string' || !arch) throw new Error(`${file}: missing "model_type"`);
  const hidden = num('hidden_size');
  const heads = num('num_attention_heads');
  return {
    architecture: arch,
    vocabSize: num('vocab_size'),
    hiddenSize: hidden,
    numLayers: num('num_hidden_layers'),
    numHeads: heads,
    numKvHeads: num('num_key_value_heads', heads),
    headDim: num('head_dim', hidden / heads),
    intermediateSize: num('intermediate_size', 0),
    tieWordEmbeddings: j['tie_word_embeddings'] === true,
  };
}

/** A Hugging Face model folder. */
class HfInput implements MergeInput {
  readonly format = 'hf' as const;
  readonly shape: ModelShape;
  private readonly where = new Map<string, { info: StTensorInfo; file: FileReader }>();
  private readonly readers: FileReader[] = [];

  constructor(
    readonly modelPath: string,
    readonly label: string,
  ) {
    const cfgPath = join(modelPath, 'config.json');
    if (!existsSync(cfgPath)) throw new Error(`${modelPath}: missing config.json (not a Hugging Face model folder)`);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`${cfgPath}: not valid JSON (${(e as Error).message})`);
    }
    this.shape = shapeFromHfConfig(json, cfgPath);
    for (const shard of shardFiles(modelPath)) {
      const st = new SafetensorsFile(shard);
      const reader = new FileReader(shard);
      this.readers.push(reader);
      for (const info of st.tensors.values()) this.where.set(info.name, { info, file: reader });
    }
  }
  names(): string[] {
    return [...this.where.keys()];
  }
  meta(name: string): TensorMeta | undefined {
    const t = this.where.get(name)?.info;
    return t && { shape: t.shape.slice(), numel: numelOf(t.shape), dtype: t.dtype, bytes: t.end - t.begin };
  }
  align(): number {
    return 1;
  }
  read(name: string, start: number, out: Float32Array): void {
    const t = this.where.get(name);
    if (!t) throw new Error(`${this.label}: no tensor ${name}`);
    const dt = ST_FLOAT[t.info.dtype];
    if (!dt) throw new Error(`${this.label}: tensor ${name} is stored as ${t.info.dtype}; only F32, F16 and BF16 tensors can be merged`);
    const pos = t.info.begin + start * (dt === 'F32' ? 4 : 2);
    readDecoded(dt, out, (bytes) => t.file.readInto(pos, bytes));
  }
  residentBytes(): number {
    return 0;
  }
  close(): void {
    for (const r of this.readers) r.close();
  }
}

/** The safetensors files of a folder: the shards its index lists, or model.safetensors. */
function shardFiles(dir: string): string[] {
  const index = join(dir, 'model.safetensors.index.json');
  if (existsSync(index)) {
    let j: { weight_map?: Record<string, string> };
    try {
      j = JSON.parse(readFileSync(index, 'utf8')) as typeof j;
    } catch (e) {
      throw new Error(`${index}: not valid JSON (${(e as Error).message})`);
    }
    if (!j.weight_map || typeof j.weight_map !== 'object') throw new Error(`${index}: missing weight_map`);
    const shards = [...new Set(Object.values(j.weight_map))];
    for (const s of shards)
      if (typeof s !== 'string' || s.includes('/') || s.includes('\\') || !existsSync(join(dir, s)))
        throw new Error(`${index}: shard ${String(s)} is missing from ${dir}`);
    return shards.map((s) => join(dir, s));
  }
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return [single];
  throw new Error(`${dir}: no model.safetensors or model.safetensors.index.json (only safetensors weights can be merged)`);
}

const GGUF_BLOCK: Record<number, [number, number]> = {
  [GGML_TYPE.F32]: [1, 4],
  [GGML_TYPE.F16]: [1, 2],
  [GGML_TYPE.BF16]: [1, 2],
  [GGML_TYPE.Q8_0]: [32, 34],
  [GGML_TYPE.Q4_0]: [32, 18],
  [GGML_TYPE.Q4_1]: [32, 20],
  [GGML_TYPE.Q5_0]: [32, 22],
  [GGML_TYPE.Q5_1]: [32, 24],
};
const GGUF_FLOAT: Record<number, FloatDtype> = { [GGML_TYPE.F32]: 'F32', [GGML_TYPE.F16]: 'F16', [GGML_TYPE.BF16]: 'BF16' };

/** A GGUF file (llama architecture), presented in Hugging Face naming and row order. */
export class GgufInput implements MergeInput {
  readonly format = 'gguf' as const;
  readonly shape: ModelShape;
  readonly gguf: GgufFile;
  /** HF name → GGUF tensor */
  private readonly map = new Map<string, GgufTensorInfo>();
  private readonly file: FileReader;

  constructor(
    readonly modelPath: string,
    readonly label: string,
  ) {
    this.gguf = readGguf(modelPath);
    const c = configFromGguf(this.gguf);
    this.shape = {
      architecture: c.architecture,
      vocabSize: c.vocabSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.headDim,
      intermediateSize: c.intermediateSize,
      tieWordEmbeddings: c.tieWordEmbeddings,
    };
    for (const t of this.gguf.tensors) {
      const hf = ggufToHfName(t.name);
      if (hf) this.map.set(hf, t);
    }
    this.file = new FileReader(modelPath);
  }
  names(): string[] {
    return [...this.map.keys()];
  }
  /** The GGUF tensor behind a Hugging Face name. */
  tensorInfo(name: string): GgufTensorInfo | undefined {
    return this.map.get(name);
  }
  meta(name: string): TensorMeta | undefined {
    const t = this.map.get(name);
    return t && { shape: t.dims.slice().reverse(), numel: t.numElements, dtype: t.typeName, bytes: t.byteLength };
  }
  /** Q/K rows are permuted within each head: a chunk holds whole heads. Quantised data: whole blocks. */
  private headRows(name: string): number {
    const m = /self_attn\.(q|k)_proj\.(weight|bias)$/.exec(name);
    if (!m) return 0;
    const t = this.map.get(name)!;
    const rows = t.numElements / (m[2] === 'weight' ? t.dims[0]! : 1);
    return rows / (m[1] === 'q' ? this.shape.numHeads : this.shape.numKvHeads);
  }
  align(name: string): number {
    const t = this.map.get(name);
    if (!t) return 1;
    const block = GGUF_BLOCK[t.type]?.[0] ?? 1;
    const hr = this.headRows(name);
    const rowLen = t.dims.length > 1 ? t.dims[0]! : 1;
    return lcm(block, hr ? hr * rowLen : 1);
  }
  read(name: string, start: number, out: Float32Array): void {
    const t = this.map.get(name);
    if (!t) throw new Error(`${this.label}: no tensor ${name}`);
    const geo = GGUF_BLOCK[t.type];
    if (!geo)
      throw new Error(
        `${this.label}: tensor ${t.name} is stored as ${t.typeName}, which the engine cannot read (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 can be merged)`,
      );
    const [bs, bb] = geo;
    const count = out.length;
    const bytes = this.file.read(t.fileOffset + (start / bs) * bb, Math.ceil(count / bs) * bb);
    const fl = GGUF_FLOAT[t.type];
    if (fl) decodeInto(fl, bytes, count, out);
    else out.set(dequantize(bytes, t.type, count));
    const hr = this.headRows(name);
    if (hr) {
      const rowLen = t.dims.length > 1 ? t.dims[0]! : 1;
      out.set(unpermuteQK(out, count / (hr * rowLen), rowLen));
    }
  }
  residentBytes(): number {
    return 0;
  }
  close(): void {
    this.file.close();
  }
}

/** A model with a PEFT LoRA adapter folded in as it is read: W + scale·B·A. */
class AdapterInput implements MergeInput {
  constructor(
    private readonly inner: MergeInput,
    private readonly adapter: LoraAdapter,
    readonly label: string,
  ) {
    for (const [name, m] of adapter.modules) {
      const meta = inner.meta(name);
      if (!meta) throw new Error(`${adapter.path}: the adapter changes ${name}, which ${inner.label} does not have (an adapter for another model?)`);
      const [out, inn] = meta.shape;
      if (meta.shape.length !== 2 || m.a.length !== m.rank * inn! || m.b.length !== out! * m.rank)
        throw new Error(
          `${adapter.path}: the adapter's A/B for ${name} (rank ${m.rank}: A ${m.a.length / m.rank} columns, B ${m.b.length / m.rank} rows) do not fit its shape [${meta.shape.join(', ')}] in ${inner.label}`,
        );
    }
  }
  get modelPath(): string {
    return this.inner.modelPath;
  }
  get format(): 'hf' | 'gguf' {
    return this.inner.format;
  }
  get shape(): ModelShape {
    return this.inner.shape;
  }
  names(): string[] {
    return this.inner.names();
  }
  meta(name: string): TensorMeta | undefined {
    return this.inner.meta(name);
  }
  align(name: string): number {
    const m = this.adapter.modules.get(name);
    const a = this.inner.align(name);
    return m ? lcm(a, this.inner.meta(name)!.shape[1]!) : a;
  }
  read(name: string, start: number, out: Float32Array): void {
    this.inner.read(name, start, out);
    const m = this.adapter.modules.get(name);
    if (!m) return;
    const inn = this.inner.meta(name)!.shape[1]!;
    const r = m.rank;
    const row0 = start / inn;
    const rows = out.length / inn;
    for (let o = 0; o < rows; o++) {
      const base = o * inn;
      for (let k = 0; k < r; k++) {
        const bk = m.b[(row0 + o) * r + k]! * m.scale;
        if (bk === 0) continue;
        const ar = k * inn;
        for (let i = 0; i < inn; i++) out[base + i]! += bk * m.a[ar + i]!;
      }
    }
  }
  residentBytes(): number {
    let floats = 0;
    for (const m of this.adapter.modules.values()) floats += m.a.length + m.b.length;
    return this.inner.residentBytes() + 4 * floats;
  }
  close(): void {
    this.inner.close();
  }
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
export function lcm(a: number, b: number): number {
  return (a / gcd(a, b)) * b;
}

/** How a model reference reads in messages (mergekit's model+adapter form). */
export function refLabel(ref: MergeModelRef): string {
  return ref.adapterPath ? `${ref.modelPath}+${ref.adapterPath}` : ref.modelPath;
}

/** Open a model (folder or .gguf), with its adapter applied when the reference names one. */
export function openInput(ref: MergeModelRef): MergeInput {
  const label = refLabel(ref);
  if (!existsSync(ref.modelPath)) throw new Error(`${ref.modelPath}: not found (give a local Hugging Face folder or .gguf file; models are not downloaded)`);
  const inner = statSync(ref.modelPath).isDirectory()
    ? new HfInput(ref.modelPath, ref.modelPath)
    : /\.gguf$/i.test(ref.modelPath)
      ? new GgufInput(ref.modelPath, ref.modelPath)
      : (() => {
          throw new Error(`${ref.modelPath}: expected a Hugging Face model folder or a .gguf file`);
        })();
  if (!ref.adapterPath) return inner;
  if (!existsSync(ref.adapterPath)) throw new Error(`${ref.adapterPath}: adapter folder not found`);
  return new AdapterInput(inner, loadLoraAdapter(ref.adapterPath), label);
}
