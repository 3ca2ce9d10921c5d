import { SELECTION_METHODS, SelectRunParams, type SelectionMethodRow } from '../../../shared/select';
import { DatasetStore } from '../../db/datasets';
import { SelectionStore } from '../../db/selections';
import { getHarmTaxonomy } from '../../data/taxonomy';
import type { Embedder } from '../../embed/types';
import type { CossimReference } from '../../select';
import { defineJob, type JobContext } from '../define';
import { embedWithProgress, promptEmbedder, referenceCentroids } from '../workspaceResources';

/** Pool embeddings and, for a method that scores against a reference, the reference (task centroid, reference folder, or the shipped centroids). */
async function embedPool(
  p: SelectRunParams,
  row: SelectionMethodRow,
  c: JobContext<unknown>,
  store: DatasetStore,
  pool: { prompt: string }[],
  embedder: Embedder,
  categories: readonly string[],
): Promise<{ embeddings: { data: Float32Array; dim: number }; reference?: CossimReference }> {
  const { matrix } = await embedWithProgress(
    c,
    embedder,
    pool.map((r) => r.prompt),
    'safety pool',
    0,
    0.5,
  );
  const embeddings = { data: matrix, dim: embedder.dimension };
  if (!row.usesReference) return { embeddings };
  if (p.cossimReference === 'task') {
    const task = store.roleRecords(p.projectId, 'task');
    if (task.length === 0) throw new Error(`${row.label} against the task data needs task data: import it first`);
    const { matrix: t } = await embedWithProgress(
      c,
      embedder,
      task.map((r) => r.prompt),
      'task data',
      0.5,
      0.8,
    );
    const { meanRows } = await import('../../embed/vecmath');
    return { embeddings, reference: { kind: 'task', centroid: meanRows(t, embedder.dimension) } };
  }
  const { cossimCategoryReference, shippedCossimReference } = await import('../../detect/categories');
  if (p.referenceDir) {
    const refs = await referenceCentroids(c, embedder, p.referenceDir, true, 0.5, 0.8);
    return { embeddings, reference: cossimCategoryReference(refs, categories) };
  }
  try {
    return { embeddings, reference: shippedCossimReference(embedder.id, categories) };
  } catch (e) {
    throw new Error(`${row.label} needs reference prompts per category: give a reference folder (${(e as Error).message})`);
  }
}

export interface SelectRunResult {
  selectionId: number;
  selected: number;
  shortfall: number;
}

/**
 * Runs a sampler over the project's safety pool (exact duplicates left out) and stores the result
 * as an unsaved preview selection; the Select tab shows it and saves it under a name.
 */
export const selectRunJob = defineJob<SelectRunParams, never, SelectRunResult>({
  type: 'select.run',
  heavy: false,
  params: SelectRunParams,
  title: (p) => `Select ${'count' in p.budget ? p.budget.count : `${p.budget.fraction * 100}%`} with ${SELECTION_METHODS[p.method].label}`,
  run: (p, ctx) => runSelection(p, ctx),
  resume: (p, _cp, ctx) => runSelection(p, ctx),
});

async function runSelection(p: SelectRunParams, ctx: JobContext<never>): Promise<SelectRunResult> {
  const c = ctx as JobContext<unknown>;
  const store = new DatasetStore(ctx.db);
  const pool = store.roleRecords(p.projectId, 'safety_pool');
  if (pool.length === 0) throw new Error('the project has no safety pool: import one in the Data tab first');
  const taskSize = store.roleRecords(p.projectId, 'task').length;
  if ('fraction' in p.budget && taskSize === 0) throw new Error('a budget as a share of the task data needs task data: import it first');
  const row: SelectionMethodRow = SELECTION_METHODS[p.method];
  if (row.t1Only && !pool.some((r) => r.behaviour)) {
    throw new Error(`${row.label} keeps T1 examples only, and the pool has no behaviour types yet: analyse the safety pool first`);
  }
  const tax = getHarmTaxonomy();
  if (p.categories) for (const cat of p.categories) if (!tax.ids.includes(cat)) throw new Error(`unknown harm category "${cat}" (have: ${tax.ids.join('; ')})`);

  let embeddings: { data: Float32Array; dim: number } | undefined;
  let embedderId: string | null = null;
  let reference: CossimReference | undefined;
  if (row.usesEmbeddings) {
    const encoder = await promptEmbedder(ctx.db, c, p.embedderPath);
    try {
      const r = await embedPool(p, row, c, store, pool, encoder.embedder, tax.ids);
      embeddings = r.embeddings;
      reference = r.reference;
      embedderId = encoder.embedder.id;
    } finally {
      await encoder.dispose();
    }
  }
  ctx.throwIfCancelled();
  ctx.progress(0.85, 'selecting');
  const { eligibleIndices, poolFromRecords, selectAsync } = await import('../../select');
  const selPool = poolFromRecords(pool, tax.ids, embeddings);
  const budget = 'count' in p.budget ? { count: p.budget.count } : { fraction: p.budget.fraction, taskSize };
  // selectAsync: the same selection, with PSS/Cossim matrix products in onnxruntime (fast on big pools).
  const result = await selectAsync(selPool, {
    method: p.method,
    budget,
    seed: p.seed,
    params: p.methodParams,
    ...(p.categories ? { categories: p.categories } : {}),
    ...(reference ? { reference } : {}),
  });
  const perBehaviour: Record<string, number> = { T1: 0, T2: 0, T3: 0, T4: 0, untyped: 0 };
  for (const i of result.indices) perBehaviour[pool[i]!.behaviour ?? 'untyped']!++;
  const eligiblePerCategory: Record<string, number> = {};
  for (const i of eligibleIndices(selPool, { ...(p.categories ? { categories: p.categories } : {}), t1Only: row.t1Only })) {
    for (const cat of pool[i]!.categories) eligiblePerCategory[cat] = (eligiblePerCategory[cat] ?? 0) + 1;
  }
  const summary = {
    budget: result.budget,
    selected: result.indices.length,
    eligible: result.eligible,
    shortfall: result.shortfall,
    poolSize: pool.length,
    perCategory: result.perCategory,
    perBehaviour,
    embedder: embedderId,
    ...(result.strata.length ? { strata: result.strata, perStratum: result.perStratum } : {}),
    eligiblePerCategory,
  };
  const selectionId = new SelectionStore(ctx.db).create(
    { projectId: p.projectId, method: p.method, params: p, summary },
    result.items.map((it) => ({ recordId: pool[it.index]!.id, category: it.category, score: it.score })),
  );
  ctx.progress(1, `${result.indices.length} selected`);
  return { selectionId, selected: result.indices.length, shortfall: result.shortfall };
}
