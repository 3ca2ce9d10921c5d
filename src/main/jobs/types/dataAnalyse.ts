import { analyseSettings, DataAnalyseParams, type AnalyseSettings } from '../../../shared/select';
import { DATASET_ROLE_LABELS } from '../../../shared/data';
import { CURATION_JUDGES, type ModelJudgeId } from '../../../shared/methods/curationJudges';
import type { ModelSpec } from '../../../shared/eval';
import { DatasetStore } from '../../db/datasets';
import { JudgeVerdictStore } from '../../db/judgeVerdicts';
import { defineJob, ENGINE_JOB_HEAP_MB, type JobContext } from '../define';
import type { Embedder } from '../../embed/types';
import { type AnalyseRows, CURATION_JUDGE_IMPLS } from './analyseJudges';
import { embedWithProgress, engineCacheDir, openGenerator, promptEmbedder, referenceCentroids, workspaceEmbedder } from '../workspaceResources';

interface Checkpoint {
  /** Records typed so far (index into the data set's records in id order). */
  typed: number;
  /** Records the model judge has judged so far (same order); absent before the judge starts. */
  judged?: number;
}

const BATCH = 1000;
/** Records a model judge judges per committed batch (and the generator's batch within it). */
const JUDGE_BATCH = 32;
const JUDGE_GENERATE_BATCH = 8;

type Rows = AnalyseRows;

/** What a model judge did in this analysis (counted over its stored verdicts, so a resumed run counts them all). */
export interface JudgeSummary {
  judge: ModelJudgeId;
  /** The judge's full id: prompt format, mapping version and model. */
  model: string;
  judged: number;
  parseErrors: number;
  failures: number;
  noVerdict: number;
  /** Share of records with a judge verdict whose T1–T4 type equals the built-in detectors'. */
  agreement: number | null;
}

export interface AnalyseResult {
  records: number;
  embeddedNow: number;
  behaviour: Record<string, number>;
  categoriesInferred: number;
  /** What this analysis did: the options given, the data set role's defaults for the rest. */
  settings: AnalyseSettings;
  /** The model judge's run, when one was chosen. */
  judge?: JudgeSummary;
}

/**
 * Analyses a data set: embeds its prompts (cached); then, as its role calls for unless the options
 * say otherwise (ANALYSE_DEFAULTS: a safety pool is harmful by construction and typed, task data is
 * only embedded), types each pair T1–T4 with the prompt-harm and refusal detectors and — given
 * reference prompts — infers harm categories for records without labels. A step that is off clears
 * what the detectors set earlier; a user's correction is always kept. Typing is committed batch by
 * batch with its checkpoint.
 *
 * With a model judge (WildGuard, Llama Guard 3: CURATION_JUDGES) every record is also judged by
 * that model, and its verdicts are stored beside the built-in detectors' (judge_verdicts) for the
 * agreement view; the records' own labels change only when the user keeps the judge's. An answer
 * the judge wrote out of its format, or a failed call, is stored and counted as such, never as a label.
 */
export const dataAnalyseJob = defineJob<DataAnalyseParams, Checkpoint, AnalyseResult>({
  type: 'data.analyse',
  heavy: true,
  // a model judge may run on the engine in this thread
  heapMb: ENGINE_JOB_HEAP_MB,
  params: DataAnalyseParams,
  title: (p, names) =>
    `Analyse ${names.dataset(p.datasetId) ?? `data set ${p.datasetId}`}${p.judge && p.judge !== 'builtin' ? ` with ${CURATION_JUDGES[p.judge].label}` : ''}`,
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
  ctx.log(
    `${DATASET_ROLE_LABELS[ds.role]}: ${describeSettings(settings, p.referenceDir)}${judgeOf(p) ? `; judged by ${CURATION_JUDGES[judgeOf(p)!].label} too` : ''}`,
  );
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
  rows: Rows,
  embedder: Embedder,
  promptEmb: Embedder,
): Promise<AnalyseResult> {
  const judge = judgeOf(p);
  const { matrix, computed } = await embedWithProgress(
    ctx as JobContext<unknown>,
    promptEmb,
    rows.map((r) => r.prompt),
    'prompts',
    0.1,
    0.3,
  );
  store.setEmbedder(p.datasetId, promptEmb.id);

  if (settings.typeBehaviour) await typeRecords(settings, cp, ctx, store, rows, embedder, judge ? 0.45 : 0.8);
  else {
    const cleared = store.clearDetectorBehaviour(p.datasetId);
    if (cleared) ctx.log(`cleared the behaviour types of ${cleared} records set by an earlier analysis`);
  }
  const judged = judge ? await judgeRecords(p, judge, p.judgeModel!, settings, cp, ctx, rows, embedder, [0.45, 0.8]) : undefined;

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
    ...(judged ? { judge: judged } : {}),
  };
}

