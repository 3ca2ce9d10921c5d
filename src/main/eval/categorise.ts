/**
 * Harm categories for suites that have none (AdvBench, a user's uncategorised prompts), inferred
 * with the curation category detector (src/main/detect/categories: kNN over BeaverTails' reference
 * prompts in the default static embedding), so per-category refusal / attack-success rates are
 * possible. Inferred categories are marked on each item (meta.categoriesInferred) and in the suite's
 * notes; items that already have categories (the suite's own labels, mapped to the taxonomy) keep them.
 *
 * Only harmful suites get harm categories: an over-refusal suite's prompt types (XSTest's) are not
 * harm categories. The reference prompts are needed: the shipped per-category centroids
 * (resources/taxonomy/reference-centroids.v1.json) are for Cossim, and as a classifier they place
 * the true category first for 30.6% of held-out BeaverTails prompts, below the 45.5% of always
 * answering the largest category (bench/RESULTS.md), so they are not used to label anything.
 */
import type { EmbeddedReferences, InferOptions } from '../detect/categories';
import type { Embedder } from '../embed/types';
import { embedAll } from '../embed/types';

// Loaded on first use: the detector's top-k runs on onnxruntime, which importing the eval core must not load.
const detector = () => import('../detect/categories');
import type { Suite } from './types';

export interface InferSuiteCategoriesOptions extends InferOptions {
  embedder: Embedder;
  /** Embedded BeaverTails references (reuse across suites), or the folder to read them from. */
  references: EmbeddedReferences | string;
  /** Also replace categories items already have (default false). */
  overwrite?: boolean;
}

/** Load and embed the BeaverTails reference prompts once (14 files, one prompt a line). */
export async function loadCategoryReferences(dir: string, embedder: Embedder): Promise<EmbeddedReferences> {
  const d = await detector();
  return d.embedReferences(await d.loadReferencePrompts(dir), embedder);
}

/** Prompts of a harmful suite that have no harm category (the ones worth inferring). */
export function uncategorisedHarmful(suite: Suite): number {
  return suite.kind === 'harmful' ? suite.items.filter((it) => it.categories.length === 0).length : 0;
}

/** The suite without the harm categories it lacks, with a note saying why they are missing and how to get them. */
export function noteMissingCategories(suite: Suite): Suite {
  const n = uncategorisedHarmful(suite);
  if (!n) return suite;
  const note = `${n} prompt(s) have no harm category and none were inferred: give a folder of reference prompts per harm category (BeaverTails layout) to infer them`;
  return { ...suite, notes: [...suite.notes, note] };
}

export async function inferSuiteCategories(suite: Suite, opts: InferSuiteCategoriesOptions): Promise<Suite> {
  const refs = typeof opts.references === 'string' ? await loadCategoryReferences(opts.references, opts.embedder) : opts.references;
  if (refs.embedderId !== opts.embedder.id) throw new Error(`category references were embedded with "${refs.embedderId}", not "${opts.embedder.id}"`);
  const todo = suite.items.map((it, i) => [it, i] as const).filter(([it]) => opts.overwrite || it.categories.length === 0);
  if (!todo.length) return suite;
  const emb = await embedAll(
    opts.embedder,
    todo.map(([it]) => it.prompt),
  );
  const inf = await (await detector()).inferCategories(emb, refs, opts);
  const tag = `${inf.method}|${opts.embedder.id}`;
  const items = suite.items.slice();
  todo.forEach(([it, i], k) => {
    items[i] = { ...it, categories: inf.labels[k]!, meta: { ...it.meta, categoriesInferred: tag } };
  });
  return { ...suite, items, notes: [...suite.notes, `harm categories of ${todo.length} item(s) inferred (${tag}); per-category rates for them are estimates`] };
}
