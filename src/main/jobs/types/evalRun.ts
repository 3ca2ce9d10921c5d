import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { EvalRunParams, JUDGES, type JudgeId, type JudgeRow, type ModelSpec, type SuiteSpec } from '../../../shared/eval';
import { DATASET_ROLE_LABELS } from '../../../shared/data';
import { evaluatedModelName } from '../../../shared/naming';
import { DatasetStore } from '../../db/datasets';
import { EvalStore } from '../../db/evaluations';
import type { JudgeDeps } from '../../eval/judges';
import type { Generator, Judge, Suite } from '../../eval/types';
import { defineJob, ENGINE_JOB_HEAP_MB, ENGINE_YOUNG_GENERATION_MB, type JobContext } from '../define';
import { storeNames, type JobNames } from '../names';
import { engineCacheDir, openGenerator, referenceCentroids, workspaceEmbedder } from '../workspaceResources';

interface Checkpoint {
  runId: number;
}

/** A suite left out of a run, and why. */
interface FailedSuite {
  suite: string;
  error: string;
}

export interface EvalRunResult {
  runId: number;
  done: number;
  skipped: number;
  total: number;
  failedSuites: FailedSuite[];
}

/**
 * Evaluates a model (local engine, or an OpenAI-compatible server) on safety, over-refusal and task
 * suites with the chosen judges. Every finished batch of examples is stored at once; a resumed run
 * skips what is stored and never generates it again. The settings, generator, judge versions and
 * suite versions are recorded with the run.
 */
export const evalRunJob = defineJob<EvalRunParams, Checkpoint, EvalRunResult>({
  type: 'eval.run',
  heavy: true,
  youngGenerationMb: ENGINE_YOUNG_GENERATION_MB,
  heapMb: ENGINE_JOB_HEAP_MB,
  params: EvalRunParams,
  title: (p, names) => `Evaluate ${modelLabel(p.model, names)} on ${p.suites.map((s) => suiteLabel(s, names)).join(', ')}`,
  run: (p, ctx) => evaluate(p, null, ctx),
  resume: (p, cp, ctx) => evaluate(p, cp, ctx),
});

function suiteLabel(s: SuiteSpec, names: JobNames): string {
  if ('builtin' in s) return s.builtin;
  if ('dataset' in s) return names.dataset(s.dataset) ?? `data set ${s.dataset}`;
  return s.id ?? basename(s.file);
}

/** The evaluated model, named: base (no adapter), a workbench training run, or a server's model. */
function modelLabel(m: ModelSpec, names: JobNames): string {
  if (m.kind === 'http') return m.model;
  return evaluatedModelName(m.path, m.adapterPath ? { path: m.adapterPath, run: names.trainRunForAdapter(m.adapterPath) ?? null } : null);
}

async function evaluate(p: EvalRunParams, cp: Checkpoint | null, ctx: JobContext<Checkpoint>): Promise<EvalRunResult> {
  const store = new EvalStore(ctx.db);
  const eval_ = await import('../../eval');
  const names = storeNames(ctx.db);
  let run = cp ? store.findRun(cp.runId) : undefined;
  if (!run) {
    run = store.createRun(p.projectId, p.name ?? defaultName(p, names), p, ctx.jobId);
    ctx.saveCheckpoint({ runId: run.id });
  } else ctx.log(`resuming run ${run.id}: ${store.count(run.id)} examples already stored`);

  ctx.progress(null, 'loading suites');
  // A suite that cannot be read fails alone: the run goes on with the others and records why.
  const suites: Suite[] = [];
  const failedSuites: FailedSuite[] = [];
  for (const spec of p.suites) {
    try {
      const suite = await loadSpec(p.projectId, spec, ctx);
      for (const issue of suite.issues.slice(0, 20)) ctx.log(`${basename(issue.file)}:${issue.line ?? `row ${issue.row + 1}`}: ${issue.reason}`);
      if (suite.items.length === 0)
        throw new Error(
          `suite "${suite.id}" has no usable items${suite.issues[0] ? ` (${suite.issues.length} row(s) skipped, first: ${suite.issues[0].reason})` : ''}`,
        );
      suites.push(p.limit ? eval_.subsetSuite(suite, p.limit, p.limitSeed) : suite);
    } catch (e) {
      const failed = { suite: suiteLabel(spec, names), error: (e as Error).message };
      failedSuites.push(failed);
      ctx.log(`suite ${failed.suite} left out: ${failed.error}`);
    }
  }
  if (suites.length === 0) throw new Error(failedSuites.map((f) => `${f.suite}: ${f.error}`).join('; '));
  await categoriseHarmful(p, suites, ctx);

  ctx.progress(null, 'loading the model');
  const cacheDir = engineCacheDir(ctx.db);
  const opened = await openGenerator(p.model, p.batchSize, cacheDir, ctx.db);
  const generator: Generator = opened.generator;
  let release = opened.release;
  try {
    const rows = p.judges.map((id) => [id, JUDGES[id] as JudgeRow] as const);
    const embedder = rows.some(([, row]) => row.embedder) ? await (await import('../../embed/staticVectors')).createDefaultEmbedder() : undefined;
    let guard: JudgeDeps['guard'];
    if (p.guardModel && rows.some(([, row]) => row.guardModel)) {
      ctx.progress(null, 'loading the judge model');
      const opened = await openGenerator(p.guardModel, p.batchSize, cacheDir, ctx.db);
      const prev = release;
      release = async () => {
        await opened.release();
        await prev();
      };
      guard = { generator: opened.generator, scorer: opened.generator, batchSize: p.batchSize };
    }
    const deps = { ...(embedder ? { embedder } : {}), ...(guard ? { guard } : {}) };
    const judges: Judge[] = rows.map(([id]) => eval_.createJudge(id, deps, p.judgeParams[id]));
    // judges added to every run with a suite of their kind (the task scorer)
    for (const [id, row] of Object.entries(JUDGES) as [string, JudgeRow][]) {
      if (row.automaticFor && !p.judges.includes(id as JudgeId) && suites.some((s) => s.kind === row.automaticFor)) judges.push(eval_.createJudge(id, deps));
    }
    const settings = {
      generation: { ...p.sampling },
      batchSize: p.batchSize,
      promptFormat: p.promptFormat,
    };
    const description = eval_.describeRun({ generator, suites, judges, settings });
    store.describe(run.id, generator.id, [{ ...description, failedSuites }]);

    const position = new Map<string, number>();
    for (const s of suites) s.items.forEach((it, i) => position.set(`${s.id}\u0000${it.id}`, i));
    const done = store.doneKeys(run.id);
    const runId = run.id;
    const result = await eval_.runEvaluation({
      generator,
      suites,
      judges,
      settings,
      isDone: (suiteId, itemId) => done.has(`${suiteId}\u0000${itemId}`),
      onBatch: (records, prog) => {
        store.insertRecords(
          runId,
          records.map((record) => ({ position: position.get(`${record.suiteId}\u0000${record.itemId}`) ?? 0, record })),
        );
        const finished = prog.done + prog.skipped;
        ctx.progress(finished / Math.max(1, prog.total), `${finished} of ${prog.total} examples`);
      },
      shouldStop: ctx.cancelled,
      signal: ctx.signal,
    });
    ctx.throwIfCancelled();
    return { runId, done: result.done, skipped: result.skipped, total: result.total, failedSuites };
  } finally {
    await release();
  }
}

