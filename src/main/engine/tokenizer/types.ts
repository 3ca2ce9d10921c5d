/** The tokenizer interface the generator uses (SentencePiece-from-GGUF and tokenizer.json both implement it). */
export interface TextTokenizer {
  readonly vocabSize: number;
  readonly bosId: number | null;
  /** token ids that end generation */
  readonly eosIds: readonly number[];
  readonly padId: number | null;
  /** whether encode() adds BOS by default */
  readonly addBos: boolean;
  encode(text: string, opts?: { addSpecial?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  /** token id → its vocabulary string (raw piece) */
  idToToken(id: number): string | undefined;
  /** whether a token is special/control (not rendered by decode with skipSpecial) */
  isSpecial(id: number): boolean;
}
