/**
 * Runs a LoadedModel on onnxruntime-node: a KV-cache step graph (last-position logits, used for
 * prefill and decoding) and, on demand, a full-sequence graph (logits for every position).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, defaultThreads, ort, saveModel } from '../graph';
import { buildDecoderGraph, validateWeights, type DecoderGraphOptions, type LoraModule } from './decoderGraph';
import type { LoadedModel } from './loaded';
import { WeightFileWriter } from './weightFile';
import type { DecoderConfig } from './config';
import { canRepack } from '../gguf/repack';
import { GGML_TYPE } from '../gguf/reader';
import { QuantizingWeights, type LoadQuantType } from './quantizeOnLoad';

export interface RuntimeOptions {
  /** intra-op threads (default: available parallelism, at most 8) */
  threads?: number;
  /** execution providers in preference order (default ['cpu']) */
  executionProviders?: string[];
  /** use fused onnxruntime ops in the graphs (default true) */
  fused?: boolean;
  /** unmerged LoRA adapters (extra low-rank MatMuls) keyed by weight name */
  lora?: Map<string, LoraModule>;
  /** onnxruntime profiling output prefix (debugging) */
  profilePrefix?: string;
  /** extra onnxruntime session config entries */
  sessionConfig?: Record<string, string>;
  /**
   * Compiled-model cache folder. When set, graphs and fp32 weights are streamed to
   * <cacheDir>/<key>/ (never all in memory), loaded by path so onnxruntime memory-maps the weights,
   * and reused on the next load of the same model with the same options.
   */
  cacheDir?: string;
  /**
   * onnxruntime weight pre-packing (default: off for float32 weights, on when the model runs
   * quantised weights, which MatMulNBits needs). Measured on the 100M benchmark model (2 cores):
   * for float32 weights pre-packing made single-stream decoding ~2.5x slower and holds a second,
   * packed copy of every weight matrix; without it onnxruntime uses the (memory-mapped) weights in place.
   */
  prepack?: boolean;
  /**
   * Block-quantised weights (GGUF Q4_0…Q6_K, IQ4_NL/IQ4_XS, or quantizeOnLoad) stay quantised in
   * memory and run with onnxruntime's MatMulNBits / GatherBlockQuantized: 'int8' (default:
   * activations quantised to int8 per block, as llama.cpp's CPU kernels do), 'fp32' (float32
   * activations, slower, closer to the dequantised model), or 'off' (dequantise every weight to
   * float32 at load).
   */
  quantCompute?: 'int8' | 'fp32' | 'off';
  /** Quantise float projection/embedding/LM-head weights on load to this ggml type (e.g. HF fp16/bf16 folders → 'Q8_0' or 'Q4_K'). */
  quantizeOnLoad?: LoadQuantType;
  /** onnxruntime CPU memory arena (default true) */
  memArena?: boolean;
  /** storage of projection weights: 'float32' (default) or 'float16' (for GPU providers; on x86 CPU it was slower and saved no memory) */
  weightDtype?: 'float32' | 'float16';
}

/**
 * KV cache for a batch: one tensor [B, 2·layers·kvHeads, T, headDim] holding every layer's keys
 * then values (layer l's keys are channels [2l·kvHeads, (2l+1)·kvHeads), its values the next
 * kvHeads), the step graph's packed past_key_values layout.
 */
export interface KvCache {
  kv: ort.Tensor;
  /** T: positions held (including padding) */
  length: number;
  /**
   * Optional preallocated buffer (from allocCache): each step appends the new positions in place,
   * so decoding allocates no cache memory per step.
   */
  pool?: KvPool;
}

export interface KvPool {
  /** capacity in positions */
  maxLength: number;
  /** B·2·layers·kvHeads·maxLength·headDim floats; the cache is held compact ([B, C, T, headDim]) at its start */
  buffer: Float32Array;
}

/** Channels of the packed cache: 2 · layers · kvHeads. */
export function kvChannels(c: DecoderConfig): number {
  return 2 * c.numLayers * c.numKvHeads;
}

export interface StepResult {
  /** [B, V] logits of the last position of each row */
  logits: Float32Array;
  cache: KvCache;
}

export class DecoderRuntime {
  private stepSession: ort.InferenceSession | null = null;
  private fullSession: ort.InferenceSession | null = null;
  private constructor(
    readonly model: LoadedModel,
    readonly options: RuntimeOptions,
  ) {}

  static async create(model: LoadedModel, options: RuntimeOptions = {}): Promise<DecoderRuntime> {
    validateWeights(model.config, model.weights);
    if (options.quantizeOnLoad && options.quantCompute !== 'off') model = { ...model, weights: new QuantizingWeights(model.weights, options.quantizeOnLoad) };
    const r = new DecoderRuntime(model, options);
    await r.ensureStep();
    return r;
  }

