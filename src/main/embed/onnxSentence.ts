/**
 * Sentence-transformers model folder → Embedder, run with onnxruntime-node.
 *
 * Expected folder (the Hugging Face / sentence-transformers layout, ONNX export):
 *   tokenizer.json (+ tokenizer_config.json)    → @huggingface/tokenizers
 *   model.onnx or onnx/model.onnx               → inputs input_ids, attention_mask[, token_type_ids]
 *                                                 output token embeddings [batch, seq, hidden]
 *                                                 (last_hidden_state / token_embeddings / first output)
 *                                                 or pooled sentence_embedding [batch, hidden]
 *   1_Pooling/config.json (optional)            → pooling_mode_mean_tokens / pooling_mode_cls_token
 *   sentence_bert_config.json (optional)        → max_seq_length
 * The embedder id hashes model.onnx, the external-data files it references and tokenizer.json.
 * Rows are always L2-normalised (cosine = dot).
 *
 * Texts are sorted by token length and batched so padding stays small; the execution provider is
 * the first of the preference list that onnxruntime reports as supported and that creates a
 * session (falls back to cpu), and `executionProvider` says which one ran.
 */
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { type Embedder, l2NormaliseRows } from './types';

export type Pooling = 'mean' | 'cls';

export interface OnnxSentenceOptions {
  /** Execution providers in order of preference (default: cuda, dml, coreml, webgpu, cpu). */
  executionProviders?: string[];
  /** Override the folder's pooling config. */
  pooling?: Pooling;
  /** Override max tokens per text (default: sentence_bert_config max_seq_length, else model_max_length, else 512). */
  maxLength?: number;
  /** Texts per onnxruntime run (default 32). */
  batchSize?: number;
  intraOpThreads?: number;
}

export const DEFAULT_EP_PREFERENCE = ['cuda', 'dml', 'coreml', 'webgpu', 'cpu'];

/** Backends onnxruntime-node reports for this machine (names as executionProviders accepts them). */
export function supportedBackends(): string[] {
  return backendList().map((b) => b.name);
}

function backendList(): Array<{ name: string; bundled: boolean }> {
  try {
    return ort.listSupportedBackends();
  } catch {
    return [{ name: 'cpu', bundled: true }];
  }
}

