import { analyseSettings, DataAnalyseParams, type AnalyseSettings } from '../../../shared/select';
import { DATASET_ROLE_LABELS } from '../../../shared/data';
import { DatasetStore } from '../../db/datasets';
import { defineJob, type JobContext } from '../define';
import type { Embedder } from '../../embed/types';
import { embedWithProgress, promptEmbedder, referenceCentroids, workspaceEmbedder } from '../workspaceResources';

interface Checkpoint {
  /** Records typed so far (index into the data set's records in id order). */
  typed: number;
}

const BATCH = 1000;

export interface AnalyseResult {
  records: number;
  embeddedNow: number;
  behaviour: Record<string, number>;
  categoriesInferred: number;
  /** What this analysis did: the options given, the data set role's defaults for the rest. */
  settings: AnalyseSettings;
}

/**
 * Analyses a data set: embeds its prompts (cached); then, as its role calls for unless the options
 * say otherwise (ANALYSE_DEFAULTS: a safety pool is harmful by construction and typed, task data is
 * only embedded), types each pair T1–T4 with the prompt-harm and refusal detectors and — given
 * reference prompts — infers harm categories for records without labels. A step that is off clears
 * what the detectors set earlier; a user's correction is always kept. Typing is committed batch by
 * batch with its checkpoint.
 */
export const dataAnalyseJob = defineJob<DataAnalyseParams, Checkpoint, AnalyseResult>({
  type: 'data.analyse',
  heavy: true,
  params: DataAnalyseParams,
  title: (p, names) => `Analyse ${names.dataset(p.datasetId) ?? `data set ${p.datasetId}`}`,
  run: (p, ctx) => analyse(p, { typed: 0 }, ctx),
  resume: (p, cp, ctx) => analyse(p, cp, ctx),
});

async function analyse(p: DataAnalyseParams, cp: Checkpoint, ctx: JobContext<Checkpoint>): Promise<AnalyseResult> {
  const store = new DatasetStore(ctx.db);
  const ds = store.get(p.datasetId);
  if (ds.projectId !== p.projectId) throw new Error(`data set ${p.datasetId} belongs to another project`);
  if (ds.state !== 'ready') throw new Error(`data set ${p.datasetId} is ${ds.state}: import it first`);
  const rows = store.analysisRows(p.datasetId);
  const settings = analyseSettings(ds.role, p);
  ctx.log(`${DATASET_ROLE_LABELS[ds.role]}: ${describeSettings(settings, p.referenceDir)}`);
  // Behaviour typing uses the static embedder its classifiers were trained on; prompt embeddings
  // (categories, the map, PSS/Cossim later) use the chosen encoder.
  // The first use of the default embedder converts its word vectors: the first tenth of the progress.
  const embedder = await workspaceEmbedder(ctx.db, ctx as JobContext<unknown>, [0, 0.1]);
  const prompts = await promptEmbedder(ctx.db, ctx as JobContext<unknown>, p.embedderPath);
  try {
    return await analyseWith(p, settings, cp, ctx, store, rows, embedder, prompts.embedder);
  } finally {
    await prompts.dispose();
  }
}

function describeSettings(s: AnalyseSettings, referenceDir: string | undefined): string {
  const typing = s.typeBehaviour ? `typed T1–T4 (${s.promptsHarmful ? 'every prompt counts as harmful' : 'prompt harm from the detector'})` : 'not typed';
  const cats = !s.inferCategories ? 'no harm categories' : referenceDir ? 'harm categories inferred' : 'harm categories not inferred (no reference folder)';
  return `embedded, ${typing}, ${cats}`;
}

async function analyseWith(
  p: DataAnalyseParams,
  settings: AnalyseSettings,
  cp: Checkpoint,
  ctx: JobContext<Checkpoint>,
  store: DatasetStore,
  rows: ReturnType<DatasetStore['analysisRows']>,
  embedder: Embedder,
  promptEmb: Embedder,
): Promise<AnalyseResult> {
  const { matrix, computed } = await embedWithProgress(
    ctx as JobContext<unknown>,
    promptEmb,
    rows.map((r) => r.prompt),
    'prompts',
    0.1,
    0.3,
  );
  store.setEmbedder(p.datasetId, promptEmb.id);

  if (settings.typeBehaviour) await typeRecords(settings, cp, ctx, store, rows, embedder);
  else {
    const cleared = store.clearDetectorBehaviour(p.datasetId);
    if (cleared) ctx.log(`cleared the behaviour types of ${cleared} records set by an earlier analysis`);
  }

  let categoriesInferred = 0;
  if (settings.inferCategories && p.referenceDir) {
    const refs = await referenceCentroids(ctx as JobContext<unknown>, promptEmb, p.referenceDir, false, 0.8, 0.95);
    const { inferCategories } = await import('../../detect/categories');
    const inf = await inferCategories(matrix, refs);
    const C = inf.categories.length;
    const updates = rows
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.categorySource === 'none' || r.categorySource === 'inferred')
      .map(({ r, i }) => ({
        id: r.id,
        categories: inf.labels[i]!,
        scores: Object.fromEntries(inf.categories.map((c, k) => [c, Math.round(inf.scores[i * C + k]! * 1000) / 1000])),
      }));
    ctx.db.transaction(() => store.setInferredCategories(updates))();
    categoriesInferred = updates.length;
  } else if (!settings.inferCategories) {
    const cleared = store.clearInferredCategories(p.datasetId);
    if (cleared) ctx.log(`cleared the inferred harm categories of ${cleared} records set by an earlier analysis`);
  }
  ctx.progress(1, 'done');
  return {
    records: rows.length,
    embeddedNow: computed,
    behaviour: store.behaviourCounts(p.datasetId),
    categoriesInferred,
    settings,
  };
}

/** T1–T4 for every record, committed batch by batch with the checkpoint. */
async function typeRecords(
  settings: AnalyseSettings,
  cp: Checkpoint,
  ctx: JobContext<Checkpoint>,
  store: DatasetStore,
  rows: ReturnType<DatasetStore['analysisRows']>,
  embedder: Embedder,
): Promise<void> {
  const { classifyBehaviour } = await import('../../detect/behaviour');
  for (let s = cp.typed; s < rows.length; s += BATCH) {
    ctx.throwIfCancelled();
    const batch = rows.slice(s, s + BATCH);
    const types = await classifyBehaviour(batch, { embedder, ...(settings.promptsHarmful ? { knownHarmful: true } : {}) });
    ctx.db.transaction(() => {
      store.setBehaviour(
        types.map((t, k) => ({ id: batch[k]!.id, behaviour: t.type, confidence: t.confidence, harm: t.harmProbability, refusal: t.refusalProbability })),
      );
      ctx.saveCheckpoint({ typed: Math.min(rows.length, s + BATCH) });
    })();
    ctx.progress(0.3 + (0.5 * Math.min(rows.length, s + BATCH)) / rows.length, `typed ${Math.min(rows.length, s + BATCH)} of ${rows.length}`);
  }
}
