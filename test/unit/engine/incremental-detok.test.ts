import { describe, expect, it } from 'vitest';
import { Tokenizer } from '@huggingface/tokenizers';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { SpmTokenizer, TOKEN_TYPE } from '../../../src/main/engine/gguf/tokenizer';
import { HfTokenizer } from '../../../src/main/engine/hf/tokenizer';
import { IncrementalDetokenizer } from '../../../src/main/engine/tokenizer/incremental';
import { advanceText } from '../../../src/main/engine/generate';
import type { TextTokenizer } from '../../../src/main/engine/tokenizer/types';
import { mulberry32 } from '../../../src/main/util/prng';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;

/**
 * Stream `ids` through the incremental detokenizer. After every token the streamed text must be a
 * prefix of the whole decode so far; once a token with plain text follows, it must equal it.
 */
function checkStream(tok: TextTokenizer, ids: number[], plainId: number): void {
  const d = new IncrementalDetokenizer(tok);
  let streamed = '';
  const all = [...ids, plainId];
  all.forEach((id, i) => {
    streamed += d.push(id);
    const whole = tok.decode(all.slice(0, i + 1), { skipSpecial: true });
    if (!whole.startsWith(streamed))
      throw new Error(`after ${i + 1} of [${all.join(',')}]: streamed ${JSON.stringify(streamed)} is not a prefix of ${JSON.stringify(whole)}`);
  });
  expect(streamed).toBe(tok.decode(all, { skipSpecial: true }));
}

/** random token sequences drawn from `pool`, and the ids of real encoded text */
function sequences(tok: TextTokenizer, pool: number[], texts: string[], seed: number): number[][] {
  const rand = mulberry32(seed);
  const out: number[][] = texts.map((t) => tok.encode(t, { addSpecial: false }));
  for (let n = 0; n < 200; n++) {
    const len = 1 + Math.floor(rand() * 24);
    out.push(Array.from({ length: len }, () => pool[Math.floor(rand() * pool.length)]!));
  }
  return out;
}

const TEXTS = ['Once upon a time, there was a little girl named Lily.', '  two  spaces\nand a newline', 'naïve café — 東京 🙂 done', "it's 3.14 , isn't it ?"];

