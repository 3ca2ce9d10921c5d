import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import { staticVectorsAvailable } from '../../../src/main/embed/staticVectors';
import { ANALYSE_DEFAULTS, analyseSettings } from '../../../src/shared/select';
import { sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const pool = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
const gsm8k = sharedPath('data', 'task', 'gsm8k_test.jsonl');
const refs = sharedPath('data', 'reference', 'beavertails-unsafe-prompts');

describe('Analyse defaults by data set role', () => {
  it('fills in what the options leave out from the role', () => {
    expect(analyseSettings('safety_pool', {})).toEqual({ promptsHarmful: true, typeBehaviour: true, inferCategories: true });
    expect(analyseSettings('task', {})).toEqual({ promptsHarmful: false, typeBehaviour: false, inferCategories: false });
    expect(analyseSettings('task', { typeBehaviour: true })).toEqual({ promptsHarmful: false, typeBehaviour: true, inferCategories: false });
    expect(analyseSettings('safety_pool', { promptsHarmful: false })).toMatchObject({ promptsHarmful: false, typeBehaviour: true });
    for (const d of Object.values(ANALYSE_DEFAULTS)) expect(d.summary.length).toBeGreaterThan(20);
  });
});

let s: Services;
let projectId: number;
let cleanup: () => void;

describe.skipIf(!pool || !gsm8k || !refs || !staticVectorsAvailable())('Analyse with defaults on the real pool and GSM8K', () => {
  beforeAll(() => {
    const t = tempDir();
    cleanup = t.cleanup;
    s = testServices(t.dir);
    projectId = s.projects.create('defaults').id;
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });

  const run = async (type: string, params: unknown) => {
    const job = s.jobs.enqueue(type, params, projectId);
    const done = await s.jobs.waitFor(job.id, 300_000);
    if (done.state !== 'succeeded') throw new Error(`${type} ${done.state}: ${done.error}`);
    return done.result as { datasetId: number; behaviour: Record<string, number>; categoriesInferred: number; settings: unknown };
  };
  const withCategories = (datasetId: number) =>
    (s.db.prepare(`SELECT COUNT(*) AS n FROM records WHERE dataset_id = ? AND categories != '[]'`).get(datasetId) as { n: number }).n;

  it('types the safety pool as harmful by construction: T1/T2 only, not a T3/T4 majority', async () => {
    const { datasetId } = await run('data.import', { projectId, path: pool, role: 'safety_pool' });
    const a = await run('data.analyse', { projectId, datasetId, referenceDir: refs });
    const b = a.behaviour;
    console.log(`safety pool analysed with defaults: ${JSON.stringify(b)}`);
    expect(a.settings).toEqual({ promptsHarmful: true, typeBehaviour: true, inferCategories: true });
    expect((b.T3 ?? 0) + (b.T4 ?? 0)).toBe(0);
    expect(b.T1! + (b.T2 ?? 0)).toBe(2483);
    expect(b.T1!).toBeGreaterThan(b.T2 ?? 0);
    expect(a.categoriesInferred).toBe(2483);
  });

  it('leaves GSM8K untyped and without harm categories, even with a reference folder', async () => {
    const { datasetId } = await run('data.import', { projectId, path: gsm8k, role: 'task' });
    const a = await run('data.analyse', { projectId, datasetId, referenceDir: refs });
    console.log(`GSM8K analysed with defaults: ${JSON.stringify(a.behaviour)}, ${withCategories(datasetId)} records with harm categories`);
    expect(a.settings).toEqual({ promptsHarmful: false, typeBehaviour: false, inferCategories: false });
    expect(a.behaviour).toEqual({ untyped: 1319 });
    expect(a.categoriesInferred).toBe(0);
    expect(withCategories(datasetId)).toBe(0);
    expect(s.datasets.get(datasetId).embedderId).not.toBeNull();

    // Asked for, task data is typed and categorised; back on the defaults, what the detectors set is cleared.
    const asked = await run('data.analyse', { projectId, datasetId, referenceDir: refs, typeBehaviour: true, inferCategories: true });
    console.log(`GSM8K typed and categorised on request: ${JSON.stringify(asked.behaviour)}`);
    expect(asked.behaviour.untyped ?? 0).toBe(0);
    expect(withCategories(datasetId)).toBe(1319);
    const first = s.datasets.records({ projectId, datasetId, duplicates: 'all', offset: 0, limit: 1 }).rows[0]!;
    s.datasets.correctRecord(first.id, { behaviour: 'T3' });
    const again = await run('data.analyse', { projectId, datasetId, referenceDir: refs });
    expect(again.behaviour).toEqual({ untyped: 1318, T3: 1 });
    expect(withCategories(datasetId)).toBe(0);
  });
});
