/**
 * Streaming detokenisation in constant work per token. Decoding the whole output after every token
 * is O(n²) over a reply; instead each new token decodes a short window that starts a few tokens
 * back (so context-dependent rules such as SentencePiece's leading-space strip or WordPiece's "##"
 * joins see the same left neighbour in both decodes) and the new text is what the window gained.
 * Two kinds of trailing text are held until the next token: U+FFFD (a multi-byte character split
 * over byte tokens, not complete yet) and spaces (tokenizer.json's clean_up_tokenization_spaces
 * removes a space when punctuation follows it). The concatenated pieces equal `decode(allIds)` for
 * the tokenizers the engine loads (tested on SentencePiece-from-GGUF and tokenizer.json byte-level
 * and byte-fallback BPE); callers that need the authoritative text decode once at the end.
 */
import type { TextTokenizer } from './types';

export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** start of the window: the tokens before the ones whose text was last emitted */
  private prefixOffset = 0;
  /** the text of tokens before this index has been emitted in full */
  private readOffset = 0;
  /** characters of the window's new text already emitted while its tail was held */
  private sent = 0;
  private readonly decodeOpts: { skipSpecial: boolean };

  constructor(
    private readonly tok: TextTokenizer,
    skipSpecial = true,
  ) {
    this.decodeOpts = { skipSpecial };
  }

  /** Add a token; returns the text it makes visible (possibly empty). */
  push(id: number): string {
    this.ids.push(id);
    const prefix = this.tok.decode(this.ids.slice(this.prefixOffset, this.readOffset), this.decodeOpts);
    const full = this.tok.decode(this.ids.slice(this.prefixOffset), this.decodeOpts);
    const start = prefix.length + this.sent;
    // nothing new (a skipped special token): keep the window, so its left context stays the same
    if (full.length <= start) return '';
    let end = full.length;
    while (end > start && (full.charCodeAt(end - 1) === 0xfffd || full.charCodeAt(end - 1) === 0x20)) end--;
    const delta = full.slice(start, end);
    if (end === full.length) {
      this.prefixOffset = this.readOffset;
      this.readOffset = this.ids.length;
      this.sent = 0;
    } else this.sent += delta.length;
    return delta;
  }
}
