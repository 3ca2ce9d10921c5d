/**
 * Special tokens in text a chat template rendered, for GGUF SentencePiece vocabularies: "<s>" (what
 * `{{ bos_token }}` renders) becomes the BOS id, not "<", "s", ">", as llama.cpp's parse_special
 * does; user-defined tokens are always matched whole; plain text is encoded as before. Checked on a
 * tiny GGUF built here (a ChatML-style vocabulary) and on stories260K.gguf from ../shared.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel, openModel } from '../../../src/main/engine';
import { tokenizeExample } from '../../../src/main/engine/train';
import { lengthProfile, trainingText } from '../../../src/main/jobs/types/trainExamples';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { writeGguf } from '../../../src/main/engine/gguf/writer';
import { renderChatTemplate } from '../../../src/main/engine/hf/tokenizer';
import { SpmTokenizer, TOKEN_TYPE } from '../../../src/main/engine/gguf/tokenizer';
import { EngineGenerator } from '../../../src/main/eval/engineGenerator';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;
const dir = mkdtempSync(join(tmpdir(), 'spm-special-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHATML = "{{ bos_token }}{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}<|im_start|>assistant\n";

/** A tiny ChatML-style SentencePiece vocabulary written as a GGUF and read back. */
function tinyChatGguf(): SpmTokenizer {
  const vocab: [string, number][] = [
    ['<unk>', TOKEN_TYPE.UNKNOWN],
    ['<s>', TOKEN_TYPE.CONTROL],
    ['</s>', TOKEN_TYPE.CONTROL],
    ['<|im_start|>', TOKEN_TYPE.CONTROL],
    ['<|im_end|>', TOKEN_TYPE.CONTROL],
    ['<tool>', TOKEN_TYPE.USER_DEFINED],
    ...[...'▁<>|/_\nabehimnorstuy'].map((c): [string, number] => [c, TOKEN_TYPE.NORMAL]),
    ...['hi', '▁hi', 'us', 'er', 'user', '▁user'].map((c): [string, number] => [c, TOKEN_TYPE.NORMAL]),
  ];
  const path = join(dir, 'tiny-chat.gguf');
  writeGguf(
    path,
    {
      'general.architecture': 'llama',
      'tokenizer.ggml.model': 'llama',
      'tokenizer.ggml.tokens': vocab.map(([t]) => t),
      'tokenizer.ggml.scores': { type: 'array', itemType: 'f32', value: vocab.map(([t]) => -10 + t.length) },
      'tokenizer.ggml.token_type': { type: 'array', itemType: 'i32', value: vocab.map(([, type]) => type) },
      'tokenizer.ggml.bos_token_id': 1,
      'tokenizer.ggml.eos_token_id': 2,
      'tokenizer.ggml.unknown_token_id': 0,
    },
    [],
  );
  return SpmTokenizer.fromGguf(readGguf(path));
}

describe('special tokens in rendered chat templates (GGUF SentencePiece)', () => {
  it('encodes the control tokens a ChatML template renders as their ids, and the text between them as before', () => {
    const t = tinyChatGguf();
    const text = renderChatTemplate(CHATML, [{ role: 'user', content: 'hi' }], { bosToken: '<s>', eosToken: '</s>' });
    expect(text).toBe('<s><|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant');
    const ids = t.encode(text, { addSpecial: false, parseSpecial: true });
    // after a special token the text gets the dummy space prefix again, as llama.cpp does
    expect(ids.map((i) => t.idToToken(i))).toEqual(['<s>', '<|im_start|>', '▁user', '\n', 'hi', '<|im_end|>', '▁', '\n', '<|im_start|>', ...'▁assistant']);
    expect(ids.filter((i) => i === t.bosId)).toHaveLength(1);
  });

  it('leaves control-token text as characters without parseSpecial; user-defined tokens are always whole', () => {
    const t = tinyChatGguf();
    const plain = t.encode('<s>hi', { addSpecial: false });
    expect(plain).not.toContain(t.bosId);
    expect(plain.map((i) => t.idToToken(i))).toEqual(['▁', '<', 's', '>', 'hi']);
    expect(t.encode('hi<tool>hi', { addSpecial: false }).map((i) => t.idToToken(i))).toEqual(['▁hi', '<tool>', '▁hi']);
    // text without special tokens: the same ids either way
    expect(t.encode('hi user', { parseSpecial: true })).toEqual(t.encode('hi user'));
  });

  it.skipIf(!stories)(`stories260K: "{{ bos_token }}" and "{{ eos_token }}" in a template become <s> and </s>${NOTE}`, () => {
    const t = SpmTokenizer.fromGguf(readGguf(stories!));
    const text = renderChatTemplate(
      '{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}',
      [{ role: 'user', content: 'Once upon a time' }],
      {
        bosToken: '<s>',
        eosToken: '</s>',
      },
    );
    expect(text).toBe('<s>Once upon a time</s>');
    expect(t.encode(text, { addSpecial: false, parseSpecial: true }).map((i) => t.idToToken(i))).toEqual(['<s>', '▁Once', '▁upon', '▁a', '▁time', '</s>']);
    expect(t.encode(text, { addSpecial: false })).not.toContain(1);
  });

  it.skipIf(!stories)(`stories260K: an evaluation with a chat template sends BOS once, as a token${NOTE}`, async () => {
    const rt = await openModel(stories!, { threads: 1 });
    try {
      const g = new EngineGenerator(rt, { chatTemplate: "{{ bos_token }}{% for m in messages %}User: {{ m['content'] }}\n{% endfor %}Assistant:" });
      const ids = await g.encode({ messages: [{ role: 'user', content: 'Tell me a story' }] });
      const tok = rt.model.tokenizer;
      expect(ids[0]).toBe(tok.bosId);
      expect(ids.filter((i) => i === tok.bosId)).toHaveLength(1);
      expect(tok.decode(ids)).toBe('User: Tell me a story\nAssistant:');
    } finally {
      await rt.release();
    }
  });

  it.skipIf(!stories)(`stories260K: training with a chat template starts each example with BOS once, as a token${NOTE}`, async () => {
    const model = { ...loadModel(stories!), chatTemplate: "{{ bos_token }}{% for m in messages %}User: {{ m['content'] }}\n{% endfor %}Assistant:" };
    const { render, addBos, parseSpecial } = await trainingText(model, 'chat');
    const pair = { prompt: 'Tell me a story', response: 'Once upon a time' };
    const ex = tokenizeExample(model.tokenizer, render(pair), { addBos, parseSpecial });
    const tok = model.tokenizer;
    expect(ex.ids[0]).toBe(tok.bosId);
    expect(ex.ids.filter((i) => i === tok.bosId)).toHaveLength(1);
    expect(tok.decode(ex.ids)).toBe('User: Tell me a story\nAssistant: Once upon a time');
    // the pre-flight counts the same prompt length as the trainer
    const profile = await lengthProfile(model, 'chat', [pair]);
    expect(profile.promptTokens).toEqual([[ex.lossMask!.indexOf(1), 1]]);
  });
});
