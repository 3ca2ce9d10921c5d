/**
 * Training examples and batches: token ids with a per-token loss mask (which tokens are predicted),
 * right padding with an attention mask, next-token labels and per-position loss weights.
 */
import type { TextTokenizer } from '../tokenizer/types';

export interface TrainExample {
  ids: number[];
  /** 1 where the token is a training target (predicted from the tokens before it); default all but the first */
  lossMask?: number[];
}

export interface PromptResponse {
  prompt: string;
  response: string;
}

export interface TokenizeOptions {
  /** 'response' (default): loss only on the response tokens (+ EOS); 'all': on every token after the first */
  lossOn?: 'response' | 'all';
  /** prepend BOS when the tokenizer has one (default true) */
  addBos?: boolean;
  /** the prompt was rendered by a chat template: its special-token text ("<s>") is those tokens (default false) */
  parseSpecial?: boolean;
  /** append EOS after the response (default true) */
  addEos?: boolean;
  /** truncate to this many tokens */
  maxLength?: number;
}

/** The prompt's tokens (BOS included when asked) and the response's (EOS appended when asked). */
function encodeParts(tok: TextTokenizer, ex: PromptResponse, opts: TokenizeOptions): { prompt: number[]; response: number[] } {
  const prompt = tok.encode(ex.prompt, { addSpecial: opts.addBos ?? true, parseSpecial: opts.parseSpecial ?? false });
  const eos = (opts.addEos ?? true) && tok.eosIds.length ? [tok.eosIds[0]!] : [];
  return { prompt, response: [...tok.encode(ex.response, { addSpecial: false }), ...eos] };
}

/** Tokenise a prompt/response pair (already chat-formatted if wanted) into a TrainExample. */
export function tokenizeExample(tok: TextTokenizer, ex: PromptResponse, opts: TokenizeOptions = {}): TrainExample {
  const { prompt: p, response } = encodeParts(tok, ex, opts);
  let ids = [...p, ...response];
  let mask = ids.map((_, i) => (opts.lossOn === 'all' ? (i > 0 ? 1 : 0) : i >= p.length ? 1 : 0));
  if (opts.maxLength && ids.length > opts.maxLength) {
    ids = ids.slice(0, opts.maxLength);
    mask = mask.slice(0, opts.maxLength);
  }
  return { ids, lossMask: mask };
}

export interface Batch {
  batch: number;
  seq: number;
  inputIds: BigInt64Array;
  attentionMask: BigInt64Array;
  positionIds: BigInt64Array;
  /** next token at each position (0 where not counted) */
  labels: BigInt64Array;
  /** 1 where labels count, else 0 (scaled by the trainer) */
  labelMask: Float32Array;
  /** number of counted positions */
  tokens: number;
}

/** Right-pad examples into one batch. */
export function makeBatch(examples: TrainExample[], opts: { padId?: number; maxLength?: number } = {}): Batch {
  if (examples.length === 0) throw new Error('makeBatch: no examples');
  const rows = examples.map((e) => {
    const n = Math.min(e.ids.length, opts.maxLength ?? Infinity);
    if (n < 1) throw new Error('makeBatch: empty example');
    const mask = e.lossMask ?? e.ids.map((_, i) => (i > 0 ? 1 : 0));
    if (mask.length !== e.ids.length) throw new Error(`makeBatch: lossMask has ${mask.length} entries for ${e.ids.length} tokens`);
    return { ids: e.ids.slice(0, n), mask: mask.slice(0, n) };
  });
  const B = rows.length;
  const S = Math.max(...rows.map((r) => r.ids.length));
  const pad = BigInt(opts.padId ?? 0);
  const inputIds = new BigInt64Array(B * S).fill(pad);
  const attentionMask = new BigInt64Array(B * S);
  const positionIds = new BigInt64Array(B * S);
  const labels = new BigInt64Array(B * S);
  const labelMask = new Float32Array(B * S);
  let tokens = 0;
  rows.forEach((r, b) => {
    for (let t = 0; t < r.ids.length; t++) {
      const i = b * S + t;
      inputIds[i] = BigInt(r.ids[t]!);
      attentionMask[i] = 1n;
      positionIds[i] = BigInt(t);
      if (t + 1 < r.ids.length && r.mask[t + 1]) {
        labels[i] = BigInt(r.ids[t + 1]!);
        labelMask[i] = 1;
        tokens++;
      }
    }
  });
  return { batch: B, seq: S, inputIds, attentionMask, positionIds, labels, labelMask, tokens };
}

/**
 * Token counts of a pair as tokenizeExample builds it, before truncation: `prompt` = tokens before
 * the first response token (BOS and template included), `total` = prompt + response (+ EOS).
 * With loss on the response, truncating to L tokens keeps max(0, min(L, total) − max(prompt, 1))
 * target tokens (targetTokens of the truncated example).
 */
export function exampleLengths(
  tok: TextTokenizer,
  ex: PromptResponse,
  opts: Omit<TokenizeOptions, 'maxLength' | 'lossOn'> = {},
): { prompt: number; total: number } {
  const { prompt, response } = encodeParts(tok, ex, opts);
  return { prompt: prompt.length, total: prompt.length + response.length };
}

/** Count of target tokens an example contributes. */
export function targetTokens(e: TrainExample, maxLength?: number): number {
  const n = Math.min(e.ids.length, maxLength ?? Infinity);
  const mask = e.lossMask ?? e.ids.map((_, i) => (i > 0 ? 1 : 0));
  let c = 0;
  for (let t = 1; t < n; t++) if (mask[t]) c++;
  return c;
}
