/** End to end on the real safety pool: import → embed → behaviour types → categories → every sampler. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openImport } from '../../../src/main/data/import';
import type { NormalisedRecord } from '../../../src/main/data/formats';
import { getHarmTaxonomy } from '../../../src/main/data/taxonomy';
import { annotateRecords } from '../../../src/main/detect/annotate';
import {
  cossimCategoryReference,
  embedReferences,
  loadReferencePrompts,
  shippedCossimReference,
  singleCategoryOnly,
} from '../../../src/main/detect/categories';
import { createDefaultEmbedder, staticVectorsAvailable } from '../../../src/main/embed/staticVectors';
import { poolFromRecords, select } from '../../../src/main/select';
import { SELECTION_METHODS } from '../../../src/shared/select';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';

const poolFile = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
const refDir = sharedPath('data', 'reference', 'beavertails-unsafe-prompts');

describe.skipIf(!poolFile || !refDir || !staticVectorsAvailable())(`safety-pool pipeline ${poolFile ? '' : SHARED_MISSING}`, () => {
  it('selects from the real pool with every method', async () => {
    const records: NormalisedRecord[] = [];
    for await (const it of (await openImport(poolFile!)).items) if (it.kind === 'record') records.push(it.record);
    expect(records.length).toBe(2483);
    const emb = await createDefaultEmbedder({ cacheDir: join(repoRoot, 'bench', '.cache', 'embed') });
    const refs = await embedReferences(await loadReferencePrompts(refDir!), emb);
    const stages = new Set<string>();
    const ann = await annotateRecords(records, { embedder: emb, references: refs, onProgress: (stage) => stages.add(stage) });
    expect([...stages]).toEqual(['embed', 'behaviour', 'categories']);
    expect(ann.inferred.every(Boolean)).toBe(true); // the pool has no labels
    const behaviour = ann.behaviour;
    const counts = { T1: 0, T2: 0, T3: 0, T4: 0 };
    for (const b of behaviour) counts[b.type]++;
    // The pool pairs harmful instructions with safe (mostly refusing) replies: T1 must dominate.
    expect(counts.T1).toBeGreaterThan(counts.T2);
    expect(counts.T1 + counts.T4).toBeGreaterThan(0.6 * records.length);
    const known = await annotateRecords(records.slice(0, 50), { embedder: emb, knownHarmful: true });
    expect(known.behaviour.every((b) => b.type === 'T1' || b.type === 'T2')).toBe(true);
    // without reference files the prompt detector still infers every record's categories
    expect(known.inferred.every(Boolean)).toBe(true);
    expect(known.categoryScores!.length).toBe(50 * getHarmTaxonomy().ids.length);
    const tax = getHarmTaxonomy();
    const pool = poolFromRecords(
      records.map((_, i) => ({ categories: ann.categories[i]!, behaviour: behaviour[i]!.type })),
      tax.ids,
      { data: ann.embeddings, dim: ann.dim },
    );
    // Every category is represented somewhere in the pool.
    const present = tax.ids.filter((_, c) => pool.labels.some((m) => m & (1 << c)));
    expect(present.length).toBeGreaterThanOrEqual(12);
    const single = cossimCategoryReference(await embedReferences(singleCategoryOnly(await loadReferencePrompts(refDir!)), emb), pool.categories);
    // The shipped centroids (7 significant digits) select the same records as freshly embedded references.
    const viaShipped = select(pool, { method: 'cossim', budget: { count: 100 }, reference: shippedCossimReference(emb.id, pool.categories) });
    const viaFiles = select(pool, { method: 'cossim', budget: { count: 100 }, reference: single });
    expect(viaShipped.indices).toEqual(viaFiles.indices);
    for (const [method, row] of Object.entries(SELECTION_METHODS)) {
      const r = select(pool, { method, budget: { count: 100 }, seed: 1, ...(row.usesReference ? { reference: single } : {}) });
      expect(r.indices.length).toBe(100);
      expect(new Set(r.indices).size).toBe(100);
      expect(r.method).toBe(method);
      if (row.t1Only) for (const i of r.indices) expect(behaviour[i]!.type).toBe('T1');
      if (method === 'sss') expect(Object.values(r.perCategory).filter((v) => v > 0).length).toBe(present.length);
    }
  });
});