/**
 * Harm categories for the harmful suites' prompts that have none (AdvBench; STL items tagged
 * "crime"), inferred in place with the curation detector against the reference prompts, so
 * per-category attack success is measured; without reference prompts the suite says so in its notes.
 */
async function categoriseHarmful(p: EvalRunParams, suites: Suite[], ctx: JobContext<Checkpoint>): Promise<void> {
  const eval_ = await import('../../eval');
  if (!suites.some((s) => eval_.uncategorisedHarmful(s) > 0)) return;
  const dir = referenceFolder(p);
  if (!dir) {
    suites.forEach((s, i) => (suites[i] = eval_.noteMissingCategories(s)));
    ctx.log('harm categories of uncategorised harmful prompts not inferred: no reference prompts folder was given or found under the data folder');
    return;
  }
  ctx.progress(null, 'inferring harm categories');
  const embedder = await workspaceEmbedder(ctx.db, ctx as JobContext<unknown>);
  const references = await referenceCentroids(ctx as JobContext<unknown>, embedder, dir, false, 0, 0);
  for (let i = 0; i < suites.length; i++) {
    const n = eval_.uncategorisedHarmful(suites[i]!);
    if (!n) continue;
    suites[i] = await eval_.inferSuiteCategories(suites[i]!, { embedder, references });
    ctx.log(`${suites[i]!.id}: harm categories of ${n} prompt(s) inferred from the reference prompts in ${dir}`);
  }
}

/** The reference prompts folder given, or the one under a built-in suite's data folder. */
function referenceFolder(p: EvalRunParams): string | null {
  if (p.referenceDir) return p.referenceDir;
  for (const s of p.suites) {
    if (!('builtin' in s)) continue;
    const dir = join(s.dataDir, 'reference', 'beavertails-unsafe-prompts');
    if (existsSync(dir)) return dir;
  }
  return null;
}

function defaultName(p: EvalRunParams, names: JobNames): string {
  return `${modelLabel(p.model, names)} · ${p.suites.map((s) => suiteLabel(s, names)).join(', ')}`;
}

/** One suite of the run, loaded: a built-in, a data set imported into the project, or a file. */
async function loadSpec(projectId: number, spec: SuiteSpec, ctx: JobContext<Checkpoint>): Promise<Suite> {
  const eval_ = await import('../../eval');
  if ('builtin' in spec) return eval_.loadBuiltinSuite(spec.builtin, spec.dataDir);
  if ('dataset' in spec) {
    const datasets = new DatasetStore(ctx.db);
    const ds = datasets.get(spec.dataset);
    if (ds.projectId !== projectId) throw new Error(`data set ${spec.dataset} belongs to another project`);
    const kind = ds.role === 'harmful_eval' ? 'harmful' : ds.role === 'benign_eval' ? 'over-refusal' : null;
    if (!kind) throw new Error(`${ds.name} was imported as ${DATASET_ROLE_LABELS[ds.role].toLowerCase()}, not as harmful or benign evaluation prompts`);
    if (ds.state !== 'ready') throw new Error(`${ds.name} is ${ds.state === 'importing' ? 'still being imported' : 'a failed import'}`);
    return eval_.importedPromptsSuite({ id: ds.name, title: ds.name, kind, file: ds.sourcePath }, datasets.roleRecords(projectId, ds.role, [ds.id]));
  }
  return eval_.loadUserSuiteFile(spec.file, {
    kind: spec.kind,
    ...(spec.id ? { id: spec.id } : {}),
    ...(spec.promptColumn ? { promptColumn: spec.promptColumn } : {}),
    ...(spec.referenceColumn ? { referenceColumn: spec.referenceColumn } : {}),
    ...(spec.categoryColumn ? { categoryColumn: spec.categoryColumn } : {}),
    ...(spec.scorer ? { scorer: { kind: spec.scorer } } : {}),
  });
}
