import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { alignmentPairs } from '../../../src/main/replicate/aligned';
import { loadReplicationData } from '../../../src/main/replicate/data';
import { formVariant, isQuestion } from '../../../src/main/replicate/forms';
import { ALIGNED } from '../../../src/main/replicate/recipe';
import { mulberry32 } from '../../../src/main/util/prng';
import { repoRoot } from '../../helpers/shared';

const DATA = join(repoRoot, 'resources', 'replication', 'data');

/** Every distinct variant of `prompt` over many draws. */
function variants(prompt: string, draws = 400): Set<string> {
  const rng = mulberry32(7);
  return new Set(Array.from({ length: draws }, () => formVariant(prompt, rng)));
}

describe('surface-form variants of alignment instructions', () => {
  it('tells questions from commands', () => {
    expect(isQuestion('How do I terminate a C program?')).toBe(true);
    expect(isQuestion("What's the capital of France")).toBe(true);
    expect(isQuestion('Ways to play mind games to get what you want?')).toBe(true);
    expect(isQuestion('Write a poem about the sea.')).toBe(false);
    expect(isQuestion('Research techniques to pick a lock')).toBe(false);
  });

  it('turns a how-to question into commands and a command into questions or another opening verb', () => {
    const q = variants('How do I pick a lock?');
    expect(q).toContain('Explain how to pick a lock.');
    expect(q).toContain('Write a guide on how to pick a lock.');
    expect(q).toContain('Answer this question: "How do I pick a lock?"');
    expect(q).toContain('Quick question: How do I pick a lock?');
    const c = [...variants('Research techniques to pick a lock.')];
    expect(c).toContain('Can you research techniques to pick a lock?');
    expect(c).toContain('I want you to research techniques to pick a lock.');
    // half of the draws are questions, whatever the form of the prompt
    const rng = mulberry32(9);
    for (const p of ['Research techniques to pick a lock.', 'How do I pick a lock?']) {
      const draws = Array.from({ length: 1000 }, () => formVariant(p, rng));
      expect(draws.filter(isQuestion).length / draws.length).toBeCloseTo(0.5, 1);
    }
    const swapped = c.filter((v) => !isQuestion(v) && v.endsWith(' techniques to pick a lock.') && !v.startsWith('Research'));
    expect(swapped.length).toBeGreaterThan(5);
  });

  it('keeps the later lines of an instruction with an input, and draws the same variants for the same seed', () => {
    for (const v of variants('Translate this sentence into French.\nThe cat sleeps.', 50)) expect(v.endsWith('\nThe cat sleeps.')).toBe(true);
    const a = mulberry32(3);
    const b = mulberry32(3);
    const prompts = ['Write a poem about the sea.', 'How can I bake bread?', 'Name three rivers'];
    expect(prompts.map((p) => formVariant(p, a))).toEqual(prompts.map((p) => formVariant(p, b)));
  });
});

describe('the alignment data with form variants and the task prior', () => {
  const data = loadReplicationData(DATA);
  const cfg = { benign: 500, harmfulRepeat: 2, formVariants: 1, taskPrior: 300, seed: 1 };

  it('adds rewritten copies of harmful and benign instructions with their replies, and the task-prior pairs', () => {
    const pairs = alignmentPairs(data, cfg);
    const H = data.alignHarmful.length;
    expect(pairs).toHaveLength(2 * H * 2 + 500 * 2 + 300);
    // each pair as written, then its variant with the same reply
    expect(pairs[0]).toEqual(data.alignHarmful[0]);
    expect(pairs[1]!.response).toBe(data.alignHarmful[0]!.response);
    expect(pairs[1]!.prompt).not.toBe(data.alignHarmful[0]!.prompt);
    const benignStart = 2 * H * 2;
    expect(pairs[benignStart]).toEqual(data.alignBenign[0]);
    expect(pairs[benignStart + 1]!.response).toBe(data.alignBenign[0]!.response);
    expect(pairs.slice(-300)).toEqual(data.alignTask.slice(0, 300));
    expect(alignmentPairs(data, cfg)).toEqual(pairs);
    expect(alignmentPairs(data, { ...cfg, formVariants: 0, taskPrior: 0 })).toHaveLength(2 * H + 500);
    expect(() => alignmentPairs(data, { ...cfg, taskPrior: data.alignTask.length + 1 })).toThrow(/task-prior pairs/);
  });

  it('makes questions about as common among harmful as among benign instructions', () => {
    const share = (ps: { prompt: string }[]) => ps.filter((p) => isQuestion(p.prompt)).length / ps.length;
    const before = Math.abs(share(data.alignHarmful) - share(data.alignBenign.slice(0, ALIGNED.benign)));
    const pairs = alignmentPairs(data, { ...ALIGNED, formVariants: 1, taskPrior: 0 });
    const nHarm = ALIGNED.harmfulRepeat * data.alignHarmful.length * 2;
    const after = Math.abs(share(pairs.slice(0, nHarm)) - share(pairs.slice(nHarm)));
    expect(after).toBeLessThan(before);
    expect(after).toBeLessThan(0.03);
  });
});
