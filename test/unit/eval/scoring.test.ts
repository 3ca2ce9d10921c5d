import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { extractFinalNumber, extractSentiment, parseNumber, scoreGsm8k, scoreSst2, scoreTask } from '../../../src/main/eval/scoring';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const gsm = sharedPath('data', 'task', 'gsm8k_test.jsonl');

describe('numbers', () => {
  it('parses separators, currency, fractions, trailing stops', () => {
    expect(parseNumber('1,234')).toBe(1234);
    expect(parseNumber('$1,234.50')).toBe(1234.5);
    expect(parseNumber('-3')).toBe(-3);
    expect(parseNumber('3/4')).toBe(0.75);
    expect(parseNumber('18.')).toBe(18);
    expect(parseNumber('abc')).toBeNull();
    expect(parseNumber('1/0')).toBeNull();
  });

  it('extracts the final answer by rule priority', () => {
    expect(extractFinalNumber('5 + 4 = 9 eggs.\n#### 18\nThanks, 3 more')).toMatchObject({ value: 18, rule: '####' });
    expect(extractFinalNumber('so it is \\boxed{42} and 7 others')).toMatchObject({ value: 42, rule: 'boxed' });
    expect(extractFinalNumber('She sells 9 eggs at $2 each. The answer is $18.')).toMatchObject({ value: 18, rule: 'answer is' });
    expect(extractFinalNumber('**Final answer:** 1,250 dollars, from 50 x 25')).toMatchObject({ value: 1250, rule: 'answer is' });
    expect(extractFinalNumber('16 - 3 - 4 = 9, and 9 * 2 = 18 dollars.')).toMatchObject({ value: 18, rule: 'last number' });
    expect(extractFinalNumber('pages 3-4')).toMatchObject({ value: 4 });
    expect(extractFinalNumber('It drops to -5 degrees')).toMatchObject({ value: -5 });
    expect(extractFinalNumber('no digits here')).toBeNull();
  });

  it('GSM8K scoring compares numerically', () => {
    expect(scoreGsm8k('The answer is 18.00', '18').correct).toBe(true);
    expect(scoreGsm8k('#### 1,000', '1000').correct).toBe(true);
    expect(scoreGsm8k('#### 17', '18')).toMatchObject({ correct: false, extracted: '17' });
    expect(scoreGsm8k('I cannot help with that.', '18')).toMatchObject({ correct: false, extracted: null, reason: 'no number found in the reply' });
  });

  it.skipIf(!gsm)(`every GSM8K reference solution scores correct against its own reference${gsm ? '' : ` (${SHARED_MISSING})`}`, () => {
    const rows = readFileSync(gsm!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { answer: string });
    let ok = 0;
    for (const r of rows) {
      const ref = /####\s*(.+)$/.exec(r.answer)![1]!.replace(/,/g, '');
      // The reference solution text itself is a free-form reply ending in "#### N".
      if (scoreGsm8k(r.answer.replace(/<<[^>]*>>/g, ''), ref).correct) ok++;
    }
    expect(ok).toBe(rows.length);
  });
});

describe('SST-2 labels and generic scorers', () => {
  it('extracts the first label word', () => {
    expect(extractSentiment('Positive.')).toBe('positive');
    expect(extractSentiment('The sentiment is negative, not positive.')).toBe('negative');
    expect(extractSentiment('neg')).toBe('negative');
    expect(extractSentiment('It is a mixed review')).toBeNull();
    expect(extractSentiment('positively glowing')).toBeNull();
    expect(scoreSst2('Negative', '0').correct).toBe(true);
    expect(scoreSst2('Negative', 'positive').correct).toBe(false);
    expect(scoreSst2('meh', 'positive')).toMatchObject({ correct: false, extracted: null });
  });

  it('exact / contains / regex', () => {
    expect(scoreTask('  Paris. ', 'paris', { kind: 'exact' }).correct).toBe(true);
    expect(scoreTask('Paris', 'paris', { kind: 'exact', caseSensitive: true }).correct).toBe(false);
    expect(scoreTask('The capital is Paris, of course', 'paris', { kind: 'contains' }).correct).toBe(true);
    expect(scoreTask('anything', '', { kind: 'contains' }).correct).toBe(false);
    expect(scoreTask('Answer: B) blue', 'B', { kind: 'regex', pattern: 'Answer:\\s*([A-D])' })).toMatchObject({ correct: true, extracted: 'B' });
    expect(scoreTask('I pick C', 'B', { kind: 'regex', pattern: 'Answer:\\s*([A-D])' })).toMatchObject({ correct: false, extracted: null });
    expect(scoreTask('colour: grey', '^colou?r: gr[ae]y$', { kind: 'regex' }).correct).toBe(true);
    expect(() => scoreTask('x', 'y', { kind: 'regex', pattern: '(' })).toThrow(/invalid pattern/);
  });
});
