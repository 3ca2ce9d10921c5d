/**
 * Runs a LoadedModel on onnxruntime-node: a KV-cache step graph (last-position logits, used for
 * prefill and decoding) and, on demand, a full-sequence graph (logits for every position).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSession, defaultThreads, ort, saveModel } from '../graph';
import { buildDecoderGraph, validateWeights, type DecoderGraphOptions, type LoraModule } from './decoder-graph';
import type { LoadedModel } from './loaded';
import { WeightFileWriter } from './weight-file';

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
   * onnxruntime weight pre-packing (default false). Measured on the 100M benchmark model (2 cores):
   * pre-packing made single-stream decoding ~2.5x slower and holds a second, packed copy of every
   * weight matrix; without it onnxruntime uses the (memory-mapped) weights in place.
   */
  prepack?: boolean;
  /** onnxruntime CPU memory arena (default true) */
  memArena?: boolean;
  /** storage of projection weights: 'float32' (default) or 'float16' (for GPU providers; on x86 CPU it was slower and saved no memory) */
  weightDtype?: 'float32' | 'float16';
}

/** KV cache for a batch: per layer key/value tensors [B, kvHeads, T, headDim]. */
export interface KvCache {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  /** T: positions held (including padding) */
  length: number;
  /**
   * Optional ping-pong buffers (from allocCache): present tensors are written into the buffer set
   * the past tensors do not use, so decoding allocates nothing per step.
   */
  pool?: KvPool;
}

export interface KvPool {
  /** capacity in positions */
  maxLength: number;
  /** two buffer sets, each [layer][key, value] of B*kvHeads*maxLength*headDim floats */
  sets: [Float32Array[][], Float32Array[][]];
  /** which set holds the current cache */
  current: 0 | 1;
  /** reused logits buffer (B*V floats): a pooled step's logits are overwritten by the next step */
  logits: Float32Array;
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
    const r = new DecoderRuntime(model, options);
    await r.ensureStep();
    return r;
  }

  private sessionOpts() {
    return {
      intraOpThreads: this.options.threads ?? defaultThreads(),
      executionProviders: this.options.executionProviders,
      profilePrefix: this.options.profilePrefix,
      memArena: this.options.memArena,
      extra: {
        ...(this.options.prepack === true ? {} : { 'session.disable_prepacking': '1' }),
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
    h.update(JSON.stringify({ fused: gopts.fused, wd: gopts.weightDtype ?? 'float32', v: 3 }));
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
      });
    }
    return this.fullSession;
  }

  /** An empty cache for a batch of `batch` rows. */
  emptyCache(batch: number): KvCache {
    const c = this.model.config;
    const mk = () => new ort.Tensor('float32', new Float32Array(0), [batch, c.numKvHeads, 0, c.headDim]);
    return { keys: Array.from({ length: c.numLayers }, mk), values: Array.from({ length: c.numLayers }, mk), length: 0 };
  }

  /**
   * An empty cache with preallocated ping-pong buffers for up to `maxLength` positions: steps then
   * write present.* straight into them (no per-step allocation, no garbage to collect).
   * Costs 2x the KV cache of `maxLength` positions. A pooled cache is consumed by `step`: keep
   * only the newest cache object (older ones share the buffers and are overwritten), and copy the
   * returned logits if you need them after the next step.
   */
  allocCache(batch: number, maxLength: number): KvCache {
    const c = this.model.config;
    const n = batch * c.numKvHeads * maxLength * c.headDim;
    const set = () => Array.from({ length: c.numLayers }, () => [new Float32Array(n), new Float32Array(n)]);
    return { ...this.emptyCache(batch), pool: { maxLength, sets: [set(), set()], current: 0, logits: new Float32Array(batch * c.vocabSize) } };
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
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor('int64', ids, [batch, seq]),
      attention_mask: new ort.Tensor('int64', attentionMask, [batch, total]),
      position_ids: new ort.Tensor('int64', positionIds, [batch, seq]),
    };
    for (let l = 0; l < this.model.config.numLayers; l++) {
      feeds[`past_key_values.${l}.key`] = cache.keys[l]!;
      feeds[`past_key_values.${l}.value`] = cache.values[l]!;
    }
    const c = this.model.config;
    const pool = cache.pool && total <= cache.pool.maxLength ? cache.pool : undefined;
    const keys: ort.Tensor[] = [];
    const values: ort.Tensor[] = [];
    if (pool) {
      const next = (1 - pool.current) as 0 | 1;
      const n = batch * c.numKvHeads * total * c.headDim;
      const dims = [batch, c.numKvHeads, total, c.headDim];
      const fetches: Record<string, ort.Tensor | null> = {
        logits: pool.logits.length >= batch * c.vocabSize ? new ort.Tensor('float32', pool.logits.subarray(0, batch * c.vocabSize), [batch, 1, c.vocabSize]) : null,
      };
      for (let l = 0; l < c.numLayers; l++) {
        const k = new ort.Tensor('float32', pool.sets[next][l]![0]!.subarray(0, n), dims);
        const v = new ort.Tensor('float32', pool.sets[next][l]![1]!.subarray(0, n), dims);
        fetches[`present.${l}.key`] = k;
        fetches[`present.${l}.value`] = v;
        keys.push(k);
        values.push(v);
      }
      const out = await s.run(feeds, fetches);
      const logits = fetches['logits'] ? (fetches['logits'].data as Float32Array) : (out['logits']!.data as Float32Array);
      return { logits, cache: { keys, values, length: total, pool: { ...pool, current: next } } };
    }
    const out = await s.run(feeds);
    for (let l = 0; l < c.numLayers; l++) {
      keys.push(out[`present.${l}.key`]!);
      values.push(out[`present.${l}.value`]!);
    }
    return { logits: out['logits']!.data as Float32Array, cache: { keys, values, length: total } };
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
