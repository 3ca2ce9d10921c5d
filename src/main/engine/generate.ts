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
  return generateRows(rt, prompts, opts, Math.max(1, opts.batchSize ?? prompts.length));
}

/** Generate a continuation of one prompt. */
export async function generate(rt: DecoderRuntime, prompt: string | number[], opts: GenerateOptions = {}): Promise<GenerationResult> {
  return (await generateBatch(rt, [prompt], opts))[0]!;
}

interface LiveRow extends Row {
  /** max new tokens for this row */
  limit: number;
}

async function generateRows(rt: DecoderRuntime, prompts: (string | number[])[], opts: GenerateOptions, bs: number): Promise<GenerationResult[]> {
  const tok = rt.model.tokenizer;
  const cfg = rt.model.config;
  const maxCtx = cfg.maxPositions;
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const eos = new Set([...(opts.ignoreEos ? [] : tok.eosIds), ...(opts.stopTokenIds ?? [])]);
  const maxNewTokens = opts.maxNewTokens ?? 128;
  const rows: LiveRow[] = prompts.map((p, i) => {
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
    return { prompt: ids, out: [], done: null, text: '', emitted: 0, detok: new IncrementalDetokenizer(tok), limit: Math.max(0, Math.min(maxNewTokens, maxCtx - ids.length)) };
  });
  const rand = seededRandom(opts.seed ?? 0x5eed);
  const padId = tok.padId ?? tok.eosIds[0] ?? 0;
  const finish = (r: Row, why: FinishReason) => {
    if (!r.done) r.done = why;
  };
  for (const r of rows) if (r.limit === 0) finish(r, 'length');

  /** sample the next token of row `ri` from its logits; returns the token to feed (pad when finished) */
  const consume = (ri: number, logits: Float32Array): number => {
    const r = rows[ri]!;
    const t = sampleToken(logits, opts, opts.repetitionPenalty && opts.repetitionPenalty !== 1 ? [...r.prompt, ...r.out] : [], rand);
    if (eos.has(t)) {
      finish(r, 'eos');
      opts.onToken?.({ index: ri, tokenId: t, text: '' });
      return padId;
    }
    r.out.push(t);
    const { delta, stopHit } = advanceText(r, r.detok.push(t), stops);
    opts.onToken?.({ index: ri, tokenId: t, text: delta });
    if (stopHit) finish(r, 'stop');
    else if (r.out.length >= r.limit) finish(r, 'length');
    return t;
  };

  // batch state, one entry per slot: row index, attention mask (cache + the token fed next), next position, token fed next
  let active: number[] = [];
  let maskRows: number[][] = [];
  let nextPos: number[] = [];
  let feed: number[] = [];
  let cache: KvCache | null = null;
  const queue = rows.map((_, i) => i).filter((i) => !rows[i]!.done);

  const remaining = (slots: number[]) => Math.max(1, ...slots.map((ri) => rows[ri]!.limit - rows[ri]!.out.length));

  /** prefill up to `n` queued prompts; returns their cache and per-slot state */
  const prefill = async (n: number) => {
    const idx = queue.splice(0, n);
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
    const auto = Math.floor((256 * 2 ** 20) / (4 * k * cfg.numHeads * P));
    const chunk = Math.max(1, Math.min(P, opts.prefillChunk ?? Math.max(32, auto)));
    let c: KvCache = rt.emptyCache(k);
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
      res = await rt.step(cid, k, cmask, cpos, c);
      c = res.cache;
    }
    res = res!;
    const V = res.logits.length / k;
    const fed = idx.map((ri, b) => consume(ri, res.logits.subarray(b * V, (b + 1) * V)));
    idx.forEach((ri, b) => masks[b]!.push(rows[ri]!.done ? 0 : 1));
    return { idx, cache: res.cache, masks, pos: idx.map((ri) => rows[ri]!.prompt.length), fed };
  };

  /** rebuild the batch from kept slots (+ newly prefilled rows), trimming padding columns */
  const rebuild = (keep: number[], added: Awaited<ReturnType<typeof prefill>> | null) => {
    const T0 = cache ? cache.length : 0;
    type Src = { ri: number; mask: number[]; pos: number; fed: number; place: Placement | null; len: number };
    const srcs: Src[] = keep.map((b) => ({ ri: active[b]!, mask: maskRows[b]!, pos: nextPos[b]!, fed: feed[b]!, place: { cache: cache!, slot: b, skip: 0 }, len: T0 }));
    if (added)
      added.idx.forEach((ri, b) => srcs.push({ ri, mask: added.masks[b]!, pos: added.pos[b]!, fed: added.fed[b]!, place: { cache: added.cache, slot: b, skip: 0 }, len: added.cache.length }));
    // each row drops its own leading padding columns and is right-aligned in the new cache (rows
    // have their own position ids, so only the mask and the order of a row's columns matter)
    for (const s of srcs) {
      let z = 0;
      while (z < s.len && s.mask[z] === 0) z++;
      s.place!.skip = z;
    }
    const T = Math.max(...srcs.map((s) => s.len - s.place!.skip));
    for (const s of srcs) {
      const n = s.len - s.place!.skip;
      s.mask = [...new Array<number>(T - n).fill(0), ...s.mask.slice(s.place!.skip)];
    }
    active = srcs.map((s) => s.ri);
    maskRows = srcs.map((s) => s.mask);
    nextPos = srcs.map((s) => s.pos);
    feed = srcs.map((s) => s.fed);
    cache = relayout(rt, srcs.map((s) => s.place!), T, T + remaining(active) + 1);
  };

  while (true) {
    if (opts.shouldStop?.()) {
      rows.forEach((r) => finish(r, 'cancelled'));
      break;
    }
    const live = active.map((ri, b) => [ri, b] as const).filter(([ri]) => !rows[ri]!.done).map(([, b]) => b);
    if (queue.length && live.length < bs) {
      const added = await prefill(bs - live.length);
      rebuild(live, added);
    } else if (live.length < active.length && (live.length === 0 || active.length - live.length >= Math.max(1, Math.floor(active.length / 4)))) {
      if (live.length === 0) {
        active = [];
        cache = null;
      } else rebuild(live, null);
    }
    if (active.length === 0 || !cache) {
      if (!queue.length) break;
      continue;
    }
    if (active.every((ri) => rows[ri]!.done)) {
      active = [];
      cache = null;
      continue;
    }
    const nb = active.length;
    const ids = BigInt64Array.from(feed, (t) => BigInt(t));
    const pos = BigInt64Array.from(nextPos, (p) => BigInt(p));
    const res: StepResultLike = await rt.step(ids, nb, BigInt64Array.from(maskRows.flat(), (v) => BigInt(v)), pos, cache);
    cache = res.cache;
    const V = res.logits.length / nb;
    active.forEach((ri, b) => {
      const r = rows[ri]!;
      if (r.done) {
        feed[b] = padId;
        maskRows[b]!.push(0);
        return;
      }
      nextPos[b]!++;
      feed[b] = consume(ri, res.logits.subarray(b * V, (b + 1) * V));
      maskRows[b]!.push(r.done ? 0 : 1);
    });
  }
  rows.forEach((r) => finish(r, 'length'));
  return rows.map((r, i) => {
    const text = finalText(tok, r, stops);
    if (r.emitted < text.length && opts.onToken && r.done !== 'cancelled') {
      // flush text held back at the end (a partial stop-string prefix that never completed, an
      // incomplete character)
      opts.onToken({ index: i, tokenId: -1, text: text.slice(r.emitted) });
    }
    return { text, tokenIds: r.out, promptTokens: r.prompt.length, finishReason: r.done! };
  });
}

type StepResultLike = { logits: Float32Array; cache: KvCache };
