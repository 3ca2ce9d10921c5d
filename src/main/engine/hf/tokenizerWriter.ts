/**
 * Tokenizer files for an exported Hugging Face folder: a tokenizer.json tokenizer is copied from the
 * folder it was loaded from; a SentencePiece tokenizer from a GGUF file is converted as
 * transformers' LlamaConverter does (a BPE model with byte fallback whose merges are every split of
 * every vocabulary piece into two pieces, ranked by the piece's score, so the highest-scoring
 * adjacent pair merges first as in SentencePiece; "▁" for spaces; <0xXX> byte tokens).
 */
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SpmTokenizer, TOKEN_TYPE, type SpmVocab } from '../gguf/tokenizer';
import type { TextTokenizer } from '../tokenizer/types';
import { HfTokenizer } from './tokenizer';

/** the files a Hugging Face tokenizer folder may hold besides tokenizer.json */
const TOKENIZER_FILES = ['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json'];

/** tokenizer.json and tokenizer_config.json objects for a SentencePiece (llama) vocabulary. */
export function spmTokenizerJson(v: SpmVocab, opts: { chatTemplate?: string | null; maxLength?: number } = {}): { tokenizer: object; config: object } {
  const vocab: Record<string, number> = {};
  v.tokens.forEach((t, i) => {
    if (!(t in vocab)) vocab[t] = i;
  });
  const mergeable = (i: number) => v.types[i] === TOKEN_TYPE.NORMAL || v.types[i] === TOKEN_TYPE.USER_DEFINED || v.types[i] === undefined;
  const merges: { l: string; r: string; score: number; li: number; ri: number; order: number }[] = [];
  v.tokens.forEach((piece, id) => {
    if (!mergeable(id) || vocab[piece] !== id) return;
    const chars = Array.from(piece);
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      const li = vocab[l];
      const ri = vocab[r];
      if (li === undefined || ri === undefined) continue;
      merges.push({ l, r, score: v.scores[id] ?? 0, li, ri, order: merges.length });
    }
  });
  // highest score first; within a score, by the parts' ids (transformers' SentencePieceExtractor)
  merges.sort((a, b) => b.score - a.score || a.li - b.li || a.ri - b.ri || a.order - b.order);
  const special = (i: number) => v.types[i] === TOKEN_TYPE.CONTROL || v.types[i] === TOKEN_TYPE.UNKNOWN;
  const added = v.tokens
    .map((content, id) => ({ id, content }))
    .filter((t) => special(t.id) || v.types[t.id] === TOKEN_TYPE.USER_DEFINED)
    .map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: special(t.id) }));
  const tok = (id: number | null) => (id === null ? null : (v.tokens[id] ?? null));
  const bos = tok(v.bosId);
  const eos = tok(v.eosId);
  const unk = tok(v.unkId);
  const replaceSpace = { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' };
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: v.addSpacePrefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' }, replaceSpace] } : replaceSpace,
    pre_tokenizer: null,
    post_processor:
      v.addBos && bos !== null
        ? {
            type: 'TemplateProcessing',
            single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
            pair: [
              { SpecialToken: { id: bos, type_id: 0 } },
              { Sequence: { id: 'A', type_id: 0 } },
              { SpecialToken: { id: bos, type_id: 1 } },
              { Sequence: { id: 'B', type_id: 1 } },
            ],
            special_tokens: { [bos]: { id: bos, ids: [v.bosId], tokens: [bos] } },
          }
        : null,
    decoder: {
      type: 'Sequence',
      decoders: [
        { type: 'Replace', pattern: { String: '\u2581' }, content: ' ' },
        { type: 'ByteFallback' },
        { type: 'Fuse' },
        ...(v.addSpacePrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
      ],
    },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      byte_fallback: true,
      ignore_merges: false,
      vocab,
      merges: merges.map((m) => [m.l, m.r]),
    },
  };
  const config: Record<string, unknown> = {
    tokenizer_class: 'LlamaTokenizerFast',
    add_bos_token: v.addBos,
    add_eos_token: false,
    bos_token: bos,
    eos_token: eos,
    unk_token: unk,
    pad_token: tok(v.padId),
    clean_up_tokenization_spaces: false,
    legacy: true,
  };
  if (opts.maxLength) config['model_max_length'] = opts.maxLength;
  if (opts.chatTemplate) config['chat_template'] = opts.chatTemplate;
  return { tokenizer, config };
}

/**
 * Write the tokenizer files of `tok` into `dir`: a copy of a tokenizer.json tokenizer's own files, or
 * a SentencePiece tokenizer converted. Returns the file names written.
 */
export function writeTokenizerFiles(dir: string, tok: TextTokenizer, opts: { chatTemplate?: string | null; maxLength?: number } = {}): string[] {
  if (tok instanceof HfTokenizer) {
    if (!tok.dir) throw new Error('cannot write the tokenizer files: this tokenizer.json tokenizer was not loaded from a folder');
    const files = TOKENIZER_FILES.filter((f) => existsSync(join(tok.dir!, f)));
    for (const f of files) copyFileSync(join(tok.dir, f), join(dir, f));
    return files;
  }
  if (tok instanceof SpmTokenizer) {
    const { tokenizer, config } = spmTokenizerJson(tok.vocab, opts);
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
    return ['tokenizer.json', 'tokenizer_config.json'];
  }
  throw new Error('cannot write the tokenizer files: unknown tokenizer kind');
}