  /** Whether the graphs run block-quantised weights (MatMulNBits). */
  get quantizedCompute(): boolean {
    if (this.options.quantCompute === 'off') return false;
    if (this.options.quantizeOnLoad) return true;
    const w = this.model.weights;
    return !!w.quantized && w.names().some((n) => canRepack(GGML_TYPE[w.dtype(n) as keyof typeof GGML_TYPE] ?? -1));
  }

  private quantOption(): DecoderGraphOptions['quant'] {
    return this.quantizedCompute ? { accuracyLevel: this.options.quantCompute === 'fp32' ? 0 : 4 } : undefined;
  }

  private sessionOpts() {
    // MatMulNBits packs its weights at session creation (its unpacked path is ~15x slower and has no 8-bit kernel)
    const prepack = this.options.prepack ?? this.quantizedCompute;
    return {
      intraOpThreads: this.options.threads ?? defaultThreads(),
      executionProviders: this.options.executionProviders,
      profilePrefix: this.options.profilePrefix,
      memArena: this.options.memArena,
      extra: {
        ...(prepack ? {} : { 'session.disable_prepacking': '1' }),
        ...this.options.sessionConfig,
      },
    };
  }

  /** Cache folder key: the model files and everything that changes the weights (not the graph kind). */
  private cacheKey(gopts: DecoderGraphOptions): string {
    const h = createHash('sha256');
    const stamp = (p: string) => {
      const st = statSync(p);
      h.update(`${p}:${st.size}:${st.mtimeMs};`);
    };
    const p = this.model.path;
    if (statSync(p).isDirectory()) {
      for (const f of readdirSync(p).sort()) if (/\.(safetensors|json)$/.test(f)) stamp(join(p, f));
    } else stamp(p);
    h.update(this.model.weights.origin);
    h.update(JSON.stringify(this.model.config));
    h.update(
      JSON.stringify({ fused: gopts.fused, wd: gopts.weightDtype ?? 'float32', quant: gopts.quant ?? null, qload: this.options.quantizeOnLoad ?? null, v: 9 }),
    );
    for (const [name, m] of gopts.lora ?? []) {
      h.update(name);
      h.update(new Uint8Array(m.a.buffer, m.a.byteOffset, m.a.byteLength));
      h.update(new Uint8Array(m.b.buffer, m.b.byteOffset, m.b.byteLength));
      h.update(String(m.scale));
    }
    return h.digest('hex').slice(0, 24);
  }

  private async compile(kind: 'step' | 'full', gopts: DecoderGraphOptions): Promise<ort.InferenceSession> {
    const root = this.options.cacheDir;
    if (!root) return createSession(buildDecoderGraph(this.model.config, this.model.weights, gopts).build(), this.sessionOpts());
    // one folder per model + weight options; the step and full graphs share its weights.bin
    const dir = join(root, this.cacheKey(gopts));
    const onnx = join(dir, `${kind}.onnx`);
    const ready = join(dir, `${kind}.READY`);
    if (!existsSync(ready)) {
      mkdirSync(dir, { recursive: true });
      const writer = new WeightFileWriter(dir);
      let built;
      try {
        built = buildDecoderGraph(this.model.config, this.model.weights, { ...gopts, storeWeight: writer.store }).build({ memoryPrefix: `${kind}_mem_` });
      } finally {
        writer.close();
      }
      saveModel(built, dir, `${kind}.onnx`);
      writeFileSync(ready, JSON.stringify({ model: this.model.path, kind, created: new Date().toISOString() }));
    }
    const so = this.sessionOpts();
    return createSession({ bytes: new Uint8Array(0), externalData: [], externalFiles: [] }, { ...so, modelPath: onnx });
  }

  private async ensureStep(): Promise<ort.InferenceSession> {
    if (!this.stepSession) {
      this.stepSession = await this.compile('step', {
        kvCache: true,
        logits: 'last',
        fused: this.options.fused ?? true,
        lora: this.options.lora,
        weightDtype: this.options.weightDtype,
        quant: this.quantOption(),
      });
    }
    return this.stepSession;
  }

  private async ensureFull(): Promise<ort.InferenceSession> {
    if (!this.fullSession) {
      this.fullSession = await this.compile('full', {
        kvCache: false,
        logits: 'all',
        fused: this.options.fused ?? true,
        lora: this.options.lora,
        weightDtype: this.options.weightDtype,
        quant: this.quantOption(),
      });
    }
    return this.fullSession;
  }

  /** An empty cache for a batch of `batch` rows. */
  emptyCache(batch: number): KvCache {
    const c = this.model.config;
    return { kv: new ort.Tensor('float32', new Float32Array(0), [batch, kvChannels(c), 0, c.headDim]), length: 0 };
  }

