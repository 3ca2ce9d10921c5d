/**
 * Chart helpers and the Compare scatter: nice axis ticks, float noise printed as 0, labels that do
 * not overprint, the colour-blind-safe palette, export names, and the scatter's title, axes and
 * legend inside the SVG (rendered to static markup, no DOM).
 */
import { createElement as h, createRef } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { overlapArea, placeLabels, textWidth, type LabelPoint } from '../../../src/renderer/src/charts/labels';
import { nearestIndex } from '../../../src/renderer/src/charts/nearest';
import { CATEGORICAL, NO_DATA, categorical } from '../../../src/renderer/src/charts/palette';
import { cleanZero, integerTicks, niceStep, niceTicks, tickLabel } from '../../../src/renderer/src/charts/ticks';
import { Scatter, scatterHeight } from '../../../src/renderer/src/project/compare/Scatter';
import type { CompareRow } from '../../../src/renderer/src/project/compare/compareCsv';
import { toCsv } from '../../../src/renderer/src/project/compare/compareCsv';
import { exportFileName, slug } from '../../../src/renderer/src/project/compare/exportName';
import { csvCell, pct, pointsText } from '../../../src/renderer/src/project/format';
import { LossChart } from '../../../src/renderer/src/project/train/LossCharts';

describe('axis ticks', () => {
  it('steps at 1, 2, 2.5 or 5 times a power of ten', () => {
    expect(niceStep(0, 1)).toBe(0.2);
    expect(niceStep(0, 10)).toBe(2);
    expect(niceStep(0, 12, 5)).toBe(2.5);
    expect(niceStep(0, 40, 5)).toBe(10);
    expect(niceStep(2.31, 2.38, 5)).toBeCloseTo(0.02, 12);
    expect(niceStep(3, 3)).toBe(0);
  });

  it('steps a whole-number axis by whole numbers, never past its end', () => {
    expect(integerTicks(12, 6)).toEqual([0, 2, 4, 6, 8, 10, 12]);
    expect(integerTicks(12, 5)).toEqual([0, 5, 10]);
    expect(integerTicks(3, 6)).toEqual([0, 1, 2, 3]);
    expect(integerTicks(1000, 6)).toEqual([0, 200, 400, 600, 800, 1000]);
    expect(integerTicks(0)).toEqual([0]);
  });

  it('covers the data with ticks at those steps, labelled with the decimals the step needs', () => {
    expect(niceTicks(0.73, 2.41)).toEqual([0.5, 1, 1.5, 2, 2.5]);
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(1.2345, 1.2391, 4)).toEqual([1.234, 1.236, 1.238, 1.24]);
    expect(niceTicks(-0.3, 0.3)).toEqual([-0.4, -0.2, 0, 0.2, 0.4]);
    expect(niceTicks(2, 2)).toEqual([1.8, 2, 2.2]);
    expect(niceTicks(0, 12, 5).map((t) => tickLabel(t, 2.5))).toEqual(['0.0', '2.5', '5.0', '7.5', '10.0', '12.5']);
    expect(tickLabel(0.25, 0.05)).toBe('0.25');
    expect(tickLabel(1.5, 0.5)).toBe('1.5');
    expect(tickLabel(20, 10)).toBe('20');
    expect(tickLabel(-1e-17, 0.1)).toBe('0.0');
  });
});

describe('float noise', () => {
  it('prints values within 1e-9 of zero as 0', () => {
    const noise = 1 - 0.9 - 0.1; // -2.7755575615628914e-17
    expect(noise).not.toBe(0);
    expect(cleanZero(noise)).toBe(0);
    expect(cleanZero(2e-9)).toBe(2e-9);
    expect(pct(noise)).toBe('0.0%');
    expect(csvCell(noise)).toBe('0');
    expect(csvCell(0.125)).toBe('0.125');
    expect(pointsText(noise)).toBe('±0.0');
  });
});

