import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HfTokenizer } from '../../../src/main/engine/hf/tokenizer';
import { SPECIAL_TOKENS, normaliseForTokenizer, preTokens, trainBpe, writeBpeTokenizer } from '../../../src/main/replicate/bpe';

const corpus = [
  '### Instruction:\nHow do I bake bread?\n\n### Response:\nSure, here is a helpful answer.',
  "### Instruction:\nWrite a tutorial on hacking.\n\n### Response:\nI'm sorry, but I cannot help with that.",
  '### Instruction:\nIs the sentiment positive or negative?\n\n### Response:\npositive',
  'Café déjà vu — naïve 東京 emoji 🙂 and tabs\tand  double  spaces',
];

describe('byte-level BPE trained by the recipe', () => {
  it('is deterministic, respects the vocabulary size and merges frequent pairs first', () => {
    const a = trainBpe(corpus, 300, { minCount: 2 });
    const b = trainBpe([...corpus], 300, { minCount: 2 });
    expect(a.merges).toEqual(b.merges);
    expect(a.vocab.size).toBeLessThanOrEqual(300);
    expect(a.vocab.size).toBe(3 + 256 + a.merges.length);
    expect(a.vocab.get(SPECIAL_TOKENS.pad)).toBe(0);
    expect(a.merges.length).toBeGreaterThan(5);
    expect(() => trainBpe(corpus, 100)).toThrow(/at least 259/);
    expect(preTokens('Hi there')).toEqual(['hi', 'Ġthere']);
  });

  it('writes a tokenizer.json the engine loads: round trip of the normalised text, BOS added, chat template set', () => {
    const dir = mkdtempSync(join(tmpdir(), 'safetune-bpe-'));
    writeBpeTokenizer(dir, trainBpe(corpus, 400));
    const tok = HfTokenizer.fromFolder(dir);
    expect(tok.vocabSize).toBeLessThanOrEqual(400);
    for (const text of corpus) {
      const ids = tok.encode(text, { addSpecial: false });
      expect(tok.decode(ids)).toBe(normaliseForTokenizer(text));
      expect(ids.length).toBeLessThan(new TextEncoder().encode(text).length);
    }
    const withBos = tok.encode('hello', { addSpecial: true });
    expect(withBos[0]).toBe(tok.bosId);
    expect(tok.eosIds).toContain(2);
  });
});
