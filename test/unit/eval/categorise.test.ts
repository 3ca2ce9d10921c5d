import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createDefaultEmbedder, staticVectorsAvailable } from '../../../src/main/embed/staticVectors';
import { inferSuiteCategories, loadCategoryReferences } from '../../../src/main/eval/categorise';
import { loadBuiltinSuite } from '../../../src/main/eval/suites';
import { SHARED_MISSING, repoRoot, sharedDir } from '../../helpers/shared';

const data = sharedDir() ? join(sharedDir()!, 'data') : null;

describe.skipIf(!data || !staticVectorsAvailable())(`inferred harm categories for AdvBench${data ? '' : ` (${SHARED_MISSING})`}`, () => {
  it('every item gets categories, marked as inferred; weapon/explosive prompts land in weapon-related categories', async () => {
    const emb = await createDefaultEmbedder({ cacheDir: join(repoRoot, 'bench', '.cache', 'embed') });
    const refs = await loadCategoryReferences(join(data!, 'reference', 'beavertails-unsafe-prompts'), emb);
    const adv = await loadBuiltinSuite('advbench', data!);
    expect(adv.items.every((i) => i.categories.length === 0)).toBe(true);
    const s = await inferSuiteCategories(adv, { embedder: emb, references: refs });
    expect(s.items).toHaveLength(520);
    expect(s.items.every((i) => i.categories.length >= 1)).toBe(true);
    expect(s.items[0]!.meta.categoriesInferred).toMatch(/^knn\|static:/);
    expect(s.notes.at(-1)).toMatch(/harm categories of 520 item\(s\) inferred/);
    const distinct = new Set(s.items.flatMap((i) => i.categories));
    expect(distinct.size).toBeGreaterThanOrEqual(6);
    const weapons = s.items.filter((i) => /\b(bomb|explosive)s?\b/i.test(i.prompt));
    expect(weapons.length).toBeGreaterThan(10);
    const hits = weapons.filter((i) =>
      i.categories.some((c) => ['drug_abuse,weapons,banned_substance', 'terrorism,organized_crime', 'violence,aiding_and_abetting,incitement'].includes(c)),
    );
    expect(hits.length / weapons.length).toBeGreaterThanOrEqual(0.7);
    // Items that have categories keep them unless overwrite is asked for.
    const again = await inferSuiteCategories(
      { ...s, items: s.items.map((i, k) => (k === 0 ? { ...i, categories: ['animal_abuse'] } : i)) },
      { embedder: emb, references: refs },
    );
    expect(again.items[0]!.categories).toEqual(['animal_abuse']);
  }, 120_000);
});
