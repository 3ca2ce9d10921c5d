/**
 * Text generation: prefill + KV-cache decoding, batched with left padding, greedy / temperature /
 * top-k / top-p / repetition penalty, stop strings and EOS, seeded RNG, per-token streaming and
 * cooperative cancellation (shouldStop is polled between steps, e.g. reading a SharedArrayBuffer flag).
 */
import { ort } from './graph';
import type { DecoderRuntime, KvCache } from './model/runtime';
import type { TextTokenizer } from './tokenizer/types';

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
  /** prompts longer than the context: 'error' (default) or 'truncate' (keep the end, and BOS) */
  overflow?: 'error' | 'truncate';
  /** max prompts decoded together (default: all) */
  batchSize?: number;
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

/** mulberry32: small, fast, seeded. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

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
  emitted: number;
  text: string;
}

function visibleText(tok: TextTokenizer, row: Row, stops: string[]): { text: string; stopHit: boolean; safeLen: number } {
  let text = tok.decode(row.out, { skipSpecial: true });
  let stopHit = false;
  for (const s of stops) {
    const at = text.indexOf(s);
    if (at >= 0) {
      text = text.slice(0, at);
      stopHit = true;
    }
  }
  let safeLen = text.length;
  if (!stopHit) {
    // hold back an incomplete UTF-8 character and any suffix that could start a stop string
    while (safeLen > 0 && text.charCodeAt(safeLen - 1) === 0xfffd) safeLen--;
    for (const s of stops)
      for (let k = Math.min(s.length - 1, safeLen); k > 0; k--)
        if (text.slice(safeLen - k, safeLen) === s.slice(0, k)) {
          safeLen -= k;
          break;
        }
  }
  return { text, stopHit, safeLen };
}

/** Keep only batch rows `keep` (indices into the current batch of `nb`) of a KV cache. */
function compactCache(rt: DecoderRuntime, cache: KvCache, keep: number[], nb: number, maxLen: number): KvCache {
  const c = rt.model.config;
  const T = cache.length;
  const rowLen = c.numKvHeads * T * c.headDim;
  const next = rt.allocCache(keep.length, maxLen);
  const cur = next.pool!.sets[next.pool!.current];
  const dims = [keep.length, c.numKvHeads, T, c.headDim];
  const keys: ort.Tensor[] = [];
  const values: ort.Tensor[] = [];
  for (let l = 0; l < c.numLayers; l++) {
    const srcK = cache.keys[l]!.data as Float32Array;
    const srcV = cache.values[l]!.data as Float32Array;
    if (srcK.length !== nb * rowLen) throw new Error('internal: KV cache size mismatch while compacting');
    const [dk, dv] = cur[l]!;
    keep.forEach((b, k) => {
      dk!.set(srcK.subarray(b * rowLen, (b + 1) * rowLen), k * rowLen);
      dv!.set(srcV.subarray(b * rowLen, (b + 1) * rowLen), k * rowLen);
    });
    keys.push(new ort.Tensor('float32', dk!.subarray(0, keep.length * rowLen), dims));
    values.push(new ort.Tensor('float32', dv!.subarray(0, keep.length * rowLen), dims));
  }
  return { keys, values, length: T, pool: next.pool };
}

/** Generate continuations for many prompts (strings or token-id arrays), batched with left padding. */
export async function generateBatch(rt: DecoderRuntime, prompts: (string | number[])[], opts: GenerateOptions = {}): Promise<GenerationResult[]> {
  if (prompts.length === 0) return [];
  const bs = Math.max(1, opts.batchSize ?? prompts.length);
  const results: GenerationResult[] = [];
  for (let start = 0; start < prompts.length; start += bs) {
    const chunk = prompts.slice(start, start + bs);
    const onToken = opts.onToken;
    const res = await generateChunk(rt, chunk, { ...opts, onToken: onToken ? (e) => onToken({ ...e, index: e.index + start }) : undefined });
    results.push(...res);
    if (res.some((r) => r.finishReason === 'cancelled')) {
      for (let i = start + chunk.length; i < prompts.length; i++)
        results.push({ text: '', tokenIds: [], promptTokens: 0, finishReason: 'cancelled' });
      break;
    }
  }
  return results;
}

/** Generate a continuation of one prompt. */
export async function generate(rt: DecoderRuntime, prompt: string | number[], opts: GenerateOptions = {}): Promise<GenerationResult> {
  return (await generateBatch(rt, [prompt], opts))[0]!;
}

