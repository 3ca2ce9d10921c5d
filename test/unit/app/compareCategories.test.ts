import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareRuns } from '../../../src/main/app/evaluations';
import type { Services } from '../../../src/main/app/services';
import type { EvalRecord, VerdictLabel } from '../../../src/main/eval/types';
import { calls } from '../../../src/shared/contract';
import { categoryHeatmap, deltaColour, heatmapCsv } from '../../../src/renderer/src/project/compare/categoryHeatmap';
import { tempDir, testServices } from '../../helpers/services';

let s: Services;
let cleanup: () => void;

let seq = 0;
function rec(
  suiteId: string,
  kind: EvalRecord['suiteKind'],
  label: VerdictLabel,
  categories: string[],
  sourceCategories: string[] = [],
  expected: EvalRecord['expected'] = 'refuse',
): EvalRecord {
  return {
    suiteId,
    suiteKind: kind,
    itemId: String(++seq),
    prompt: 'p',
    response: 'r',
    finishReason: 'stop',
    verdicts: [{ judgeId: 'keyword-start', judgeVersion: 'k@1', kind: 'refusal', label, score: null, reason: '' }],
    warnings: [],
    expected,
    categories,
    sourceCategories,
    reference: null,
  };
}

const V = 'violence,aiding_and_abetting,incitement';
const P = 'privacy_violation';

/** A run of advbench (harm categories), stl (one more category) and xstest (prompt types only). */
function storeRun(projectId: number, name: string, adv: [VerdictLabel, string[]][], stl: [VerdictLabel, string[]][]): number {
  const run = s.evaluations.createRun(projectId, name, {}, null);
  const records = [
    ...adv.map(([l, c]) => rec('advbench', 'harmful', l, c)),
    ...stl.map(([l, c]) => rec('stl-malicious', 'harmful', l, c, ['crime'])),
    rec('xstest', 'over-refusal', 'refusal', [], ['homonyms'], 'comply'),
    rec('xstest', 'over-refusal', 'compliance', [], ['contrast_homonyms']),
  ];
  s.evaluations.insertRecords(
    run.id,
    records.map((record, position) => ({ position, record })),
  );
  return run.id;
}

describe('Compare: attack success per harm category across runs', () => {
  let a: number;
  let b: number;
  beforeAll(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    s = testServices(t.dir);
    const projectId = s.projects.create('compare').id;
    // base: violence 3/4 answered, privacy 1/2; one uncategorised prompt refused
    a = storeRun(
      projectId,
      'base',
      [
        ['compliance', [V]],
        ['compliance', [V]],
        ['compliance', [V, P]],
        ['refusal', [V]],
        ['refusal', []],
      ],
      [['refusal', [P]]],
    );
    // tuned: violence 1/2, privacy 2/2
    b = storeRun(
      projectId,
      'tuned',
      [
        ['compliance', [V, P]],
        ['refusal', [V]],
      ],
      [['compliance', [P]]],
    );
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });

  it('pools each run’s harmful suites per harm category (taxonomy order, uncategorised last); XSTest types are not categories', () => {
    const rows = compareRuns(s, [a, b]);
    expect(calls['eval.compare'].output.safeParse(rows).success).toBe(true);
    const asr = (i: number) => rows[i]!.perCategory.map((c) => [c.category, c.attackSuccess.k, c.attackSuccess.n]);
    expect(asr(0)).toEqual([
      [P, 1, 2],
      [V, 3, 4],
      ['uncategorised', 0, 1],
    ]);
    expect(asr(1)).toEqual([
      [P, 2, 2],
      [V, 1, 2],
    ]);
    expect(rows.flatMap((r) => r.perCategory.map((c) => c.category))).not.toContain('homonyms');
    expect(rows[0]!.perCategory[1]!.attackSuccess.low).toBeGreaterThan(0);
  });

  it('lays the runs side by side with the difference against the chosen base run, and exports it as CSV', () => {
    const rows = compareRuns(s, [a, b]);
    const order = [P, V]; // any taxonomy order
    const heat = categoryHeatmap(rows, a, order);
    expect(heat.map((h) => h.category)).toEqual([P, V, 'uncategorised']);
    const cell = (cat: string, run: number) => heat.find((h) => h.category === cat)!.cells.find((c) => c.runId === run)!;
    expect(cell(V, a).delta).toBeNull();
    expect(cell(V, b).delta).toBeCloseTo(0.5 - 0.75, 12);
    expect(cell(P, b).delta).toBeCloseTo(1 - 0.5, 12);
    expect(cell('uncategorised', b).attackSuccess).toBeNull();
    expect(cell('uncategorised', b).delta).toBeNull();
    expect(deltaColour(cell(P, b).delta)).toMatch(/^rgba\(200, 40, 30/);
    expect(deltaColour(cell(V, b).delta)).toMatch(/^rgba\(30, 140, 70/);
    // against the other base run, the signs flip
    expect(categoryHeatmap(rows, b, order).find((h) => h.category === V)!.cells[0]!.delta).toBeCloseTo(0.25, 12);

    const csv = heatmapCsv(rows, a, order, (c) => (c === P ? 'Privacy violation' : c))
      .trim()
      .split('\n');
    const [ra, rb] = [`run_${a}_attack_success`, `run_${b}_attack_success`];
    expect(csv[0]).toBe(`category,category_name,${ra}_rate,${ra}_answered,${ra}_prompts,${rb}_rate,${rb}_answered,${rb}_prompts,${rb}_minus_run_${a}`);
    expect(csv).toHaveLength(4);
    expect(csv[1]).toBe(`${P},Privacy violation,0.5,1,2,1,2,2,0.5`);
    expect(csv[2]).toBe(`"${V}","${V}",0.75,3,4,0.5,1,2,-0.25`);
    expect(csv[3]).toBe('uncategorised,uncategorised,0,0,1,,,,');
    // every column name is unique, even when a run is listed twice
    const twice = heatmapCsv([...rows, rows[0]!], b, order)
      .split('\n')[0]!
      .split(',');
    expect(new Set(twice).size).toBe(twice.length);
    expect(twice).toHaveLength(2 + 3 + 4);
  });
});
