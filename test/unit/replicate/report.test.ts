import { describe, expect, it } from 'vitest';
import { estimate, markdownTable, summarise, svgChart, type RunScores } from '../../../src/main/replicate/report';
import { wilson } from '../../../src/main/eval/metrics';

const rate = (k: number, n: number) => ({ k, n, rate: k / n, ...wilsonBounds(k, n) });
function wilsonBounds(k: number, n: number) {
  const w = wilson(k, n);
  return { low: w.low, high: w.high };
}

describe('replication results', () => {
  it('estimates a mean with a Student-t 95% interval over seeds, the Wilson interval for one run', () => {
    const e = estimate([rate(50, 100), rate(60, 100), rate(70, 100)]);
    expect(e.mean).toBeCloseTo(0.6, 12);
    // sd 0.1, n 3: half-width t(0.975, 2) · 0.1 / √3 = 4.303 · 0.057735
    expect(e.high - e.mean).toBeCloseTo(4.303 * (0.1 / Math.sqrt(3)), 6);
    expect(e.n).toBe(3);
    const one = estimate([rate(30, 100)]);
    expect(one).toEqual({ mean: 0.3, low: wilson(30, 100).low, high: wilson(30, 100).high, n: 1 });
    expect(estimate([]).n).toBe(0);
  });

  it('groups runs by arm into a table and a chart', () => {
    const run = (arm: string, seed: number, r: number): RunScores => ({ arm, seed, refusal: rate(r, 100), overRefusal: rate(10, 100), task: rate(80, 100) });
    const s = summarise([run('plain', 1, 10), run('sss-b-1%', 1, 40), run('plain', 2, 20)]);
    expect(s.map((x) => [x.arm, x.seeds])).toEqual([
      ['plain', 2],
      ['sss-b-1%', 1],
    ]);
    expect(s[0]!.refusal.mean).toBeCloseTo(0.15, 12);
    const md = markdownTable(s);
    expect(md.split('\n')).toHaveLength(4);
    expect(md).toContain('| plain | 2 | 15.0 [');
    const svg = svgChart(s, { title: 'a <test>', reference: s[1] });
    expect(svg).toContain('a &lt;test&gt;');
    expect(svg.match(/<rect x=/g)!.length).toBe(6 + 3); // 2 arms × 3 bars + 3 legend swatches
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(3);
    // every legend label ends inside the chart (about 6.5 px a character at 11 px)
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const labels = [...svg.matchAll(/<text x="([\d.]+)" y="\d+">([^<]+)<\/text>/g)].filter((m) => !m[2]!.startsWith('dashed'));
    expect(labels.map((m) => m[2])).toEqual(['AdvBench refusal', 'XSTest-safe over-refusal', 'SST-2 accuracy']);
    for (const m of labels) expect(Number(m[1]) + m[2]!.length * 6.5).toBeLessThanOrEqual(width);
  });
});
