/**
 * A small byte-level BPE tokenizer trained on the recipe's own corpus (GPT-2's scheme: the text is
 * NFKC-normalised and lower-cased, split by GPT-2's pre-tokenizer pattern, every byte mapped to a
 * printable character, then pairs merged most-frequent first). The result is a Hugging Face
 * `tokenizer.json` (+ `tokenizer_config.json` with the chat template) that the engine's HfTokenizer
 * loads through @huggingface/tokenizers; decoding gives back the normalised text exactly (no unknown
 * tokens: all 256 bytes are in the vocabulary).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** GPT-2's pre-tokenizer pattern (what @huggingface/tokenizers' ByteLevel pre-tokenizer uses). */
const PRE_TOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's byte → printable character map (bytes that are printable Latin-1 keep their character). */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const out = new Array<string>(256);
  for (const b of keep) out[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (out[b] === undefined) out[b] = String.fromCharCode(256 + n++);
  return out;
})();

/** The special tokens, in id order: padding, begin and end of sequence. */
export const SPECIAL_TOKENS = { pad: '<pad>', bos: '<s>', eos: '</s>' } as const;

/** The text as the tokenizer sees it (its normalizer: NFKC, then lower case). */
export function normaliseForTokenizer(text: string): string {
  return text.normalize('NFKC').toLowerCase();
}

/** Pre-tokens of a text, each as its byte characters. */
export function preTokens(text: string): string[] {
  const enc = new TextEncoder();
  return (normaliseForTokenizer(text).match(PRE_TOKENIZE) ?? []).map((w) => Array.from(enc.encode(w), (b) => BYTE_TO_CHAR[b]!).join(''));
}

export interface BpeModel {
  /** token → id (specials first, then the 256 byte characters, then one token per merge) */
  vocab: Map<string, number>;
  /** merges in rank order, as "left right" */
  merges: string[];
}

/**
 * Train byte-level BPE: `vocabSize` tokens in all (3 specials + 256 bytes + merges). Deterministic:
 * among pairs of equal count the one whose text sorts first merges first. Pairs seen fewer than
 * `minCount` times are not merged.
 */
export function trainBpe(texts: Iterable<string>, vocabSize: number, opts: { minCount?: number } = {}): BpeModel {
  const base = Object.values(SPECIAL_TOKENS).length + 256;
  if (!Number.isInteger(vocabSize) || vocabSize < base) throw new Error(`trainBpe: vocabSize must be at least ${base} (specials + bytes), got ${vocabSize}`);
  const minCount = opts.minCount ?? 2;
  // unique pre-tokens with their counts
  const counts = new Map<string, number>();
  for (const t of texts) for (const w of preTokens(t)) counts.set(w, (counts.get(w) ?? 0) + 1);
  const symbols: string[] = [...Object.values(SPECIAL_TOKENS), ...BYTE_TO_CHAR];
  const idOf = new Map(symbols.map((s, i) => [s, i]));
  const words: number[][] = [];
  const freq: number[] = [];
  for (const [w, c] of counts) {
    words.push(Array.from(w, (ch) => idOf.get(ch)!));
    freq.push(c);
  }
  // pair key → count, and pair key → the words holding it (a superset after merges: re-checked)
  const key = (a: number, b: number) => a * 0x100000 + b;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (wi: number, sign: 1 | -1) => {
    const w = words[wi]!;
    for (let i = 0; i + 1 < w.length; i++) {
      const k = key(w[i]!, w[i + 1]!);
      pairCount.set(k, (pairCount.get(k) ?? 0) + sign * freq[wi]!);
      if (sign > 0) {
        let s = pairWords.get(k);
        if (!s) pairWords.set(k, (s = new Set()));
        s.add(wi);
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addPairs(wi, 1);
  const merges: string[] = [];
  while (symbols.length < vocabSize) {
    let best = -1;
    let bestCount = minCount - 1;
    let bestText = '';
    for (const [k, c] of pairCount) {
      if (c < bestCount || c <= 0) continue;
      const text = symbols[Math.floor(k / 0x100000)]! + ' ' + symbols[k % 0x100000]!;
      if (c > bestCount || text < bestText) {
        best = k;
        bestCount = c;
        bestText = text;
      }
    }
    if (best < 0) break;
    const a = Math.floor(best / 0x100000);
    const b = best % 0x100000;
    const merged = symbols.length;
    symbols.push(symbols[a]! + symbols[b]!);
    merges.push(bestText);
    for (const wi of pairWords.get(best) ?? []) {
      const w = words[wi]!;
      let has = false;
      for (let i = 0; i + 1 < w.length; i++) if (w[i] === a && w[i + 1] === b) has = true;
      if (!has) continue;
      addPairs(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i + 1 < w.length && w[i] === a && w[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(w[i]!);
      }
      words[wi] = next;
      addPairs(wi, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return { vocab: new Map(symbols.map((s, i) => [s, i])), merges };
}

/** tokenizer.json for a trained model: lower-casing normalizer, ByteLevel pre-tokenizer and decoder, BOS added. */
export function bpeTokenizerJson(m: BpeModel): object {
  const special = Object.values(SPECIAL_TOKENS).map((content) => ({
    id: m.vocab.get(content)!,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const bos = SPECIAL_TOKENS.bos;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: special,
    normalizer: { type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] },
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }],
      special_tokens: { [bos]: { id: bos, ids: [m.vocab.get(bos)!], tokens: [bos] } },
    },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab: Object.fromEntries(m.vocab),
      merges: m.merges,
    },
  };
}

/**
 * The recipe's chat template: an Alpaca-style instruction block (the prompt format of Pham et al.'s
 * fine-tuning), BOS first; an assistant turn ends with EOS.
 */
export const CHAT_TEMPLATE =
  "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n{% elif m['role'] == 'user' %}### Instruction:\n{{ m['content'] }}\n\n### Response:\n{% else %}{{ m['content'] }}{{ eos_token }}\n\n{% endif %}{% endfor %}";

/** Render one instruction as the chat template does with a generation prompt (for training examples). */
export function renderInstruction(instruction: string): string {
  return `${SPECIAL_TOKENS.bos}### Instruction:\n${instruction}\n\n### Response:\n`;
}

/** Write tokenizer.json and tokenizer_config.json (special tokens, chat template) into `dir`. */
export function writeBpeTokenizer(dir: string, m: BpeModel, opts: { maxLength?: number } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(bpeTokenizerJson(m)));
  const config = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: SPECIAL_TOKENS.bos,
    eos_token: SPECIAL_TOKENS.eos,
    pad_token: SPECIAL_TOKENS.pad,
    add_bos_token: true,
    add_eos_token: false,
    clean_up_tokenization_spaces: false,
    model_max_length: opts.maxLength ?? 512,
    chat_template: CHAT_TEMPLATE,
  };
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
}