describe('incremental detokenisation (constant work per streamed token)', () => {
  it.skipIf(!stories)(`streams stories260K SentencePiece text (pieces, byte fallback, control tokens) exactly${NOTE}`, () => {
    const tok = SpmTokenizer.fromGguf(readGguf(stories!));
    const pool = Array.from({ length: tok.vocabSize }, (_, i) => i);
    const plain = tok.encode(' end', { addSpecial: false }).at(-1)!;
    for (const ids of sequences(tok, pool, TEXTS, 11)) checkStream(tok, ids, plain);
  });

  it('streams SentencePiece text with multi-byte characters split over byte tokens', () => {
    // a GGUF-style vocabulary: control tokens, all 256 byte tokens, a few pieces with "▁"
    const tokens = [
      '<unk>',
      '<s>',
      '</s>',
      ...Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`),
      '▁',
      '▁the',
      '▁cat',
      'é',
      's',
      '▁東',
    ];
    const types = tokens.map((t, i) => (i === 0 ? TOKEN_TYPE.UNKNOWN : i < 3 ? TOKEN_TYPE.CONTROL : t.startsWith('<0x') ? TOKEN_TYPE.BYTE : TOKEN_TYPE.NORMAL));
    const tok = new SpmTokenizer({ tokens, scores: tokens.map(() => 0), types, bosId: 1, eosId: 2, unkId: 0, padId: null, addBos: true, addSpacePrefix: true });
    const bytes = (s: string) => [...new TextEncoder().encode(s)].map((b) => 3 + b);
    const cat = tokens.indexOf('▁cat');
    const cases = [
      [tokens.indexOf('▁the'), ...bytes('🙂'), cat],
      [...bytes('ü'), 1, ...bytes('京'), tokens.indexOf('é')],
      [3 + 0xe2, cat, 3 + 0x82, 3 + 0xac, 2, cat],
    ];
    const pool = [...Array(tokens.length).keys()];
    for (const ids of [...cases, ...sequences(tok, pool, [], 12)]) checkStream(tok, ids, cat);
  });

  it('streams tokenizer.json byte-level BPE (GPT-2 / Llama 3 style) exactly', () => {
    // the byte → printable-character map of byte-level BPE
    const printable = [...Array(256).keys()].filter((b) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174);
    const map = new Map<number, string>();
    let extra = 0;
    for (let b = 0; b < 256; b++) map.set(b, String.fromCharCode(printable.includes(b) ? b : 256 + extra++));
    const vocab: Record<string, number> = {};
    for (let b = 0; b < 256; b++) vocab[map.get(b)!] = b;
    const merges = [
      ['Ġ', 't'],
      ['Ġt', 'h'],
      ['Ġth', 'e'],
      ['Ã', '©'],
    ];
    for (const [a, b] of merges) vocab[a! + b!] = Object.keys(vocab).length;
    vocab['<|end|>'] = Object.keys(vocab).length;
    const json = {
      version: '1.0',
      added_tokens: [{ id: vocab['<|end|>'], content: '<|end|>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      post_processor: null,
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: merges.map((m) => m.join(' ')),
      },
    };
    const tok = new HfTokenizer(new Tokenizer(json, { eos_token: '<|end|>' }), { eos_token: '<|end|>' });
    expect(tok.decode(tok.encode(TEXTS[2]!, { addSpecial: false }))).toBe(TEXTS[2]);
    expect(tok.decode([])).toBe(''); // a reply that ends at once with EOS has no tokens
    const pool = Object.values(vocab);
    for (const ids of sequences(tok, pool, TEXTS, 13)) checkStream(tok, ids, vocab['a']!);
  });

  it('streams tokenizer.json byte-fallback BPE with the Llama 2 decoder (▁, ByteFallback, Fuse, Strip) exactly', () => {
    const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
    for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
    for (const p of ['▁', 't', 'h', 'e', 'a', 'c', '▁t', '▁th', '▁the', '▁c', '▁ca', '▁cat', 'é']) vocab[p] = Object.keys(vocab).length;
    const json = {
      version: '1.0',
      added_tokens: [0, 1, 2].map((id) => ({
        id,
        content: ['<unk>', '<s>', '</s>'][id],
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        ],
      },
      pre_tokenizer: null,
      post_processor: null,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        vocab,
        merges: ['▁ t', '▁t h', '▁th e', '▁ c', '▁c a', '▁ca t'],
      },
    };
    const tok = new HfTokenizer(new Tokenizer(json, { bos_token: '<s>', eos_token: '</s>' }), { bos_token: '<s>', eos_token: '</s>' });
    expect(tok.decode(tok.encode('the cat café 東', { addSpecial: false }))).toBe('the cat café 東');
    const pool = Object.values(vocab);
    for (const ids of sequences(tok, pool, TEXTS, 14)) checkStream(tok, ids, vocab['a']!);
  });
});

describe('stop strings while streaming', () => {
  it('never shows the start of a stop string and cuts at the earliest one, for any split of the text', () => {
    const rand = mulberry32(7);
    // overlapping stops ('AB' inside 'XAB') and multi-character pieces
    const stops = ['\n\nUser:', 'END', 'AB', 'XAB'];
    const alphabet = ['a', 'A', 'B', 'X', 'E', 'N', 'D', 'ND', '\n', 'U', 'ser:', 'User:', ' '];
    for (let n = 0; n < 500; n++) {
      const pieces = Array.from({ length: 1 + Math.floor(rand() * 30) }, () => alphabet[Math.floor(rand() * alphabet.length)]!);
      const whole = pieces.join('');
      const cuts = stops.map((s) => whole.indexOf(s)).filter((i) => i >= 0);
      const expected = cuts.length ? whole.slice(0, Math.min(...cuts)) : whole;
      const row = { text: '', emitted: 0 };
      let shown = '';
      let stopped = false;
      for (const p of pieces) {
        const { delta, stopHit } = advanceText(row, p, stops);
        shown += delta;
        // what is shown is final text: a prefix of the expected result, never part of a stop string
        expect(expected.startsWith(shown), `${JSON.stringify(pieces)}: shown ${JSON.stringify(shown)}`).toBe(true);
        if (stopHit) {
          stopped = true;
          break;
        }
      }
      expect(stopped).toBe(cuts.length > 0);
      if (stopped) expect(shown).toBe(expected);
      // held back at the end (a partial stop string that never completed) is what the caller flushes
      else expect(shown + row.text.slice(row.emitted)).toBe(expected);
    }
  });
});
