/** The tokenizer interface the generator uses (SentencePiece-from-GGUF and tokenizer.json both implement it). */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** token ids that end generation */
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  /** whether encode() adds BOS by default */
  readonly addBos: boolean;
  /**
   * `addSpecial`: add BOS (or what the tokenizer adds). `parseSpecial`: the text was rendered by a
   * chat template, so special-token text in it ("<s>", "<|im_start|>") is that token's id
   * (llama.cpp's parse_special); tokenizer.json tokenizers always do this for their added tokens.
   */
  encode(text: string, opts?: { addSpecial?: boolean; parseSpecial?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /** token id → its vocabulary string (raw piece) */
  idToToken(id: number): string | undefined;
  /** whether a token is special/control (not rendered by decode with skipSpecial) */
  isSpecial(id: number): boolean;
}