/** The model judge asked for, if any. */
function judgeOf(p: DataAnalyseParams): ModelJudgeId | null {
  return p.judge && p.judge !== 'builtin' ? p.judge : null;
}

/** T1–T4 for every record, committed batch by batch with the checkpoint. */
async function typeRecords(
  settings: AnalyseSettings,
  cp: Checkpoint,
  ctx: JobContext<Checkpoint>,
  store: DatasetStore,
  rows: Rows,
  embedder: Embedder,
  until: number,
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
    ctx.progress(0.3 + ((until - 0.3) * Math.min(rows.length, s + BATCH)) / rows.length, `typed ${Math.min(rows.length, s + BATCH)} of ${rows.length}`);
  }
}

/**
 * Every record judged by the model judge, batch by batch: its verdicts stored beside the built-in
 * detectors' types for the same records (computed here, with the same settings), each batch
 * committed with the checkpoint. A fresh run first drops that judge's earlier verdicts.
 */
async function judgeRecords(
  p: DataAnalyseParams,
  judge: ModelJudgeId,
  model: ModelSpec,
  settings: AnalyseSettings,
  cp: Checkpoint,
  ctx: JobContext<Checkpoint>,
  rows: Rows,
  embedder: Embedder,
  [from, to]: [number, number],
): Promise<JudgeSummary> {
  const verdicts = new JudgeVerdictStore(ctx.db);
  const start = cp.judged ?? 0;
  if (start === 0) verdicts.clear(p.datasetId, judge);
  // a run resumed after its judge pass (e.g. in category inference) loads no model
  const judgeModel = start < rows.length ? await judgeAll(p, judge, model, settings, start, ctx, rows, embedder, verdicts, [from, to]) : '';
  return summarise(judge, verdicts.verdicts(p.datasetId, judge), judgeModel, ctx);
}

/** Judges rows[start…] batch by batch; returns the judge's full id. */
async function judgeAll(
  p: DataAnalyseParams,
  judge: ModelJudgeId,
  model: ModelSpec,
  settings: AnalyseSettings,
  start: number,
  ctx: JobContext<Checkpoint>,
  rows: Rows,
  embedder: Embedder,
  verdicts: JudgeVerdictStore,
  [from, to]: [number, number],
): Promise<string> {
  ctx.progress(from, `loading the judge model (${CURATION_JUDGES[judge].label})`);
  const opened = await openGenerator(model, JUDGE_GENERATE_BATCH, engineCacheDir(ctx.db), ctx.db);
  let judgeModel = '';
  try {
    const judgeBatch = await CURATION_JUDGE_IMPLS[judge]({
      generator: opened.generator,
      settings,
      embedder,
      signal: ctx.signal,
      generateBatch: JUDGE_GENERATE_BATCH,
    });
    judgeModel = judgeBatch.id;
    for (let s = start; s < rows.length; s += JUDGE_BATCH) {
      ctx.throwIfCancelled();
      const batch = rows.slice(s, s + JUDGE_BATCH);
      const out = await judgeBatch.run(batch);
      const done = Math.min(rows.length, s + JUDGE_BATCH);
      ctx.db.transaction(() => {
        verdicts.put(p.datasetId, judge, judgeModel, ctx.jobId, out);
        ctx.saveCheckpoint({ typed: rows.length, judged: done });
      })();
      ctx.progress(from + ((to - from) * done) / rows.length, `judged ${done} of ${rows.length} with ${CURATION_JUDGES[judge].label}`);
    }
  } finally {
    await opened.release();
  }
  return judgeModel;
}

/** Counts of the stored verdicts, the first problems logged with the judge's answers. */
function summarise(judge: ModelJudgeId, stored: ReturnType<JudgeVerdictStore['verdicts']>, judgeModel: string, ctx: JobContext<Checkpoint>): JudgeSummary {
  const count = (k: string) => stored.filter((v) => v.error?.kind === k).length;
  const typed = stored.filter((v) => v.behaviour !== null);
  const summary: JudgeSummary = {
    judge,
    model: stored[0]?.judgeModel ?? judgeModel,
    judged: stored.length,
    parseErrors: count('parse'),
    failures: count('failure'),
    noVerdict: count('no-verdict'),
    agreement: typed.length ? typed.filter((v) => v.behaviour === v.builtinBehaviour).length / typed.length : null,
  };
  const problems = stored.filter((v) => v.error);
  if (problems.length) {
    ctx.log(
      `${CURATION_JUDGES[judge].label} gave no verdict on ${problems.length} of ${stored.length} records: ${summary.parseErrors} answers not in its format, ${summary.failures} failed calls, ${summary.noVerdict} without a verdict`,
    );
    for (const v of problems.slice(0, 5))
      ctx.log(`  record ${v.recordId}: ${v.error!.message}${v.raw !== null ? ` — answer: ${JSON.stringify(v.raw.slice(0, 160))}` : ''}`);
  }
  return summary;
}
