/**
 * Texts as sequences of static word vectors: the input of the sequence detectors (seqnet.ts).
 *
 * Tokens are the default embedder's (wordTokens: lower case, clitics split off); a hyphenated word
 * the vocabulary lacks is split into its parts. Each token becomes its word vector times
 * `inputScale` plus one flag channel (1 for a word the vocabulary lacks, whose vector is zero), so
 * a batch is a [B, T, dim + 1] tensor, zero-padded after each text's last token, with a mask.
 */
import { type StaticVectorTable, wordTokens } from '../embed/staticVectors';

/** Token ids of a text (-1 = a word without a vector), at most `maxTokens`. */
export function tokenIds(table: StaticVectorTable, text: string, maxTokens: number): Int32Array {
  const ids: number[] = [];
  for (const tok of wordTokens(text)) {
    if (ids.length >= maxTokens) break;
    const i = table.index.get(tok);
    if (i !== undefined) ids.push(i);
    else if (tok.includes('-')) {
      for (const part of tok.split('-')) {
        if (!part || ids.length >= maxTokens) continue;
        ids.push(table.index.get(part) ?? -1);
      }
    } else ids.push(-1);
  }
  return Int32Array.from(ids);
}

/** A padded batch of token sequences. */
export interface SeqBatch {
  /** Batch size and padded length (at least 1 so an empty text still has a row). */
  b: number;
  t: number;
  /** Channels per token: word-vector dimension + 1 (the unknown-word flag). */
  c: number;
  /** b × t × c, row-major. */
  x: Float32Array;
  /** b × t: 1 for a token, 0 for padding. */
  mask: Float32Array;
  /** b: number of tokens of each text (0 for a text without words). */
  lengths: Int32Array;
}

/** Stack token id sequences into a padded batch of scaled word vectors. */
export function batchFromIds(table: StaticVectorTable, seqs: readonly Int32Array[], inputScale: number): SeqBatch {
  const d = table.dimension;
  const c = d + 1;
  const b = seqs.length;
  let t = 1;
  for (const s of seqs) t = Math.max(t, s.length);
  const x = new Float32Array(b * t * c);
  const mask = new Float32Array(b * t);
  const lengths = new Int32Array(b);
  const vec = table.vectors;
  for (let r = 0; r < b; r++) {
    const s = seqs[r]!;
    lengths[r] = s.length;
    for (let k = 0; k < s.length; k++) {
      const o = (r * t + k) * c;
      mask[r * t + k] = 1;
      const id = s[k]!;
      if (id < 0) {
        x[o + d] = 1;
        continue;
      }
      const base = id * d;
      for (let j = 0; j < d; j++) x[o + j] = vec[base + j]! * inputScale;
    }
  }
  return { b, t, c, x, mask, lengths };
}

/** 1 / the mean norm of the table's vectors: scales word vectors to about unit length. */
export function meanVectorNormInverse(table: StaticVectorTable): number {
  const d = table.dimension;
  const n = table.words.length;
  let s = 0;
  for (let i = 0; i < n; i++) {
    let q = 0;
    for (let j = 0; j < d; j++) q += table.vectors[i * d + j]! ** 2;
    s += Math.sqrt(q);
  }
  return n ? n / s : 1;
}

/** Identifies a word-vector table (a model trained on one needs exactly that one). */
export function tableId(table: StaticVectorTable): string {
  return `${table.source}:v${table.words.length}`;
}
