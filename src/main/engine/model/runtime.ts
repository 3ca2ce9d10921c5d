/**
 * Runs a LoadedModel on onnxruntime-node: a KV-cache step graph (last-position logits, used for
 * prefill and decoding) and, on demand, a full-sequence graph (logits for every position).
 */
import { createSession, defaultThreads, ort } from '../graph';
import { buildDecoderGraph, validateWeights, type LoraModule } from './decoder-graph';
import type { LoadedModel } from './loaded';

export interface RuntimeOptions {
  /** intra-op threads (default: available parallelism, at most 8) */
  threads?: number;
  /** execution providers in preference order (default ['cpu']) */
  executionProviders?: string[];
  /** use fused onnxruntime ops in the graphs (default true) */
  fused?: boolean;
  /** unmerged LoRA adapters (extra low-rank MatMuls) keyed by weight name */
  lora?: Map<string, LoraModule>;
}

/** KV cache for a batch: per layer key/value tensors [B, kvHeads, T, headDim]. */
export interface KvCache {
  keys: ort.Tensor[];
  values: ort.Tensor[];
  /** T: positions held (including padding) */
  length: number;
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
    };
  }

  private async ensureStep(): Promise<ort.InferenceSession> {
    if (!this.stepSession) {
      const g = buildDecoderGraph(this.model.config, this.model.weights, {
        kvCache: true,
        logits: 'last',
        fused: this.options.fused ?? true,
        lora: this.options.lora,
      });
      this.stepSession = await createSession(g.build(), this.sessionOpts());
    }
    return this.stepSession;
  }

  private async ensureFull(): Promise<ort.InferenceSession> {
    if (!this.fullSession) {
      const g = buildDecoderGraph(this.model.config, this.model.weights, {
        kvCache: false,
        logits: 'all',
        fused: this.options.fused ?? true,
        lora: this.options.lora,
      });
      this.fullSession = await createSession(g.build(), this.sessionOpts());
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
    const out = await s.run(feeds);
    const keys: ort.Tensor[] = [];
    const values: ort.Tensor[] = [];
    for (let l = 0; l < this.model.config.numLayers; l++) {
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
