import { basename } from 'node:path';
import { Behaviour, DataImportParams, type DataImportResult } from '../../../shared/data';
import { AppError } from '../../../shared/errors';
import { DatasetStore, type NewRecord } from '../../db/datasets';
import { fingerprintFile } from '../../data/fingerprint';
import { findNearDuplicates } from '../../data/dedupe';
import { DataFileError, fileSize, type ContainerFormat } from '../../data/readers';
import { openImport, type ImportCheckpoint } from '../../data/import';
import { defineJob, type JobContext } from '../define';

interface Checkpoint {
  datasetId: number;
  /** Where reading continues; null before the first batch. */
  position: ImportCheckpoint | null;
}

const BATCH = 500;
const FINGERPRINT_BLOCK = 8 * 1024 * 1024;

/**
 * Imports a file as one of a project's data sets: fingerprint (a file already imported for the
 * same role is recognised and not imported twice), detect the format, stream rows into records in
 * batches — each batch committed together with its checkpoint, so an interrupted import resumes
 * after the last committed row — then mark exact and near duplicates.
 */
export const dataImportJob = defineJob<DataImportParams, Checkpoint, DataImportResult>({
  type: 'data.import',
  heavy: true,
  params: DataImportParams,
  title: (p) => `Import ${basename(p.path)} (${p.role.replace('_', ' ')})`,
  run: (p, ctx) => runImport(p, null, ctx),
  resume: (p, cp, ctx) => runImport(p, cp, ctx),
});

async function runImport(p: DataImportParams, cp: Checkpoint | null, ctx: JobContext<Checkpoint>): Promise<DataImportResult> {
  const store = new DatasetStore(ctx.db);
  let dataset = cp ? store.find(cp.datasetId) : undefined;
  const position = dataset ? cp!.position : null;

  if (!dataset) {
    ctx.progress(null, 'fingerprinting the file');
    const fp = await fingerprintFile(p.path, FINGERPRINT_BLOCK, {
      check: ctx.throwIfCancelled,
      onBlock: (done, total) => ctx.progress((0.05 * done) / total, 'fingerprinting the file'),
    });
    const existing = store.findByDigest(p.projectId, p.role, fp.blocksDigest);
    if (existing?.state === 'ready') {
      ctx.log(`${basename(p.path)} was already imported as dataset ${existing.id} ("${existing.name}"): nothing to do`);
      return {
        datasetId: existing.id,
        accepted: existing.accepted,
        rejected: existing.rejected,
        exactDuplicates: 0,
        nearDuplicates: 0,
        alreadyImported: true,
      };
    }
    ctx.db.transaction(() => {
      if (existing) store.delete(existing.id); // an earlier import of this file that never finished
      dataset = store.create({
        projectId: p.projectId,
        role: p.role,
        name: p.name ?? basename(p.path),
        sourcePath: p.path,
        fileDigest: fp.blocksDigest,
        sizeBytes: fp.sizeBytes,
        jobId: ctx.jobId,
      });
      ctx.saveCheckpoint({ datasetId: dataset.id, position: null });
    })();
  } else {
    ctx.log(`resuming import into dataset ${dataset.id} after row ${position?.position.row ?? 0}`);
  }
  const ds = dataset!;

  const total = (await fileSize(p.path)) ?? ds.sizeBytes;
  let opened;
  try {
    opened = await openImport(p.path, {
      ...(position ? { resume: position } : {}),
      ...(p.mapping ? { mapping: p.mapping } : {}),
      ...(p.container ? { container: p.container as ContainerFormat } : {}),
      signal: ctx.signal,
    });
  } catch (e) {
    throw new AppError('invalid_input', (e as Error).message);
  }
  if (!position) store.setFormat(ds.id, opened.container, opened.mapping);
  if (opened.detection) ctx.log(`format: ${opened.mapping.format} (${opened.detection.reason})`);

  let records: NewRecord[] = [];
  let rejected: { sourceRow: number; sourceLine: number | null; message: string }[] = [];
  let last: ImportCheckpoint | null = position;
  const flush = () => {
    if (records.length === 0 && rejected.length === 0) return;
    const r = records;
    const j = rejected;
    const at = last;
    ctx.db.transaction(() => {
      store.insertRecords(ds.id, p.projectId, r);
      store.insertRejections(ds.id, j);
      ctx.saveCheckpoint({ datasetId: ds.id, position: at });
    })();
    records = [];
    rejected = [];
    const done = at ? (at.position.byteOffset > 0 ? at.position.byteOffset / Math.max(1, total) : 0) : 0;
    ctx.progress(0.05 + 0.85 * Math.min(1, done), `${at?.accepted ?? 0} records, ${at?.rejected ?? 0} rejected`);
  };

  for await (const item of fileProblemsAsInput(opened.items)) {
    ctx.throwIfCancelled();
    last = item.checkpoint;
    if (item.kind === 'record') {
      const r = item.record;
      const recorded = p.behaviourField ? recordedBehaviour(r.labels, p.behaviourField) : null;
      if (recorded && 'error' in recorded) rejected.push({ sourceRow: r.sourceRow, sourceLine: r.sourceLine, message: recorded.error });
      else
        records.push({
          sourceRow: r.sourceRow,
          sourceLine: r.sourceLine,
          prompt: r.prompt,
          response: r.response,
          contentHash: r.contentHash,
          categories: r.categories,
          labels: r.labels,
          ...(recorded ? { behaviour: recorded.behaviour } : {}),
        });
    } else {
      rejected.push({ sourceRow: item.rejected.row, sourceLine: item.rejected.line, message: item.rejected.message });
    }
    if (records.length + rejected.length >= BATCH) flush();
  }
  flush();

  ctx.progress(0.92, 'finding duplicates');
  const exactDuplicates = store.markExactDuplicates(ds.id);
  const prompts = store.prompts(ds.id);
  const near = findNearDuplicates(prompts.map((x) => x.prompt));
  const pairs: [number, number][] = [];
  near.representative.forEach((rep, i) => {
    if (rep !== i) pairs.push([prompts[i]!.id, prompts[rep]!.id]);
  });
  ctx.db.transaction(() => {
    store.setNearDuplicates(pairs);
    store.finish(ds.id, 'ready');
  })();
  const final = store.get(ds.id);
  ctx.progress(1, `${final.accepted} records, ${final.rejected} rejected`);
  return {
    datasetId: ds.id,
    accepted: final.accepted,
    rejected: final.rejected,
    exactDuplicates,
    nearDuplicates: pairs.length,
    alreadyImported: false,
  };
}

/**
 * The behaviour type a row records in `field`: T1–T4 (case and spaces ignored); null when the row
 * has none (Analyse types it); an error naming the field for any other value.
 */
export function recordedBehaviour(labels: Record<string, unknown>, field: string): { behaviour: Behaviour } | { error: string } | null {
  const v = labels[field];
  if (v === undefined || v === null || (typeof v === 'string' && v.trim() === '')) return null;
  const t = Behaviour.safeParse(typeof v === 'string' ? v.trim().toUpperCase() : v);
  if (t.success) return { behaviour: t.data };
  return { error: `field "${field}" (the recorded behaviour type) is ${JSON.stringify(v).slice(0, 80)}; expected T1, T2, T3 or T4` };
}

/** The items, with a problem of the whole file met mid-way (corrupt gzip, a file cut short) reported as bad input. */
async function* fileProblemsAsInput<T>(items: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* items;
  } catch (e) {
    if (e instanceof DataFileError) throw new AppError('invalid_input', e.message);
    throw e;
  }
}
