/**
 * Text generation: prefill + KV-cache decoding, batched with left padding, greedy / temperature /
 * top-k / top-p / repetition penalty, stop strings and EOS, seeded RNG, per-token streaming and
 * cooperative cancellation (shouldStop is polled between steps, e.g. reading a SharedArrayBuffer flag).
 */
import { ort } from './graph';
import { kvChannels, type DecoderRuntime, type KvCache } from './model/runtime';
import type { TextTokenizer } from './tokenizer/types';
import { IncrementalDetokenizer } from './tokenizer/incremental';
import { mulberry32 } from '../util/prng';

export interface SamplingOptions {
  /** 0 or undefined: greedy */
  temperature?: number;
  topK?: number;
  topP?: number;
  /** HF-style: >1 discourages tokens already present in prompt or output */
  repetitionPenalty?: number;
  seed?: number;
}

export interface TokenEvent {
  /** which prompt of the batch */
  index: number;
  /** the sampled token; -1 for the final flush of text held back at the end of a row */
  tokenId: number;
  /** newly visible text (may be empty while a multi-byte character or a possible stop string is pending) */
  text: string;
}

export interface GenerateOptions extends SamplingOptions {
  maxNewTokens?: number;
  /** generation ends when one of these appears; the text is cut before it */
  stop?: string[];
  /** extra token ids that end generation (the tokenizer's EOS ids always do unless ignoreEos) */
  stopTokenIds?: number[];
  ignoreEos?: boolean;
  /** add BOS etc. when encoding string prompts (default true) */
  addSpecialTokens?: boolean;
  /** string prompts were rendered by a chat template: their special-token text is those tokens (default false) */
  parseSpecial?: boolean;
  /** prompts longer than the context: 'error' (default) or 'truncate' (keep the end, and BOS) */
  overflow?: 'error' | 'truncate';
  /** max prompts decoded together (default: all) */
  batchSize?: number;
  /**
   * prompt tokens per prefill step (default: automatic, keeping the attention-score tensor of a
   * prefill step under ~256 MB); long prompts are prefilled in several KV-cache steps
   */
  prefillChunk?: number;
  onToken?: (e: TokenEvent) => void;
  /** polled between steps; returning true cancels (finishReason 'cancelled') */
  shouldStop?: () => boolean;
}

export type FinishReason = 'eos' | 'stop' | 'length' | 'cancelled';

export interface GenerationResult {
  text: string;
  tokenIds: number[];
  promptTokens: number;
  finishReason: FinishReason;
}

export class ContextOverflowError extends Error {}

/** The project's seeded generator (mulberry32), under the name the engine API exports. */
export const seededRandom = mulberry32;