  /**
   * An empty cache with a preallocated buffer for up to `maxLength` positions: steps then append
   * the new keys and values in place (no per-step cache allocation, no garbage to collect).
   * A pooled cache is consumed by `step`: keep only the newest cache object (older ones share the
   * buffer, which the next step rewrites).
   */
  allocCache(batch: number, maxLength: number): KvCache {
    const c = this.model.config;
    return { ...this.emptyCache(batch), pool: { maxLength, buffer: new Float32Array(batch * kvChannels(c) * maxLength * c.headDim) } };
  }

  /**
   * One step: feed `ids` ([B, S] row-major) after `cache`; `attentionMask` covers cache + new
   * positions ([B, T]); `positionIds` [B, S]. Returns last-position logits and the new cache.
   */
  async step(ids: BigInt64Array, batch: number, attentionMask: BigInt64Array, positionIds: BigInt64Array, cache: KvCache): Promise<StepResult> {
    const s = await this.ensureStep();
    const seq = ids.length / batch;
    const total = attentionMask.length / batch;
    if (total !== cache.length + seq) throw new Error(`step: attention mask covers ${total} positions, expected ${cache.length + seq}`);
    // No preallocated outputs: onnxruntime-node would write into them and still return copies.
    const out = await s.run({
      input_ids: new ort.Tensor('int64', ids, [batch, seq]),
      attention_mask: new ort.Tensor('int64', attentionMask, [batch, total]),
      position_ids: new ort.Tensor('int64', positionIds, [batch, seq]),
      past_key_values: cache.kv,
    });
    const c = this.model.config;
    const rows = batch * kvChannels(c);
    const size = rows * total * c.headDim;
    const pool = cache.pool && total <= cache.pool.maxLength ? cache.pool : undefined;
    const dst = pool ? pool.buffer : new Float32Array(size);
    appendPositions(dst, cache.kv.data as Float32Array, out['new_key_values']!.data as Float32Array, rows, cache.length, seq, c.headDim);
    const kv = new ort.Tensor('float32', dst.subarray(0, size), [batch, kvChannels(c), total, c.headDim]);
    return { logits: out['logits']!.data as Float32Array, cache: { kv, length: total, ...(pool ? { pool } : {}) } };
  }

  /**
   * Full-sequence forward: logits for every position, [B, S, V] row-major.
   * Rows shorter than the longest are right-padded (mask 0) unless `attentionMask` is given.
   */
  async forward(batchIds: number[][], attentionMask?: number[][]): Promise<{ logits: Float32Array; dims: [number, number, number] }> {
    const s = await this.ensureFull();
    const B = batchIds.length;
    const S = Math.max(...batchIds.map((r) => r.length));
    const ids = new BigInt64Array(B * S);
    const mask = new BigInt64Array(B * S);
    const pos = new BigInt64Array(B * S);
    batchIds.forEach((row, b) => {
      let p = 0;
      for (let t = 0; t < S; t++) {
        const m = attentionMask ? attentionMask[b]![t]! : t < row.length ? 1 : 0;
        ids[b * S + t] = BigInt(t < row.length ? row[t]! : 0);
        mask[b * S + t] = BigInt(m);
        pos[b * S + t] = BigInt(m ? p++ : 0);
      }
    });
    const out = await s.run({
      input_ids: new ort.Tensor('int64', ids, [B, S]),
      attention_mask: new ort.Tensor('int64', mask, [B, S]),
      position_ids: new ort.Tensor('int64', pos, [B, S]),
    });
    return { logits: out['logits']!.data as Float32Array, dims: [B, S, this.model.config.vocabSize] };
  }

  async release(): Promise<void> {
    await this.stepSession?.release();
    await this.fullSession?.release();
    this.stepSession = null;
    this.fullSession = null;
  }
}

/**
 * Write a [rows, past+seq, hd] cache into `dst` from a compact [rows, past, hd] cache and the new
 * [rows, seq, hd] positions. `dst` may be the buffer `past` lives in (compact at its start): rows
 * then move up in place, last row first, so no row is overwritten before it has moved.
 */
export function appendPositions(dst: Float32Array, past: Float32Array, fresh: Float32Array, rows: number, pastLen: number, seq: number, hd: number): void {
  const total = pastLen + seq;
  const inPlace = past.buffer === dst.buffer && past.byteOffset === dst.byteOffset;
  for (let r = rows - 1; r >= 0; r--) {
    const to = r * total * hd;
    if (pastLen > 0) {
      if (inPlace) dst.copyWithin(to, r * pastLen * hd, (r + 1) * pastLen * hd);
      else dst.set(past.subarray(r * pastLen * hd, (r + 1) * pastLen * hd), to);
    }
    dst.set(fresh.subarray(r * seq * hd, (r + 1) * seq * hd), to + pastLen * hd);
  }
}
