/**
 * The Select tab per harm category: how many pool examples are eligible for a method before
 * selecting (select.eligible: T1 only for the -B variants, those carrying a chosen category), and
 * after selecting the budget's spread (target) against what was found, over the chosen categories only.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDispatcher, type Dispatch } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import type { Behaviour } from '../../../src/shared/data';
import type { CallResult } from '../../../src/shared/errors';
import { categoryHistogram, categorySpread } from '../../../src/renderer/src/project/select/spread';
import { tempDir, testServices } from '../../helpers/services';

const V = 'violence,aiding_and_abetting,incitement';
const P = 'privacy_violation';
const D = 'drug_abuse,weapons,banned_substance';
const TAXONOMY = [D, P, V, 'self_harm'];

let s: Services;
let dispatch: Dispatch;
let projectId: number;
let cleanup: () => void;

const ok = <T>(r: CallResult<unknown>): T => {
  if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
  return r.value as T;
};

/** The pool: [categories, behaviour] per record. */
const POOL: [string[], Behaviour][] = [
  [[V], 'T1'],
  [[V], 'T1'],
  [[V], 'T1'],
  [[V, P], 'T1'],
  [[V], 'T2'],
  [[P], 'T1'],
  [[P], 'T4'],
  [[D], 'T2'],
  [[], 'T1'],
];

beforeAll(async () => {
  const t = tempDir('safetune-select-spread-');
  cleanup = t.cleanup;
  s = testServices(t.dir);
  dispatch = createDispatcher(createHandlers(s), () => {});
  projectId = s.projects.create('spread').id;
  const ds = s.datasets.create({ projectId, role: 'safety_pool', name: 'pool.jsonl', sourcePath: '/d/pool.jsonl', fileDigest: 'x', sizeBytes: 1, jobId: null });
  s.datasets.insertRecords(
    ds.id,
    projectId,
    POOL.map(([categories], i) => ({
      sourceRow: i,
      sourceLine: i + 1,
      prompt: `prompt ${i}`,
      response: `reply ${i}`,
      contentHash: `h${i}`,
      categories,
      labels: {},
    })),
  );
  s.datasets.finish(ds.id, 'ready');
  const ids = s.datasets
    .records({ projectId, role: 'safety_pool', duplicates: 'all', offset: 0, limit: 100 })
    .rows.map((r) => r.id)
    .sort((a, b) => a - b);
  ids.forEach((id, i) => s.datasets.correctRecord(id, { behaviour: POOL[i]![1] }));
});

afterAll(async () => {
  await s?.close();
  cleanup?.();
});

describe('pool examples eligible per harm category, before selecting', () => {
  it('counts every typed pool example for SSS, T1 only for SSS-B', async () => {
    expect(ok(await dispatch('select.eligible', { projectId }))).toEqual({ poolSize: 9, eligible: 9, perCategory: { [V]: 5, [P]: 3, [D]: 1 } });
    expect(ok(await dispatch('select.eligible', { projectId, t1Only: true }))).toEqual({ poolSize: 9, eligible: 6, perCategory: { [V]: 4, [P]: 2 } });
  });

  it('with chosen categories, counts the examples carrying one of them', async () => {
    expect(ok(await dispatch('select.eligible', { projectId, t1Only: true, categories: [P] }))).toMatchObject({ eligible: 2, perCategory: { [V]: 4, [P]: 2 } });
    expect(ok(await dispatch('select.eligible', { projectId, categories: [P, D] }))).toMatchObject({ eligible: 4 });
  });
});

describe('target vs selected per harm category, after selecting', () => {
  it('records the spread and shows only the chosen categories', async () => {
    const job = s.jobs.enqueue('select.run', { projectId, method: 'sss-b', budget: { count: 4 }, seed: 3, categories: [P, V, D] }, projectId);
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state, done.error ?? '').toBe('succeeded');
    const id = (done.result as { selectionId: number }).selectionId;
    const sel = s.selections.get(id);
    // 5 T1 examples carry a chosen category; D has none: the budget of 4 is spread over P and V, 2 each
    expect(sel.summary).toMatchObject({ selected: 4, eligible: 5, strata: [P, V], perStratum: 2, eligiblePerCategory: { [V]: 4, [P]: 2 } });
    const items = s.selections.items(id);
    const spread = categorySpread(sel, items, TAXONOMY);
    expect(spread.map((r) => [r.category, r.eligible, r.target, r.takenFor])).toEqual([
      [D, 0, 0, 0],
      [P, 2, 2, 2],
      [V, 4, 2, 2],
    ]);
    // selected counts every pick carrying the category (the V+P record counts for both)
    for (const r of spread) expect(r.selected).toBe(items.filter((i) => i.categories.includes(r.category)).length);
    // the histogram holds the three chosen categories, not self_harm
    expect(
      categoryHistogram(sel, TAXONOMY)
        .map(([c]) => c)
        .sort(),
    ).toEqual([D, P, V].sort());
  });

  it('says nothing of a target for a method that does not stratify', async () => {
    const job = s.jobs.enqueue('select.run', { projectId, method: 'random', budget: { count: 3 }, seed: 1 }, projectId);
    const done = await s.jobs.waitFor(job.id, 60_000);
    const sel = s.selections.get((done.result as { selectionId: number }).selectionId);
    expect(sel.summary.strata).toBeUndefined();
    const spread = categorySpread(sel, s.selections.items(sel.id), TAXONOMY);
    expect(spread.map((r) => [r.category, r.eligible, r.target])).toEqual([
      [D, 1, null],
      [P, 3, null],
      [V, 5, null],
      ['self_harm', 0, null],
    ]);
  });
});
