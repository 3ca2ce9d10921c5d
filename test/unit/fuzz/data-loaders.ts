/**
 * Loaders for the data-import fuzz test (run inside the fuzz harness's child process). Each runs a
 * real import entry point over the whole file:
 *   read    detectContainer + readRows to the end (what previews, detection and eval suites use);
 *   import  openImport (format detection) + every item of its stream;
 *   job     the data.import job's own code (fingerprint, detection, batches into a real workspace
 *           database, duplicate marking), with a job context like the worker's.
 * Loader names are `<format>:<kind>` (the format only labels the fuzz table; every loader detects
 * the container from the file name like the app does). The database lives under
 * SAFETUNE_FUZZ_DB_DIR, one file per host process.
 */
import { join } from 'node:path';
import type { JobContext } from '../../../src/main/jobs/define';
import { dataImportJob } from '../../../src/main/jobs/types/dataImport';
import { openDatabase, type Db } from '../../../src/main/db/database';
import { JobStore, saveCheckpoint } from '../../../src/main/db/jobs';
import { ProjectStore } from '../../../src/main/db/projects';
import { openImport } from '../../../src/main/data/import';
import { detectContainer, readRows } from '../../../src/main/data/readers';
import { LOADER_KINDS, type LoaderKind } from './data-cases';

async function read(file: string): Promise<number> {
  let n = 0;
  for await (const _ of readRows(file, await detectContainer(file))) n++;
  return n;
}

async function importFile(file: string): Promise<number> {
  const opened = await openImport(file);
  let n = 0;
  for await (const _ of opened.items) n++;
  return n;
}

let db: Db | null = null;
function database(): Db {
  if (!db) {
    const dir = process.env.SAFETUNE_FUZZ_DB_DIR;
    if (!dir) throw new Error('SAFETUNE_FUZZ_DB_DIR is not set');
    db = openDatabase(join(dir, `fuzz-${process.pid}.db`)).db;
  }
  return db;
}

async function job(file: string): Promise<unknown> {
  const d = database();
  // A project per case: the same bytes imported twice would only be recognised, not read.
  const projectId = new ProjectStore(d).create(`fuzz ${Date.now()} ${Math.random()}`).id;
  const params = { projectId, path: file, role: 'task' as const };
  const jobId = new JobStore(d).insert({ projectId, type: dataImportJob.type, title: dataImportJob.title(params), params }).id;
  const ctx: JobContext<unknown> = {
    jobId,
    db: d,
    progress: () => {},
    stream: () => {},
    log: () => {},
    cancelled: () => false,
    throwIfCancelled: () => {},
    signal: new AbortController().signal,
    saveCheckpoint: (state) => saveCheckpoint(d, jobId, state),
  };
  return dataImportJob.run(params, ctx as JobContext<never>);
}

const kinds: Record<LoaderKind, (file: string) => Promise<unknown>> = { read, import: importFile, job };
const FORMATS = ['jsonl', 'json', 'csv', 'tsv', 'parquet', 'other'];

const loaders: Record<string, (file: string) => Promise<unknown>> = {};
for (const f of FORMATS) {
  for (const k of LOADER_KINDS) {
    loaders[`${f}:${k}`] = kinds[k];
    loaders[`${f}.gz:${k}`] = kinds[k];
  }
}
export default loaders;