async function generateChunk(rt: DecoderRuntime, prompts: (string | number[])[], opts: GenerateOptions): Promise<GenerationResult[]> {
  const tok = rt.model.tokenizer;
  const cfg = rt.model.config;
  const maxCtx = cfg.maxPositions;
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const eos = new Set([...(opts.ignoreEos ? [] : tok.eosIds), ...(opts.stopTokenIds ?? [])]);
  const rows: Row[] = prompts.map((p, i) => {
    let ids = typeof p === 'string' ? tok.encode(p, { addSpecial: opts.addSpecialTokens ?? true }) : p.slice();
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
    return { prompt: ids, out: [], done: null, emitted: 0, text: '' };
  });
  const B = rows.length;
  const P = Math.max(...rows.map((r) => r.prompt.length));
  const maxNew = Math.max(0, Math.min(opts.maxNewTokens ?? 128, maxCtx - P));
  const rand = seededRandom(opts.seed ?? 0x5eed);
  const padId = tok.padId ?? tok.eosIds[0] ?? 0;

  // left-padded prefill
  const ids = new BigInt64Array(B * P);
  // per active batch slot: attention mask so far, next position id; `active[k]` = original row of slot k
  let maskRows: number[][] = rows.map((r) => [...new Array<number>(P - r.prompt.length).fill(0), ...r.prompt.map(() => 1)]);
  const pos = new BigInt64Array(B * P);
  rows.forEach((r, b) => {
    const off = P - r.prompt.length;
    for (let t = 0; t < P; t++) {
      ids[b * P + t] = BigInt(t < off ? padId : r.prompt[t - off]!);
      pos[b * P + t] = BigInt(t < off ? 0 : t - off);
    }
  });
  let nextPos = rows.map((r) => r.prompt.length);
  let active = rows.map((_, i) => i);
  const flatMask = () => BigInt64Array.from(maskRows.flat(), (v) => BigInt(v));

  const maxLen = P + maxNew;
  let cache: KvCache = rt.allocCache(B, maxLen);
  let feedIds = ids;
  let feedPos = pos;
  const finish = (r: Row, why: FinishReason) => {
    if (!r.done) r.done = why;
  };
  if (maxNew === 0) rows.forEach((r) => finish(r, 'length'));
  for (let step = 0; step < maxNew; step++) {
    if (opts.shouldStop?.()) {
      rows.forEach((r) => finish(r, 'cancelled'));
      break;
    }
    const nb = active.length;
    const res = await rt.step(feedIds, nb, flatMask(), feedPos, cache);
    cache = res.cache;
    const V = res.logits.length / nb;
    const nextIds = new BigInt64Array(nb);
    const nextP = new BigInt64Array(nb);
    active.forEach((ri, b) => {
      const r = rows[ri]!;
      if (r.done) {
        nextIds[b] = BigInt(padId);
        nextP[b] = BigInt(nextPos[b]!);
        maskRows[b]!.push(0);
        return;
      }
      const row = res.logits.subarray(b * V, (b + 1) * V);
      const t = sampleToken(row, opts, opts.repetitionPenalty && opts.repetitionPenalty !== 1 ? [...r.prompt, ...r.out] : [], rand);
      nextIds[b] = BigInt(t);
      nextP[b] = BigInt(nextPos[b]!++);
      maskRows[b]!.push(1);
      if (eos.has(t)) {
        finish(r, 'eos');
        opts.onToken?.({ index: ri, tokenId: t, text: '' });
        return;
      }
      r.out.push(t);
      const vis = visibleText(tok, r, stops);
      const delta = vis.stopHit ? vis.text.slice(r.emitted) : vis.text.slice(r.emitted, vis.safeLen);
      r.emitted += delta.length;
      opts.onToken?.({ index: ri, tokenId: t, text: delta });
      if (vis.stopHit) finish(r, 'stop');
      else if (r.out.length >= maxNew) finish(r, 'length');
    });
    if (rows.every((r) => r.done)) break;
    feedIds = nextIds;
    feedPos = nextP;
    // drop finished rows from the batch once a quarter of it is done (saves their compute)
    const keep = active.map((ri, b) => [ri, b] as const).filter(([ri]) => !rows[ri]!.done);
    if (keep.length < nb && nb - keep.length >= Math.max(1, Math.floor(nb / 4))) {
      cache = compactCache(rt, cache, keep.map(([, b]) => b), nb, maxLen);
      active = keep.map(([ri]) => ri);
      maskRows = keep.map(([, b]) => maskRows[b]!);
      nextPos = keep.map(([, b]) => nextPos[b]!);
      feedIds = BigInt64Array.from(keep.map(([, b]) => feedIds[b]!));
      feedPos = BigInt64Array.from(keep.map(([, b]) => feedPos[b]!));
    }
  }
  rows.forEach((r) => finish(r, 'length'));
  return rows.map((r) => {
    const vis = visibleText(tok, r, stops);
    if (r.emitted < vis.text.length && opts.onToken && r.done !== 'cancelled') {
      // flush text held back at the end (e.g. a partial stop-string prefix that never completed)
      opts.onToken({ index: rows.indexOf(r), tokenId: -1, text: vis.text.slice(r.emitted) });
    }
    return { text: vis.text, tokenIds: r.out, promptTokens: r.prompt.length, finishReason: r.done! };
  });
}