/** Pick the next token from one row of logits (modified in place by the penalty). */
export function sampleToken(logits: Float32Array, opts: SamplingOptions, history: Iterable<number>, rand: () => number): number {
  const pen = opts.repetitionPenalty ?? 1;
  if (pen !== 1) {
    const seen = new Set(history);
    for (const t of seen) {
      if (t < 0 || t >= logits.length) continue;
      const v = logits[t]!;
      logits[t] = v > 0 ? v / pen : v * pen;
    }
  }
  const temp = opts.temperature ?? 0;
  if (!(temp > 0)) {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  // candidates: tokens within 20 nats of the best (relative probability > 2e-9); the excluded mass is
  // below n * 2e-9 (0.03% for a 128k vocabulary) and this avoids sorting the whole vocabulary
  const floor = max - 20 * temp;
  let idx: number[] = [];
  for (let i = 0; i < n; i++) if (logits[i]! >= floor) idx.push(i);
  idx.sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (opts.topK && opts.topK > 0 && idx.length > opts.topK) idx = idx.slice(0, opts.topK);
  let probs = idx.map((i) => Math.exp((logits[i]! - max) / temp));
  let z = probs.reduce((a, b) => a + b, 0);
  probs = probs.map((p) => p / z);
  const topP = opts.topP ?? 1;
  if (topP < 1) {
    let cum = 0;
    let cut = probs.length;
    for (let i = 0; i < probs.length; i++) {
      cum += probs[i]!;
      if (cum >= topP) {
        cut = i + 1;
        break;
      }
    }
    idx = idx.slice(0, cut);
    probs = probs.slice(0, cut);
    z = probs.reduce((a, b) => a + b, 0);
    probs = probs.map((p) => p / z);
  }
  let r = rand();
  for (let i = 0; i < probs.length; i++) {
    r -= probs[i]!;
    if (r <= 0) return idx[i]!;
  }
  return idx[idx.length - 1]!;
}

interface Row {
  prompt: number[];
  out: number[];
  done: FinishReason | null;
  /** the output's text so far (streamed pieces, cut before a stop string once one appears) */
  text: string;
  /** characters of `text` passed to onToken */
  emitted: number;
  detok: IncrementalDetokenizer;
}

/** The finished row's text: the whole output decoded once, cut before the first stop string. */
function finalText(tok: TextTokenizer, row: Row, stops: string[]): string {
  const text = tok.decode(row.out, { skipSpecial: true });
  return text.slice(0, firstStop(text, stops, 0));
}

/** Index of the earliest stop string in `text` at or after `from`, or text.length. */
function firstStop(text: string, stops: string[], from: number): number {
  let cut = text.length;
  for (const s of stops) {
    const at = text.indexOf(s, Math.max(0, from - s.length + 1));
    if (at >= 0 && at < cut) cut = at;
  }
  return cut;
}

/**
 * Append a token's text to the row; returns the text that may be shown now. Text that could be the
 * start of a stop string is held back until it is known not to be one. (Exported for tests.)
 */
export function advanceText(row: { text: string; emitted: number }, piece: string, stops: string[]): { delta: string; stopHit: boolean } {
  const before = row.text.length;
  row.text += piece;
  const cut = firstStop(row.text, stops, before);
  if (cut < row.text.length) {
    row.text = row.text.slice(0, cut);
    const delta = row.text.slice(row.emitted);
    row.emitted = row.text.length;
    return { delta, stopHit: true };
  }
  let safeLen = row.text.length;
  for (const s of stops)
    for (let k = Math.min(s.length - 1, row.text.length - row.emitted); k > 0; k--)
      if (row.text.endsWith(s.slice(0, k))) {
        safeLen = Math.min(safeLen, row.text.length - k);
        break;
      }
  const delta = row.text.slice(row.emitted, Math.max(row.emitted, safeLen));
  row.emitted += delta.length;
  return { delta, stopHit: false };
}

interface Placement {
  cache: KvCache;
  /** batch row in `cache` */
  slot: number;
  /** leading positions of that row to drop */
  skip: number;
}

/**
 * Build a pooled KV cache of `T` positions from rows of other caches, each right-aligned (its
 * remaining positions end at T; anything to the left is zero and must be masked out).
 */
function relayout(rt: DecoderRuntime, rows: Placement[], T: number, capacity: number): KvCache {
  const c = rt.model.config;
  const C = kvChannels(c);
  const hd = c.headDim;
  const next = rt.allocCache(rows.length, Math.max(capacity, T));
  const dst = next.pool!.buffer;
  rows.forEach((p, k) => {
    const srcT = p.cache.length;
    const n = srcT - p.skip;
    if (n <= 0) return;
    if (n > T) throw new Error('internal: KV row longer than the target cache');
    const src = p.cache.kv.data as Float32Array;
    for (let ch = 0; ch < C; ch++) {
      const from = ((p.slot * C + ch) * srcT + p.skip) * hd;
      dst.set(src.subarray(from, from + n * hd), ((k * C + ch) * T + (T - n)) * hd);
    }
  });
  const kv = new ort.Tensor('float32', dst.subarray(0, rows.length * C * T * hd), [rows.length, C, T, hd]);
  return { kv, length: T, pool: next.pool };
}

/**
 * Generate continuations for many prompts (strings or token-id arrays). Up to `batchSize` rows
 * decode together (left-padded); finished rows leave the batch and queued prompts take their
 * places (continuous batching), so results do not depend on batching for greedy decoding.
 */
export async function generateBatch(rt: DecoderRuntime, prompts: (string | number[])[], opts: GenerateOptions = {}): Promise<GenerationResult[]> {
  if (prompts.length === 0) return [];
  return new ContinuousBatch(rt, prompts, opts, Math.max(1, opts.batchSize ?? prompts.length)).run();
}

/** Generate a continuation of one prompt. */
export async function generate(rt: DecoderRuntime, prompt: string | number[], opts: GenerateOptions = {}): Promise<GenerationResult> {
  return (await generateBatch(rt, [prompt], opts))[0]!;
}

interface LiveRow extends Row {
  /** max new tokens for this row */
  limit: number;
}

/** One place in the decoding batch: its row, attention mask (cache + the token fed next), next position and the token fed next. */
interface Slot {
  ri: number;
  mask: number[];
  pos: number;
  feed: number;
}

/** Prompts just prefilled, waiting to join the batch: their slots and their cache. */
interface Prefilled {
  slots: Slot[];
  cache: KvCache;
}

/**
 * Continuous batching: up to `batchSize` rows decode together over one pooled KV cache; a row
 * that finishes leaves the batch (the cache is compacted once a quarter of the rows are done) and
 * queued prompts are prefilled into the free places.
 */
class ContinuousBatch {
  private readonly tok: TextTokenizer;
  private readonly stops: string[];
  private readonly eos: Set<number>;
  private readonly rand: () => number;
  private readonly padId: number;
  private readonly rows: LiveRow[];
  /** rows not yet prefilled, in prompt order */
  private readonly queue: number[];
  /** the batch being decoded, one slot per row of `cache` */
  private slots: Slot[] = [];
  private cache: KvCache | null = null;

  constructor(
    private readonly rt: DecoderRuntime,
    prompts: (string | number[])[],
    private readonly opts: GenerateOptions,
    private readonly batchSize: number,
  ) {
    this.tok = rt.model.tokenizer;
    this.stops = (opts.stop ?? []).filter((s) => s.length > 0);
    this.eos = new Set([...(opts.ignoreEos ? [] : this.tok.eosIds), ...(opts.stopTokenIds ?? [])]);
    this.rand = seededRandom(opts.seed ?? 0x5eed);
    this.padId = this.tok.padId ?? this.tok.eosIds[0] ?? 0;
    this.rows = prompts.map((p, i) => this.newRow(p, i));
    for (const r of this.rows) if (r.limit === 0) this.finish(r, 'length');
    this.queue = this.rows.map((_, i) => i).filter((i) => !this.rows[i]!.done);
  }

  /** A prompt's row: its tokens (checked against the vocabulary, truncated to the context when asked) and its token budget. */
  private newRow(p: string | number[], i: number): LiveRow {
    const { tok, opts } = this;
    const cfg = this.rt.model.config;
    const maxCtx = cfg.maxPositions;
    let ids = typeof p === 'string' ? tok.encode(p, { addSpecial: opts.addSpecialTokens ?? true, parseSpecial: opts.parseSpecial ?? false }) : p.slice();
    if (ids.length === 0) throw new Error(`prompt ${i} is empty after tokenisation`);
    const bad = ids.find((t) => !Number.isInteger(t) || t < 0 || t >= cfg.vocabSize);
    if (bad !== undefined) throw new Error(`prompt ${i} contains token id ${bad}, outside the model's vocabulary (0..${cfg.vocabSize - 1})`);
    if (ids.length >= maxCtx) {
      if (opts.overflow !== 'truncate')
        throw new ContextOverflowError(`prompt ${i} has ${ids.length} tokens; the model's context is ${maxCtx} (pass overflow: 'truncate' to keep the end)`);
      const keepBos = tok.bosId !== null && ids[0] === tok.bosId;
      const room = maxCtx - 1 - (keepBos ? 1 : 0);
      ids = [...(keepBos ? [ids[0]!] : []), ...ids.slice(ids.length - room)];
    }
    const limit = Math.max(0, Math.min(opts.maxNewTokens ?? 128, maxCtx - ids.length));
    return { prompt: ids, out: [], done: null, text: '', emitted: 0, detok: new IncrementalDetokenizer(tok), limit };
  }

  /** Decode until every row is done (or cancelled); the results in prompt order. */
  async run(): Promise<GenerationResult[]> {
    const { rows, queue } = this;
    while (true) {
      if (this.opts.shouldStop?.()) {
        for (const r of rows) this.finish(r, 'cancelled');
        break;
      }
      const live = this.slots.flatMap((s, b) => (rows[s.ri]!.done ? [] : [b]));
      const total = this.slots.length;
      if (queue.length && live.length < this.batchSize) {
        const added = await this.prefill(this.batchSize - live.length);
        this.rebuild(live, added);
      } else if (live.length < total && (live.length === 0 || total - live.length >= Math.max(1, Math.floor(total / 4)))) {
        if (live.length === 0) this.clear();
        else this.rebuild(live, null);
      }
      if (this.slots.length === 0 || !this.cache) {
        if (!queue.length) break;
        continue;
      }
      if (this.slots.every((s) => rows[s.ri]!.done)) {
        this.clear();
        continue;
      }
      await this.decodeStep(this.cache);
    }
    for (const r of rows) this.finish(r, 'length');
    return rows.map((r, i) => this.result(r, i));
  }

  private finish(r: Row, why: FinishReason): void {
    if (!r.done) r.done = why;
  }

  private clear(): void {
    this.slots = [];
    this.cache = null;
  }

  /** Sample the next token of row `ri` from its logits; returns the token to feed (pad when the row finished). */
  private consume(ri: number, logits: Float32Array): number {
    const { opts } = this;
    const r = this.rows[ri]!;
    const t = sampleToken(logits, opts, opts.repetitionPenalty && opts.repetitionPenalty !== 1 ? [...r.prompt, ...r.out] : [], this.rand);
    if (this.eos.has(t)) {
      this.finish(r, 'eos');
      opts.onToken?.({ index: ri, tokenId: t, text: '' });
      return this.padId;
    }
    r.out.push(t);
    const { delta, stopHit } = advanceText(r, r.detok.push(t), this.stops);
    opts.onToken?.({ index: ri, tokenId: t, text: delta });
    if (stopHit) this.finish(r, 'stop');
    else if (r.out.length >= r.limit) this.finish(r, 'length');
    return t;
  }

  /** The most tokens any of these slots' rows may still generate (at least 1). */
  private remaining(slots: readonly Slot[]): number {
    return Math.max(1, ...slots.map((s) => this.rows[s.ri]!.limit - this.rows[s.ri]!.out.length));
  }

  /** Prefill up to `n` queued prompts (left-padded, in chunks that bound the attention scores) and sample their first tokens. */
  private async prefill(n: number): Promise<Prefilled> {
    const { rows, padId } = this;
    const idx = this.queue.splice(0, n);
    const k = idx.length;
    const P = Math.max(...idx.map((ri) => rows[ri]!.prompt.length));
    const ids = new BigInt64Array(k * P);
    const pos = new BigInt64Array(k * P);
    const masks = idx.map((ri) => {
      const pr = rows[ri]!.prompt;
      return [...new Array<number>(P - pr.length).fill(0), ...pr.map(() => 1)];
    });
    idx.forEach((ri, b) => {
      const pr = rows[ri]!.prompt;
      const off = P - pr.length;
      for (let t = 0; t < P; t++) {
        ids[b * P + t] = BigInt(t < off ? padId : pr[t - off]!);
        pos[b * P + t] = BigInt(t < off ? 0 : t - off);
      }
    });
    // chunked prefill bounds the [k, heads, chunk, P] attention scores
    const auto = Math.floor((256 * 2 ** 20) / (4 * k * this.rt.model.config.numHeads * P));
    const chunk = Math.max(1, Math.min(P, this.opts.prefillChunk ?? Math.max(32, auto)));
    let c: KvCache = this.rt.emptyCache(k);
    let res: StepResultLike | null = null;
    for (let c0 = 0; c0 < P; c0 += chunk) {
      const c1 = Math.min(P, c0 + chunk);
      const w = c1 - c0;
      const cid = new BigInt64Array(k * w);
      const cpos = new BigInt64Array(k * w);
      const cmask = new BigInt64Array(k * c1);
      for (let b = 0; b < k; b++) {
        cid.set(ids.subarray(b * P + c0, b * P + c1), b * w);
        cpos.set(pos.subarray(b * P + c0, b * P + c1), b * w);
        for (let t = 0; t < c1; t++) cmask[b * c1 + t] = BigInt(masks[b]![t]!);
      }
      res = await this.rt.step(cid, k, cmask, cpos, c);
      c = res.cache;
    }
    const last = res!;
    const V = last.logits.length / k;
    const slots = idx.map((ri, b) => {
      const feed = this.consume(ri, last.logits.subarray(b * V, (b + 1) * V));
      masks[b]!.push(rows[ri]!.done ? 0 : 1);
      return { ri, mask: masks[b]!, pos: rows[ri]!.prompt.length, feed };
    });
    return { slots, cache: last.cache };
  }

  /** Rebuild the batch from the kept slots (indices into the current batch) and newly prefilled rows, trimming padding columns. */
  private rebuild(keep: readonly number[], added: Prefilled | null): void {
    const T0 = this.cache ? this.cache.length : 0;
    const srcs = keep.map((b) => ({ slot: this.slots[b]!, place: { cache: this.cache!, slot: b, skip: 0 }, len: T0 }));
    if (added) added.slots.forEach((slot, b) => srcs.push({ slot, place: { cache: added.cache, slot: b, skip: 0 }, len: added.cache.length }));
    // each row drops its own leading padding columns and is right-aligned in the new cache (rows
    // have their own position ids, so only the mask and the order of a row's columns matter)
    for (const s of srcs) {
      let z = 0;
      while (z < s.len && s.slot.mask[z] === 0) z++;
      s.place.skip = z;
    }
    const T = Math.max(...srcs.map((s) => s.len - s.place.skip));
    this.slots = srcs.map((s) => ({ ...s.slot, mask: [...new Array<number>(T - (s.len - s.place.skip)).fill(0), ...s.slot.mask.slice(s.place.skip)] }));
    this.cache = relayout(
      this.rt,
      srcs.map((s) => s.place),
      T,
      T + this.remaining(this.slots) + 1,
    );
  }

  /** One decoding step of the whole batch: every live row gets its next token. */
  private async decodeStep(cache: KvCache): Promise<void> {
    const { slots } = this;
    const nb = slots.length;
    const ids = BigInt64Array.from(slots, (s) => BigInt(s.feed));
    const pos = BigInt64Array.from(slots, (s) => BigInt(s.pos));
    const mask = BigInt64Array.from(
      slots.flatMap((s) => s.mask),
      (v) => BigInt(v),
    );
    const res: StepResultLike = await this.rt.step(ids, nb, mask, pos, cache);
    this.cache = res.cache;
    const V = res.logits.length / nb;
    slots.forEach((s, b) => {
      const r = this.rows[s.ri]!;
      if (r.done) {
        s.feed = this.padId;
        s.mask.push(0);
        return;
      }
      s.pos++;
      s.feed = this.consume(s.ri, res.logits.subarray(b * V, (b + 1) * V));
      s.mask.push(r.done ? 0 : 1);
    });
  }

  private result(r: LiveRow, i: number): GenerationResult {
    const { opts } = this;
    const text = finalText(this.tok, r, this.stops);
    if (r.emitted < text.length && opts.onToken && r.done !== 'cancelled') {
      // flush text held back at the end (a partial stop-string prefix that never completed, an
      // incomplete character)
      opts.onToken({ index: i, tokenId: -1, text: text.slice(r.emitted) });
    }
    return { text, tokenIds: r.out, promptTokens: r.prompt.length, finishReason: r.done! };
  }
}

type StepResultLike = { logits: Float32Array; cache: KvCache };
