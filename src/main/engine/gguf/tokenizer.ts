/**
 * SentencePiece (BPE-by-score, "llama" model) tokenizer as embedded in GGUF files, following
 * llama.cpp's llm_tokenizer_spm: whitespace → "▁", optional dummy prefix, greedy merges of the
 * highest-scoring adjacent pair (ties: leftmost first), byte fallback via <0xXX> tokens. As
 * llama.cpp's tokenizer_st_partition does, the text of a user-defined token is encoded as that
 * token, and with `parseSpecial` (text a chat template rendered) so is the text of a control
 * token: "<s>" becomes the BOS id, not "<", "s", ">".
 */
import { GgufError, type GgufFile, type GgufValue } from './reader';
import type { TextTokenizer } from '../tokenizer/types';

export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

export interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: number[];
  bosId: number | null;
  eosId: number | null;
  unkId: number | null;
  padId: number | null;
  addBos: boolean;
  addSpacePrefix: boolean;
  /** extra end-of-generation ids (e.g. <|eot_id|>) */
  extraEos?: number[];
}

interface Sym {
  text: string;
  prev: number;
  next: number;
  /** 0 when merged away */
  n: number;
}

interface Bigram {
  left: number;
  right: number;
  score: number;
  size: number;
}

/** Max-heap on (score desc, left asc). */
class BigramQueue {
  private h: Bigram[] = [];
  private better(a: Bigram, b: Bigram): boolean {
    return a.score > b.score || (a.score === b.score && a.left < b.left);
  }
  push(x: Bigram): void {
    const h = this.h;
    h.push(x);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.better(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }
  pop(): Bigram | undefined {
    const h = this.h;
    if (!h.length) return undefined;
    const top = h[0]!;
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.better(h[l]!, h[m]!)) m = l;
        if (r < h.length && this.better(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class SpmTokenizer implements TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  readonly addBos: boolean;
  private readonly index = new Map<string, number>();
  private readonly byteIds = new Int32Array(256).fill(-1);
  private readonly v: SpmVocab;
  /** Tokens whose text is matched whole before merging, longest first: [text, id, control (only with parseSpecial)]. */
  private readonly specials: [string, number, boolean][] = [];

  constructor(v: SpmVocab) {
    this.v = v;
    this.vocabSize = v.tokens.length;
    this.bosId = v.bosId;
    this.eosIds = [...(v.eosId !== null ? [v.eosId] : []), ...(v.extraEos ?? [])];
    this.padId = v.padId;
    this.addBos = v.addBos;
    v.tokens.forEach((t, i) => {
      if (!this.index.has(t)) this.index.set(t, i);
      if (v.types[i] === TOKEN_TYPE.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
        if (m) this.byteIds[parseInt(m[1]!, 16)] = i;
      }
      const type = v.types[i];
      if (t.length > 0 && (type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN || type === TOKEN_TYPE.USER_DEFINED) && this.index.get(t) === i) {
        this.specials.push([t, i, type !== TOKEN_TYPE.USER_DEFINED]);
      }
    });
    this.specials.sort((a, b) => b[0].length - a[0].length || a[1] - b[1]);
  }

  /** Build from GGUF metadata (tokenizer.ggml.*), checking that the lists are what they claim to be. */
  static fromGguf(g: GgufFile): SpmTokenizer {
    const m = g.metadata;
    const model = m.get('tokenizer.ggml.model');
    if (model !== 'llama') throw new GgufError(`${g.path}: tokenizer model "${String(model)}" is not supported (only SentencePiece "llama")`);
    const tokens = m.get('tokenizer.ggml.tokens');
    if (!Array.isArray(tokens)) throw new GgufError(`${g.path}: missing tokenizer.ggml.tokens`);
    if (tokens.length === 0 || !tokens.every((t) => typeof t === 'string'))
      throw new GgufError(`${g.path}: tokenizer.ggml.tokens must be a non-empty list of strings`);
    const list = (key: string, fill: number, ok: (x: GgufValue) => boolean, what: string): number[] => {
      const v = m.get(key);
      if (v === undefined) return tokens.map(() => fill);
      if (!Array.isArray(v) || v.length !== tokens.length || !v.every(ok))
        throw new GgufError(`${g.path}: ${key} must be a list of ${tokens.length} ${what} (one per token)`);
      return v as number[];
    };
    const scores = list('tokenizer.ggml.scores', 0, (x) => typeof x === 'number' && !Number.isNaN(x), 'numbers');
    const types = list('tokenizer.ggml.token_type', TOKEN_TYPE.NORMAL, (x) => typeof x === 'number' && Number.isInteger(x), 'whole numbers');
    const id = (k: string): number | null => {
      const x = m.get(k);
      return typeof x === 'number' && x >= 0 && x < tokens.length ? x : null;
    };
    return new SpmTokenizer({
      tokens: tokens as string[],
      scores,
      types,
      bosId: id('tokenizer.ggml.bos_token_id'),
      eosId: id('tokenizer.ggml.eos_token_id'),
      unkId: id('tokenizer.ggml.unknown_token_id'),
      padId: id('tokenizer.ggml.padding_token_id'),
      addBos: m.get('tokenizer.ggml.add_bos_token') !== false,
      addSpacePrefix: m.get('tokenizer.ggml.add_space_prefix') !== false,
    });
  }

  /** the raw vocabulary (for GGUF export) */
  get vocab(): Readonly<SpmVocab> {
    return this.v;
  }

  idToToken(id: number): string | undefined {
    return this.v.tokens[id];
  }

  tokenToId(t: string): number | undefined {
    return this.index.get(t);
  }

  isSpecial(id: number): boolean {
    const t = this.v.types[id];
    return t === TOKEN_TYPE.CONTROL || t === TOKEN_TYPE.UNKNOWN || t === TOKEN_TYPE.UNUSED;
  }

  /**
   * Token ids of `text`: BOS first when `addSpecial` (default) and the vocabulary adds it. The text
   * of a user-defined token becomes that token; with `parseSpecial`, the text of a control token
   * too (for text a chat template rendered). After such a token the next piece of text gets the
   * dummy space prefix again, as in llama.cpp.
   */
  encode(text: string, opts: { addSpecial?: boolean; parseSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    if ((opts.addSpecial ?? true) && this.addBos && this.bosId !== null) out.push(this.bosId);
    if (text.length === 0) return out;
    let prevSpecial = true;
    for (const f of this.partition(text, opts.parseSpecial ?? false)) {
      if (typeof f === 'number') {
        out.push(f);
        prevSpecial = true;
      } else {
        this.encodeText(f, this.v.addSpacePrefix && prevSpecial, out);
        prevSpecial = false;
      }
    }
    return out;
  }

  /** The text split into pieces of plain text and the ids of special tokens found in it (longest match first). */
  private partition(text: string, parseSpecial: boolean): (string | number)[] {
    let parts: (string | number)[] = [text];
    for (const [t, id, control] of this.specials) {
      if (control && !parseSpecial) continue;
      if (!parts.some((p) => typeof p === 'string' && p.includes(t))) continue;
      parts = parts.flatMap((p) => {
        if (typeof p !== 'string' || !p.includes(t)) return [p];
        const pieces = p.split(t);
        return pieces.flatMap((piece, i) => [...(i > 0 ? [id] : []), ...(piece.length > 0 ? [piece] : [])]);
      });
    }
    return parts;
  }

  /** Plain text (no special tokens) → ids appended to `out`: merges by score, byte fallback. */
  private encodeText(text: string, spacePrefix: boolean, out: number[]): void {
    let s = text.replace(/ /g, '\u2581');
    if (spacePrefix) s = '\u2581' + s;
    const chars = Array.from(s);
    const syms: Sym[] = chars.map((c, i) => ({ text: c, prev: i - 1, next: i + 1 < chars.length ? i + 1 : -1, n: c.length }));
    const q = new BigramQueue();
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const t = syms[left]!.text + syms[right]!.text;
      const id = this.index.get(t);
      if (id === undefined) return;
      q.push({ left, right, score: this.v.scores[id] ?? 0, size: t.length });
    };
    for (let i = 1; i < syms.length; i++) tryAdd(i - 1, i);
    for (let bg = q.pop(); bg; bg = q.pop()) {
      const l = syms[bg.left]!;
      const r = syms[bg.right]!;
      if (l.n === 0 || r.n === 0 || l.n + r.n !== bg.size) continue;
      l.text += r.text;
      l.n += r.n;
      r.n = 0;
      l.next = r.next;
      if (r.next >= 0) syms[r.next]!.prev = bg.left;
      tryAdd(l.prev, bg.left);
      tryAdd(bg.left, l.next);
    }
    // merged symbols are always vocabulary tokens; unmerged characters may need byte fallback
    const resegment = (sym: Sym): void => {
      const id = this.index.get(sym.text);
      if (id !== undefined) {
        out.push(id);
        return;
      }
      for (const b of new TextEncoder().encode(sym.text)) {
        const bid = this.byteIds[b]!;
        if (bid >= 0) out.push(bid);
        else if (this.v.unkId !== null) out.push(this.v.unkId);
      }
    };
    for (let i = 0; i >= 0 && i < syms.length; i = syms[i]!.next) {
      if (syms[i]!.n === 0) continue;
      resegment(syms[i]!);
    }
  }

  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    const skip = opts.skipSpecial ?? true;
    const bytes: number[] = [];
    let first = true;
    const enc = new TextEncoder();
    for (const id of ids) {
      const type = this.v.types[id];
      const tok = this.v.tokens[id];
      if (tok === undefined) continue;
      if (type === TOKEN_TYPE.BYTE) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(tok);
        if (m) bytes.push(parseInt(m[1]!, 16));
        first = false;
        continue;
      }
      if (this.isSpecial(id)) {
        if (!skip) bytes.push(...enc.encode(tok));
        continue;
      }
      let piece = tok.replace(/\u2581/g, ' ');
      if (first && this.v.addSpacePrefix && piece.startsWith(' ')) piece = piece.slice(1);
      first = false;
      bytes.push(...enc.encode(piece));
    }
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}
