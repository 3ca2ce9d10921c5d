import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportTrainingMix } from '../../../src/main/app/exportMix';
import type { Services } from '../../../src/main/app/services';
import { staticVectorsAvailable } from '../../../src/main/embed/staticVectors';
import { sharedPath } from '../../helpers/shared';
import { buildTinyBertFolder } from '../../fixtures/embed/tiny-bert';
import { tempDir, testServices } from '../../helpers/services';

const pool = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
const task = sharedPath('data', 'task', 'alpaca_en_demo.json');
const refs = sharedPath('data', 'reference', 'beavertails-unsafe-prompts');
const minilm = sharedPath('models', 'all-MiniLM-L6-v2-tokenizer');

let s: Services;
let projectId: number;
let cleanup: () => void;

describe.skipIf(!pool || !task || !refs || !staticVectorsAvailable())('curation pipeline as jobs: import → analyse → select → export', () => {
  beforeAll(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    s = testServices(t.dir);
    projectId = s.projects.create('pipeline').id;
  });
  afterAll(async () => {
    await s?.close();
    cleanup?.();
  });

  const run = async (type: string, params: unknown) => {
    const job = s.jobs.enqueue(type, params, projectId);
    const done = await s.jobs.waitFor(job.id, 300_000);
    if (done.state !== 'succeeded') throw new Error(`${type} ${done.state}: ${done.error}`);
    return done.result as Record<string, unknown>;
  };

  it('imports the pool and the task data, then types and categorises the pool', async () => {
    const p = await run('data.import', { projectId, path: pool, role: 'safety_pool' });
    await run('data.import', { projectId, path: task, role: 'task' });
    const a = await run('data.analyse', { projectId, datasetId: p.datasetId, referenceDir: refs });
    expect(a.records).toBe(2483);
    const b = a.behaviour as Record<string, number>;
    expect(b.T1!).toBeGreaterThan(1000);
    expect(b.untyped ?? 0).toBe(0);
    expect(a.categoriesInferred).toBe(2483);
    const withCats = s.datasets.records({ projectId, role: 'safety_pool', category: 'privacy_violation', duplicates: 'all', offset: 0, limit: 1 });
    expect(withCats.total).toBeGreaterThan(10);
    // Re-running finds every embedding in the cache.
    const again = await run('data.analyse', { projectId, datasetId: p.datasetId });
    expect(again.embeddedNow).toBe(0);
  });

  it('keeps a user correction when the pool is analysed again', async () => {
    const first = s.datasets.records({ projectId, role: 'safety_pool', duplicates: 'all', offset: 0, limit: 1 }).rows[0]!;
    const corrected = s.datasets.correctRecord(first.id, { behaviour: first.behaviour === 'T4' ? 'T3' : 'T4' });
    const ds = s.datasets.list(projectId).find((d) => d.role === 'safety_pool')!;
    await run('data.analyse', { projectId, datasetId: ds.id });
    expect(s.datasets.getRecord(first.id)).toMatchObject({ behaviour: corrected.behaviour, behaviourSource: 'user' });
  });

  it('selects 50 with SSS-B (T1 only, spread over categories) and exports the training mix', async () => {
    const r = await run('select.run', { projectId, method: 'sss-b', budget: { count: 50 }, seed: 0 });
    const { selection, items } = { selection: s.selections.get(r.selectionId as number), items: s.selections.items(r.selectionId as number) };
    expect(items).toHaveLength(50);
    expect(new Set(items.map((i) => i.recordId)).size).toBe(50);
    expect(items.every((i) => i.behaviour === 'T1')).toBe(true);
    expect(selection.summary.perBehaviour.T1).toBe(50);
    expect(Object.values(selection.summary.perCategory).filter((n) => n > 0).length).toBeGreaterThanOrEqual(10);
    // Same seed, same selection.
    const again = await run('select.run', { projectId, method: 'sss-b', budget: { count: 50 }, seed: 0 });
    expect(s.selections.items(again.selectionId as number).map((i) => i.recordId)).toEqual(items.map((i) => i.recordId));

    const saved = s.selections.save(selection.id, 'SSS-B 50');
    expect(saved.saved).toBe(true);
    const out = await exportTrainingMix(s, { selectionId: saved.id, format: 'alpaca', seed: 0 });
    const lines = readFileSync(out.path, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(out.safety).toBe(50);
    expect(lines).toHaveLength(out.task + 50);
    expect(lines.every((l) => typeof l.instruction === 'string' && typeof l.output === 'string' && l.input === '')).toBe(true);
    const prompts = new Set(lines.map((l) => l.instruction));
    for (const it of items) expect(prompts.has(it.prompt)).toBe(true);
    const chat = await exportTrainingMix(s, { selectionId: saved.id, format: 'chat', seed: 0 });
    const first = JSON.parse(readFileSync(chat.path, 'utf8').split('\n')[0]!);
    expect(first.messages.map((m: { role: string }) => m.role)).toEqual(['user', 'assistant']);
  });

  it('selects with Cossim against the reference categories and against the task data', async () => {
    const c = await run('select.run', { projectId, method: 'cossim', budget: { count: 28 }, seed: 1, referenceDir: refs });
    const items = s.selections.items(c.selectionId as number);
    expect(items).toHaveLength(28);
    expect(items.filter((i) => i.takenFor !== null).length).toBeGreaterThanOrEqual(14);
    const t = await run('select.run', { projectId, method: 'cossim-b', budget: { fraction: 0.01 }, cossimReference: 'task', seed: 1 });
    expect(s.selections.items(t.selectionId as number).length).toBe(Math.round(0.01 * s.datasets.roleRecords(projectId, 'task').length));
  });

  it('types only T1/T2 when the user says every prompt is harmful, keeping user corrections', async () => {
    const ds = s.datasets.list(projectId).find((d) => d.role === 'safety_pool')!;
    const a = await run('data.analyse', { projectId, datasetId: ds.id, promptsHarmful: true });
    const b = a.behaviour as Record<string, number>;
    const corrected = s.datasets.records({ projectId, role: 'safety_pool', duplicates: 'all', offset: 0, limit: 1 }).rows[0]!;
    expect(corrected.behaviourSource).toBe('user');
    const userTypedBenign = corrected.behaviour === 'T3' || corrected.behaviour === 'T4' ? 1 : 0;
    expect((b.T3 ?? 0) + (b.T4 ?? 0)).toBe(userTypedBenign);
    expect(b.T1! + b.T2!).toBe(2483 - userTypedBenign);
    await run('data.analyse', { projectId, datasetId: ds.id });
  });

  it('uses the shipped category centroids for Cossim when no reference folder is given', async () => {
    const c = await run('select.run', { projectId, method: 'cossim', budget: { count: 14 }, seed: 2 });
    expect(s.selections.items(c.selectionId as number)).toHaveLength(14);
  });

  it.skipIf(!minilm)('embeds with a sentence-transformers ONNX folder when one is given, and says which execution provider ran', async () => {
    const folder = buildTinyBertFolder(join(s.workspace, 'tiny-bert'), minilm!);
    const ds = s.datasets.list(projectId).find((d) => d.role === 'safety_pool')!;
    const job = s.jobs.enqueue('data.analyse', { projectId, datasetId: ds.id, embedderPath: folder }, projectId);
    const done = await s.jobs.waitFor(job.id, 300_000);
    expect(done.error).toBeNull();
    expect(s.datasets.get(ds.id).embedderId).toMatch(/^onnx:/);
    expect(
      s.jobs
        .events(job.id, 100)
        .map((e) => e.message)
        .join('\n'),
    ).toMatch(/embedding with onnx:.* on the cpu execution provider/);
    const r = await run('select.run', { projectId, method: 'pss', budget: { count: 20 }, seed: 0, embedderPath: folder });
    const sel = s.selections.get(r.selectionId as number);
    expect(sel.summary.embedder).toMatch(/^onnx:/);
    expect(s.selections.items(sel.id)).toHaveLength(20);
  });

  it('explains what is missing instead of selecting', async () => {
    const other = s.projects.create('empty').id;
    const job = s.jobs.enqueue('select.run', { projectId: other, method: 'sss', budget: { count: 5 } }, other);
    const done = await s.jobs.waitFor(job.id);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/no safety pool/);
  });
});