async function readJsonIf(path: string): Promise<Record<string, unknown> | null> {
  if (!existsSync(path)) return null;
  return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * External-data file locations referenced by an ONNX model: the value of every
 * StringStringEntryProto {key: "location", value} (bytes 0x0a 0x08 "location" 0x12 <len> <value>).
 */
export function externalDataLocations(model: Uint8Array): string[] {
  const pat = Buffer.from([0x0a, 0x08, ...Buffer.from('location'), 0x12]);
  const buf = Buffer.from(model.buffer, model.byteOffset, model.byteLength);
  const out = new Set<string>();
  for (let i = buf.indexOf(pat); i >= 0; i = buf.indexOf(pat, i + 1)) {
    let p = i + pat.length;
    let len = 0;
    let shift = 0;
    for (; p < buf.length; p++) {
      len |= (buf[p]! & 0x7f) << shift;
      shift += 7;
      if (!(buf[p]! & 0x80)) break;
    }
    p++;
    if (len > 0 && len < 4096 && p + len <= buf.length) out.add(buf.subarray(p, p + len).toString('utf8'));
  }
  return [...out];
}

export function findOnnxModel(dir: string): string {
  for (const p of ['model.onnx', 'onnx/model.onnx', 'model_quantized.onnx', 'onnx/model_quantized.onnx']) {
    if (existsSync(join(dir, p))) return join(dir, p);
  }
  throw new Error(`${dir}: no model.onnx (looked for model.onnx and onnx/model.onnx)`);
}

export class OnnxSentenceEmbedder implements Embedder {
  readonly id: string;
  readonly dimension: number;
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly tokenizer: Tokenizer,
    readonly pooling: Pooling,
    readonly maxLength: number,
    readonly batchSize: number,
    readonly executionProvider: string,
    /** Per-provider failures met while choosing (provider → message). */
    readonly providerErrors: Record<string, string>,
    id: string,
    dimension: number,
    private readonly outputName: string,
    private readonly pooled: boolean,
    private readonly wantsTokenTypes: boolean,
    private readonly padId: number,
  ) {
    this.id = id;
    this.dimension = dimension;
  }

  static async load(dir: string, options: OnnxSentenceOptions = {}): Promise<OnnxSentenceEmbedder> {
    const tokJson = await readJsonIf(join(dir, 'tokenizer.json'));
    if (!tokJson) throw new Error(`${dir}: no tokenizer.json`);
    const tokConfig = (await readJsonIf(join(dir, 'tokenizer_config.json'))) ?? {};
    const tokenizer = new Tokenizer(tokJson as never, tokConfig as never);
    const modelPath = findOnnxModel(dir);
    const poolCfg = await readJsonIf(join(dir, '1_Pooling', 'config.json'));
    const pooling: Pooling = options.pooling ?? (poolCfg?.pooling_mode_cls_token === true && poolCfg?.pooling_mode_mean_tokens !== true ? 'cls' : 'mean');
    const sbert = await readJsonIf(join(dir, 'sentence_bert_config.json'));
    const maxLength =
      options.maxLength ??
      (typeof sbert?.max_seq_length === 'number'
        ? sbert.max_seq_length
        : typeof tokConfig.model_max_length === 'number' && tokConfig.model_max_length < 100_000
          ? tokConfig.model_max_length
          : 512);
    const padToken = typeof tokConfig.pad_token === 'string' ? tokConfig.pad_token : '[PAD]';
    const padId = tokenizer.token_to_id(padToken) ?? 0;

    const backends = backendList();
    const supported = new Set(backends.map((b) => b.name));
    const bundled = new Set(backends.filter((b) => b.bundled).map((b) => b.name));
    const explicit = options.executionProviders !== undefined;
    const prefs = options.executionProviders ?? DEFAULT_EP_PREFERENCE;
    const providerErrors: Record<string, string> = {};
    let session: ort.InferenceSession | null = null;
    let used = 'cpu';
    for (const ep of [...prefs.filter((p) => p !== 'cpu'), 'cpu']) {
      if (ep !== 'cpu' && !supported.has(ep)) {
        providerErrors[ep] = 'not supported by this onnxruntime build';
        continue;
      }
      // Non-bundled providers (cuda, tensorrt on Linux) need provider libraries that an offline
      // install skips; only try them when asked for by name.
      if (ep !== 'cpu' && !bundled.has(ep) && !explicit) {
        providerErrors[ep] = 'provider library not bundled with this onnxruntime-node install (ask for it explicitly to try)';
        continue;
      }
      try {
        session = await ort.InferenceSession.create(modelPath, {
          executionProviders: [ep],
          intraOpNumThreads: options.intraOpThreads ?? 0,
          graphOptimizationLevel: 'all',
          logSeverityLevel: 3,
        });
        used = ep;
        break;
      } catch (e) {
        providerErrors[ep] = (e as Error).message;
      }
    }
    if (!session) throw new Error(`${modelPath}: no execution provider could load the model: ${JSON.stringify(providerErrors)}`);
    for (const need of ['input_ids', 'attention_mask']) {
      if (!session.inputNames.includes(need)) throw new Error(`${modelPath}: model has no "${need}" input (inputs: ${session.inputNames.join(', ')})`);
    }
    const outs = session.outputNames;
    const outputName =
      ['token_embeddings', 'last_hidden_state'].find((n) => outs.includes(n)) ?? (outs.includes('sentence_embedding') ? 'sentence_embedding' : outs[0]!);
    const pooled = outputName === 'sentence_embedding';
    const wantsTokenTypes = session.inputNames.includes('token_type_ids');

    // The id names everything that changes the output: graph + external weights + tokenizer.
    const h = createHash('sha256');
    const modelDir = dirname(modelPath);
    const stem = basename(modelPath);
    const external = externalDataLocations(await readFile(modelPath)).sort();
    for (const f of [stem, ...external]) {
      const p = join(modelDir, f);
      h.update(`${f}:${existsSync(p) ? await sha256File(p) : 'missing'};`);
    }
    h.update(`tokenizer:${await sha256File(join(dir, 'tokenizer.json'))}`);
    const digest = h.digest('hex').slice(0, 12);
    const id = `onnx:${basename(dir)}@${digest}:${pooled ? 'pooled' : pooling}:len${maxLength}`;
    const emb = new OnnxSentenceEmbedder(
      session,
      tokenizer,
      pooling,
      maxLength,
      options.batchSize ?? 32,
      used,
      providerErrors,
      id,
      0,
      outputName,
      pooled,
      wantsTokenTypes,
      padId,
    );
    // Probe the hidden size with one tiny run.
    const probe = await emb.runBatch([emb.encode('probe')]);
    (emb as { dimension: number }).dimension = probe.dim;
    return emb;
  }

  private encode(text: string): number[] {
    const ids = this.tokenizer.encode(text).ids;
    if (ids.length <= this.maxLength) return ids;
    // Keep the final special token (e.g. [SEP]) when truncating.
    return [...ids.slice(0, this.maxLength - 1), ids[ids.length - 1]!];
  }

  private async runBatch(batch: number[][]): Promise<{ data: Float32Array; dim: number }> {
    const b = batch.length;
    const s = Math.max(1, ...batch.map((x) => x.length));
    const ids = new BigInt64Array(b * s).fill(BigInt(this.padId));
    const mask = new BigInt64Array(b * s);
    for (let r = 0; r < b; r++) {
      const x = batch[r]!;
      for (let t = 0; t < x.length; t++) {
        ids[r * s + t] = BigInt(x[t]!);
        mask[r * s + t] = 1n;
      }
    }
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [b, s]),
      attention_mask: new ort.Tensor('int64', mask, [b, s]),
    };
    if (this.wantsTokenTypes) feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(b * s), [b, s]);
    const res = await this.session.run(feeds, [this.outputName]);
    const out = res[this.outputName]!;
    const data = out.data as Float32Array;
    if (this.pooled) {
      const dim = Number(out.dims[1]);
      return { data: Float32Array.from(data), dim };
    }
    const dim = Number(out.dims[2]);
    const pooledOut = new Float32Array(b * dim);
    for (let r = 0; r < b; r++) {
      const n = batch[r]!.length;
      const o = r * dim;
      if (this.pooling === 'cls') {
        pooledOut.set(data.subarray(r * s * dim, r * s * dim + dim), o);
        continue;
      }
      for (let t = 0; t < n; t++) {
        const base = (r * s + t) * dim;
        for (let j = 0; j < dim; j++) pooledOut[o + j]! += data[base + j]!;
      }
      const inv = 1 / Math.max(1, n);
      for (let j = 0; j < dim; j++) pooledOut[o + j]! *= inv;
    }
    return { data: pooledOut, dim };
  }

  async embedBatch(texts: readonly string[]): Promise<Float32Array> {
    const enc = texts.map((t) => this.encode(t));
    const order = enc.map((_, i) => i).sort((a, b) => enc[a]!.length - enc[b]!.length);
    const out = new Float32Array(texts.length * this.dimension);
    for (let s = 0; s < order.length; s += this.batchSize) {
      const idx = order.slice(s, s + this.batchSize);
      const { data } = await this.runBatch(idx.map((i) => enc[i]!));
      idx.forEach((i, k) => out.set(data.subarray(k * this.dimension, (k + 1) * this.dimension), i * this.dimension));
    }
    return l2NormaliseRows(out, this.dimension);
  }

  async dispose(): Promise<void> {
    await this.session.release();
  }
}
