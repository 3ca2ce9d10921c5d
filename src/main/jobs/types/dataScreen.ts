import { DATASET_ROLE_LABELS, DataScreenParams, type DataScreenResult } from '../../../shared/data';
import { DatasetStore } from '../../db/datasets';
import { screenForPoison } from '../../detect/poisonScreen';
import { defineJob, type JobContext } from '../define';
import { workspaceEmbedder } from '../workspaceResources';

/** The rows a screen lists (the most suspicious; the count of all flagged rows is in the log). */
const MAX_LISTED = 5000;

/**
 * Screens a data set for poisoned rows — harmful requests with compliant responses (T2), the rows a
 * fine-tuning provider drops before training on a user's upload — with the shipped detectors,
 * requiring by default that a flagged row is also unlike the rest of the data
 * (src/main/detect/poisonScreen.ts). Lists the flagged records, most suspicious first; nothing is
 * changed (the Data tab's "Drop" removes the ones the user chooses).
 */
export const dataScreenJob = defineJob<DataScreenParams, null, DataScreenResult>({
  type: 'data.screen',
  heavy: true,
  params: DataScreenParams,
  title: (p, names) => `Screen ${names.dataset(p.datasetId) ?? `data set ${p.datasetId}`} for poisoned rows`,
  run: (p, ctx) => screen(p, ctx),
  resume: (p, _cp, ctx) => screen(p, ctx),
});

async function screen(p: DataScreenParams, ctx: JobContext<null>): Promise<DataScreenResult> {
  const store = new DatasetStore(ctx.db);
  const ds = store.get(p.datasetId);
  if (ds.projectId !== p.projectId) throw new Error(`data set ${p.datasetId} belongs to another project`);
  if (ds.state !== 'ready') throw new Error(`data set ${p.datasetId} is ${ds.state}: import it first`);
  const rows = store.analysisRows(p.datasetId).filter((r) => r.response.trim() !== '');
  if (ds.role !== 'task')
    ctx.log(`${DATASET_ROLE_LABELS[ds.role]}: a screen looks for harmful requests answered compliantly, which only task data should be free of`);
  const embedder = await workspaceEmbedder(ctx.db, ctx as JobContext<unknown>, [0, 0.1]);
  ctx.progress(0.1, `screening ${rows.length} rows`);
  const out = await screenForPoison(rows, {
    embedder,
    typicality: p.typicality,
    onProgress: (done, total) => {
      ctx.throwIfCancelled();
      ctx.progress(0.1 + (0.9 * done) / total, `screened ${done} of ${total} rows`);
    },
  });
  ctx.log(
    `${out.flagged.length} of ${rows.length} rows look like harmful requests answered compliantly${p.typicality ? ' and unlike the rest of the data' : ''}`,
  );
  return {
    datasetId: p.datasetId,
    total: rows.length,
    flagged: out.flagged.slice(0, MAX_LISTED).map((f) => {
      const r = rows[f.index]!;
      return {
        recordId: r.id,
        prompt: r.prompt,
        response: r.response,
        score: f.score,
        harmProbability: f.harmProbability,
        refusalProbability: f.refusalProbability,
        atypicality: f.atypicality,
      };
    }),
  };
}