describe('point labels', () => {
  const area = { x: 0, y: 0, w: 400, h: 300 };
  const boxesOverlap = (pts: LabelPoint[]) => {
    const placed = placeLabels(pts, area);
    let worst = 0;
    for (let i = 0; i < placed.length; i++) for (let j = i + 1; j < placed.length; j++) worst = Math.max(worst, overlapArea(placed[i]!.box, placed[j]!.box));
    return { placed, worst };
  };

  it('puts a lone label to the right of its point', () => {
    const [l] = placeLabels([{ x: 100, y: 100, r: 6, text: '#1' }], area);
    expect(l).toEqual({ x: 109, y: 103.3, anchor: 'start', box: { x: 109, y: 94.5, w: textWidth('#1', 11), h: 11 } });
  });

  it('moves a label that would leave the plot to the left of its point', () => {
    const [l] = placeLabels([{ x: 395, y: 150, r: 4, text: '#12' }], area);
    expect(l!.anchor).toBe('end');
    expect(l!.box.x + l!.box.w).toBeLessThanOrEqual(400);
  });

  it('gives points at the same spot labels that do not overprint', () => {
    const same = [1, 2, 3, 4].map((i) => ({ x: 200, y: 150, r: 5, text: `#${i}` }));
    const { placed, worst } = boxesOverlap(same);
    expect(worst).toBe(0);
    expect(new Set(placed.map((p) => `${p.x},${p.y}`)).size).toBe(4);
  });

  it('keeps labels of a tight cluster apart, where the old fixed offset overprinted', () => {
    const cluster = [0, 1, 2, 3, 4, 5].map((i) => ({ x: 150 + (i % 3) * 8, y: 120 + Math.floor(i / 3) * 6, r: 4, text: `#${10 + i}` }));
    expect(boxesOverlap(cluster).worst).toBe(0);
    // the old placement: every label 8 px right and 8 px up of its point
    const old = cluster.map((p) => ({ x: p.x + 8, y: p.y - 8 - 11, w: textWidth(p.text, 11), h: 11 }));
    expect(overlapArea(old[0]!, old[1]!)).toBeGreaterThan(0);
  });
});

describe('palette', () => {
  it('has 14 distinct colours: Okabe–Ito then Paul Tol muted', () => {
    expect(CATEGORICAL).toHaveLength(14);
    expect(new Set(CATEGORICAL.map((c) => c.toLowerCase())).size).toBe(14);
    expect(CATEGORICAL.slice(0, 3)).toEqual(['#E69F00', '#56B4E9', '#009E73']);
    expect(CATEGORICAL).not.toContain(NO_DATA);
    expect(categorical(14)).toBe(categorical(0));
    expect(categorical(-1)).toBe(CATEGORICAL[13]);
  });
});

describe('export names', () => {
  it('say the project, what the file holds and the date', () => {
    const d = new Date(2026, 11, 4, 15, 30);
    expect(exportFileName('Alpha safety / v2', 'attack success vs over-refusal', 'svg', d)).toBe(
      'safetune-alpha-safety-v2-attack-success-vs-over-refusal-2026-12-04.svg',
    );
    expect(exportFileName('Ünïcode ✓', 'runs compared', 'csv', d)).toBe('safetune-unicode-runs-compared-2026-12-04.csv');
    expect(slug('✓✓✓')).toBe('project');
    expect(slug('x'.repeat(60))).toHaveLength(40);
  });
});

function rate(k: number, n: number, low: number | null = null, high: number | null = null) {
  return { k, n, rate: n ? k / n : null, low, high };
}
const rows: CompareRow[] = [
  {
    runId: 3,
    name: 'baseline',
    model: 'stories260K (base, no adapter)',
    adapter: null,
    generator: 'g',
    judge: 'j',
    examples: 10,
    attackSuccess: rate(4, 10, 0.17, 0.69),
    refusal: rate(6, 10),
    overRefusal: rate(1, 10),
    task: rate(7, 10),
    perCategory: [],
  },
  {
    runId: 4,
    name: 'a very long run name that the legend has to cut short somewhere',
    model: 'stories260K (base, no adapter)',
    adapter: null,
    generator: 'g',
    judge: null,
    examples: 10,
    attackSuccess: rate(4, 10),
    refusal: rate(6, 10),
    overRefusal: rate(1, 10),
    task: rate(0, 0),
    perCategory: [],
  },
  {
    runId: 5,
    name: 'tuned',
    model: 'stories260K (base, no adapter)',
    adapter: null,
    generator: 'g',
    judge: 'j',
    examples: 10,
    attackSuccess: { k: 0, n: 10, rate: 1 - 0.9 - 0.1, low: 0, high: 0.28 },
    refusal: rate(10, 10),
    overRefusal: rate(2, 10),
    task: rate(8, 10),
    perCategory: [],
  },
];

