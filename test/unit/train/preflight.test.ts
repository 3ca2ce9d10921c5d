import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModel, type LoadedModel } from '../../../src/main/engine';
import { targetTokens, tokenizeExample } from '../../../src/main/engine/train';
import { lengthProfile, trainingText, type Template } from '../../../src/main/jobs/types/trainExamples';
import { nothingToLearn, suggestMaxLength, truncationAt } from '../../../src/shared/train';
import { repoRoot, sharedPath } from '../../helpers/shared';

const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const stories = sharedPath('models', 'stories260K.gguf');

const pairs = [
  { prompt: 'Tell me about the cat.', response: 'The cat sat on the red mat and purred all day long in the sun.' },
  { prompt: 'A much longer instruction that goes on and on about the dog in the park and the ball it chased', response: 'Ok.' },
  { prompt: 'Hi', response: 'Hello there, how are you?' },
  { prompt: 'Write one word.', response: 'Bird' },
  { prompt: 'Empty reply', response: '' },
];

/** What the trainer counts, example by example, at one max tokens: the truth the profile must match. */
async function trainerCounts(model: LoadedModel, template: Template, maxLength: number) {
  const { render, addBos } = await trainingText(model, template);
  let keepAll = 0;
  let loseAll = 0;
  for (const p of pairs) {
    const whole = targetTokens(tokenizeExample(model.tokenizer, render(p), { addBos }));
    const kept = targetTokens(tokenizeExample(model.tokenizer, render(p), { addBos, maxLength }), maxLength);
    if (kept === 0) loseAll++;
    else if (kept === whole) keepAll++;
  }
  return { examples: pairs.length, keepAll, losePart: pairs.length - keepAll - loseAll, loseAll };
}

const models: [string, string | null, Template[]][] = [
  ['tiny-llama (tokenizer.json)', tinyLlama, ['plain', 'alpaca', 'chat']],
  ['stories260K (SentencePiece in GGUF)', stories, ['plain', 'alpaca']],
];

describe.each(models)('training pre-flight counts with %s', (_name, path, templates) => {
  it.skipIf(!path).each(templates)('template %s: at every max tokens, the profile gives the trainer’s own counts', async (template) => {
    const model = loadModel(path!);
    const profile = await lengthProfile(model, template, pairs);
    expect(profile.examples).toBe(5);
    // the empty reply has only EOS: it still trains on EOS, unless the tokenizer has none
    expect(profile.emptyResponses).toBe(model.tokenizer.eosIds.length ? 0 : 1);
    const longest = profile.totalTokens.at(-1)![0];
    for (let max = 1; max <= longest + 2; max++) expect(truncationAt(profile, max), `max tokens ${max}`).toEqual(await trainerCounts(model, template, max));
    expect(truncationAt(profile, longest)).toMatchObject({ keepAll: 5 - profile.emptyResponses, losePart: 0 });
  });

  it.skipIf(!path)('suggests the smallest multiple of 8 that keeps the share of responses whole, and explains a run with nothing to learn', async () => {
    const model = loadModel(path!);
    const profile = await lengthProfile(model, 'plain', pairs);
    const all = suggestMaxLength(profile, 1)!;
    expect(all % 8).toBe(0);
    expect(truncationAt(profile, all).keepAll).toBe(5);
    expect(truncationAt(profile, all - 8).keepAll).toBeLessThan(5);
    expect(suggestMaxLength(profile, 0.6)!).toBeLessThanOrEqual(all);
    expect(truncationAt(profile, suggestMaxLength(profile, 0.6)!).keepAll).toBeGreaterThanOrEqual(3);
    expect(suggestMaxLength(profile, 1, 16)).toBeLessThanOrEqual(16);

    const shortest = profile.promptTokens[0]![0];
    expect(nothingToLearn('task example', profile, shortest + 1, 2048)).toBeNull();
    const none = nothingToLearn('task example', profile, shortest, 2048);
    expect(none).toMatch(new RegExp(`^no task example keeps a response token at max tokens ${shortest}: every response is cut off`));
    expect(none).toMatch(new RegExp(`raise max tokens per example to ${suggestMaxLength(profile, 0.95)}`));
  });
});
