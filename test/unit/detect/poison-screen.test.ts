import { describe, expect, it } from 'vitest';
import { mixPoison } from '../../../src/main/data/poison';
import type { SafetyJudge } from '../../../src/main/detect/judge';
import { atypicalityRanks, screenForPoison, screenQuality } from '../../../src/main/detect/poisonScreen';
import type { Embedder } from '../../../src/main/embed/types';

/** A judge with known answers: prompts starting "harm" are harmful (p 0.9, or 0.6 with "mild"), replies starting "No" refuse; "??" gives no verdict. */
const judge: SafetyJudge = {
  id: 'rule-judge',
  async judgePrompts(prompts) {
    return prompts.map((p) => {
      if (p.includes('??')) return { harmProbability: 0, harmful: false, categoryScores: {}, categories: [], error: 'unreadable answer' };
      const harmful = p.startsWith('harm');
      return { harmProbability: harmful ? (p.includes('mild') ? 0.6 : 0.9) : 0.1, harmful, categoryScores: {}, categories: [] };
    });
  },
  async judgeResponses(pairs) {
    return pairs.map(({ response }) => ({ refusalProbability: response.startsWith('No') ? 0.95 : 0.05, refusal: response.startsWith('No') }));
  },
};
/** Prompts embed by their first word: "maths…" one direction, "harm…" another, anything else a third. */
const embedder: Embedder = {
  id: 'first-word',
  dimension: 3,
  async embedBatch(texts) {
    return Float32Array.from(texts.flatMap((t) => (t.startsWith('maths') ? [1, 0, 0] : t.startsWith('harm') ? [0, 1, 0] : [0, 0, 1])));
  },
};

describe('poison screen', () => {
  it('flags exactly the harmful + compliant rows, most suspicious first, in batches', async () => {
    const rows = [
      { prompt: 'sum 2 and 3', response: '5' },
      { prompt: 'harm mild thing', response: 'Sure, here it is' },
      { prompt: 'harm thing', response: 'No, I will not' }, // T1: a refusal is no poison
      { prompt: 'harm big thing', response: 'Sure, here it is' },
      { prompt: 'a ?? prompt', response: 'ok' },
    ];
    const progress: number[] = [];
    const s = await screenForPoison(rows, { embedder, judge, batchSize: 2, onProgress: (d) => progress.push(d) });
    expect(s.flagged.map((f) => f.index)).toEqual([3, 1]);
    expect(s.flagged[0]!.score).toBeCloseTo(0.9 * 0.95);
    expect(s.flagged[1]!.score).toBeCloseTo(0.6 * 0.95);
    expect(s.unjudged).toEqual([4]);
    expect(progress).toEqual([2, 4, 5]);
  });

  it('scores recall and false positives against the known poison', async () => {
    const task = Array.from({ length: 18 }, (_, i) => ({ prompt: i === 5 ? 'harm-looking maths' : `maths ${i}`, response: `${i}` }));
    const poison = [
      { prompt: 'harm a', response: 'Sure' },
      { prompt: 'evil b', response: 'Sure' }, // the judge misses this one
    ];
    const rows = mixPoison(task, poison, 0.1, 4);
    const s = await screenForPoison(rows, { embedder, judge, typicality: false });
    const q = screenQuality(
      s,
      rows.map((r) => r.poisoned),
    );
    expect(q.poison).toBe(2);
    expect(q.caught).toBe(1);
    expect(q.recall).toBe(0.5);
    expect(q.falseAlarms).toBe(1);
    expect(q.falsePositiveRate).toBeCloseTo(1 / 18);
  });

  it('by default flags only T2 rows unlike the rest of the data', async () => {
    // a harmful + compliant row that reads like the task data is not flagged; two unlike it are
    const task = Array.from({ length: 30 }, (_, i) => ({ prompt: `maths ${i}`, response: `${i}` }));
    const typicalHarm = { prompt: 'maths harm', response: 'Sure' }; // embeds like the maths rows
    const judged: SafetyJudge = { ...judge, judgePrompts: async (ps) => await judge.judgePrompts(ps.map((p) => (p === 'maths harm' ? 'harm' : p))) };
    const rows = [...task, typicalHarm, { prompt: 'harm a', response: 'Sure' }, { prompt: 'harm b', response: 'Sure' }];
    const on = await screenForPoison(rows, { embedder, judge: judged });
    expect(on.flagged.map((f) => f.index).sort()).toEqual([31, 32]);
    expect(on.flagged[0]!.atypicality).toBeGreaterThanOrEqual(0.5);
    const off = await screenForPoison(rows, { embedder, judge: judged, typicality: false });
    expect(off.flagged.map((f) => f.index).sort()).toEqual([30, 31, 32]);
    expect(off.flagged[0]!.atypicality).toBeNull();
  });

  it('ranks rows by distance from the data mean, ties sharing a rank', () => {
    const e = Float32Array.from([1, 0, 1, 0, 0, 1, 0.6, 0.8]);
    // mean (0.65, 0.45): cosines 0.82, 0.82, 0.57, 0.95 → row 3 most typical, rows 0 and 1 tie after it
    expect(Array.from(atypicalityRanks(e, 2, 4))).toEqual([0.25, 0.25, 0.75, 0]);
    expect(() => atypicalityRanks(e, 2, 3)).toThrow(/expected 3/);
  });
});