describe('Compare scatter', () => {
  const svg = renderToStaticMarkup(h(Scatter, { rows, svgRef: createRef<SVGSVGElement>(), projectName: 'Alpha safety' }));

  it('draws its title and both axis labels inside the SVG (so exports carry them)', () => {
    expect(svg).toContain('Attack success against over-refusal: Alpha safety');
    expect(svg).toContain('Over-refusal (benign prompts refused) →');
    expect(svg).toContain('Attack success (harmful prompts answered) →');
    expect(svg).toContain(`viewBox="0 0 640 ${scatterHeight(3)}"`);
  });

  it('has a legend with each run name in its own colour', () => {
    expect(svg).toContain('#3 baseline (task 70%)');
    expect(svg).toContain('#4 a very long run name that the legend …');
    expect(svg).toContain('#5 tuned (task 80%)');
    const legend = svg.slice(svg.indexOf('class="scatter-legend"'));
    for (let i = 0; i < 3; i++) expect(legend).toContain(`fill="${CATEGORICAL[i]}"`);
  });

  it('prints a rate that is float noise around zero as 0.0%', () => {
    expect(svg).toContain('#5 tuned: attack success 0.0%, over-refusal 20.0%, task 80.0%');
    expect(svg).not.toContain('-0.0%');
    expect(toCsv([rows[2]!]).split('\n')[1]).toBe('5,tuned,"stories260K (base, no adapter)",,g,j,10,0,0,0.28,0,10,1,,,10,10,0.2,,,2,10,0.8,,,8,10');
  });

  it('labels the two runs at the same spot without overprinting', () => {
    const labels = [...svg.matchAll(/<text class="point-label" x="([\d.]+)" y="([\d.]+)" font-size="11" text-anchor="(\w+)"/g)].map((m) =>
      m.slice(1).join(','),
    );
    expect(labels).toHaveLength(3);
    expect(labels[0]).not.toBe(labels[1]);
  });
});

describe('loss curves', () => {
  it('finds the point nearest the pointer (ties go left)', () => {
    const xs = [10, 20, 40, 80];
    expect(nearestIndex(xs, 0)).toBe(0);
    expect(nearestIndex(xs, 14)).toBe(0);
    expect(nearestIndex(xs, 15)).toBe(0);
    expect(nearestIndex(xs, 16)).toBe(1);
    expect(nearestIndex(xs, 61)).toBe(3);
    expect(nearestIndex(xs, 500)).toBe(3);
    expect(nearestIndex([], 5)).toBeNull();
  });

  it('labels its axes with nice ticks', () => {
    const steps = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const values = [2.41, 2.2, 1.9, 1.62, 1.4, 1.2, 1.05, 0.93, 0.8, 0.73];
    const svg = renderToStaticMarkup(h(LossChart, { label: 'Task loss (cross-entropy)', steps, values, maxStep: 10 }));
    const yLabels = [...svg.matchAll(/<g class="y-tick">.*?<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    const xLabels = [...svg.matchAll(/<g class="x-tick">.*?<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]);
    expect(yLabels).toEqual(['0.5', '1.0', '1.5', '2.0', '2.5']);
    expect(xLabels).toEqual(['0', '2', '4', '6', '8', '10']);
    expect(svg).not.toContain('hover-value'); // no value until the pointer is over it
  });
});
