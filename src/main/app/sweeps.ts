/**
 * Coefficient sweeps (safety vs utility): for each α a `merge.run` of aligned + α·(fine-tuned −
 * aligned), then a `model.inspect` that adds the merged model to the Models list, then an `eval.run`
 * of it on the chosen suites. Starting a sweep queues the merges; `followMergeSweeps` queues each
 * point's next step when its job succeeds (and, at start-up, any step a closed app did not queue).
 * A failed or cancelled step stops its point until the user resumes that job.
 */
import { basename, dirname } from 'node:path';
import type { Job } from '../../shared/domain';
import { AppError } from '../../shared/errors';
import { expandMergeSweep, sweepMergeConfig, type MergeModelRef, type MergeSweep, type MergeSweepPoint, type MergeSweepRequest } from '../../shared/merge';
import type { EvalRunParams } from '../../shared/eval';
import { confineJob, confineMergeReads } from '../access/jobs';
import type { AccessPolicy } from '../access/policy';
import { claimNewFolder, modelsFolder, safeStem } from '../util/newFiles';
import type { SweepPointRow, SweepRow, StoredSweepParams } from '../db/sweeps';
import { runWithMetrics } from './evaluations';
import { followJobGroups } from './jobGroups';
import type { Services } from './types';

/**
 * Queues a sweep's merges and records it. `req` is parsed (by the contract, or the CLI's jobParams),
 * its eval settings checked as eval.run checks them. `access`: the caller's policy (the contract);
 * the CLI passes null (it is the user at their own shell).
 */
export function startMergeSweep(s: Services, req: MergeSweepRequest, access: AccessPolicy | null): MergeSweep {
  s.projects.get(req.projectId);
  const { aligned, fineTuned, trainJobId } = sweepModels(s, req);
  // the config of the first α: expandMergeSweep sets each point's lambda
  const config = withMessage(() => sweepMergeConfig(req.method, aligned, fineTuned, req.alphas[0]!, { density: req.density, dtype: req.dtype }));
  let evalSettings = req.eval;
  if (access) {
    confineMergeReads(config, access);
    if (req.eval) {
      // the suites, reference prompts and judge model are checked as the eval.run jobs will read them
      const spec = confineJob(
        { type: 'eval.run', params: { ...req.eval, projectId: req.projectId, model: { kind: 'engine', path: aligned.modelPath } } },
        access,
        'start',
      );
      const { projectId: _project, model: _model, name: _name, ...settings } = spec.params as EvalRunParams;
      evalSettings = settings;
    }
  }
  const name = req.name ?? `${req.method} sweep of ${refName(fineTuned)}`;
  const format = req.format ?? (/\.gguf$/i.test(aligned.modelPath) ? 'gguf' : 'hf');
  const outDir = claimNewFolder(access?.modelsDir ?? modelsFolder(s.workspace), safeStem(`sweep-${name}`, 'sweep'));
  const runs = withMessage(() => expandMergeSweep({ config, parameter: 'lambda', values: req.alphas, outDir, format }));
  const { projectId: _project, name: _name, source: _source, ...rest } = req;
  const stored: StoredSweepParams = { ...rest, ...(evalSettings ? { eval: evalSettings } : {}), aligned, fineTuned, trainJobId };
  const sweep = s.sweeps.create(
    req.projectId,
    name,
    stored,
    outDir,
    runs.map((r, i) => ({ alpha: req.alphas[i]!, modelPath: r.outPath })),
  );
  runs.forEach((r, i) => {
    const job = s.jobs.enqueue('merge.run', { ...r, name: `${name} · α = ${req.alphas[i]}` }, req.projectId);
    s.sweeps.setJob(sweep.id, i, 'merge', job.id);
  });
  s.events.emit('merge.sweepChanged', { sweepId: sweep.id, projectId: req.projectId });
  return mergeSweepView(s, sweep.id);
}

/** The aligned and fine-tuned models of a request: a finished training run's base and adapter, or the two given. */
function sweepModels(s: Services, req: MergeSweepRequest): { aligned: MergeModelRef; fineTuned: MergeModelRef; trainJobId: number | null } {
  if ('aligned' in req.source) return { aligned: req.source.aligned, fineTuned: req.source.fineTuned, trainJobId: null };
  const job = s.jobs.get(req.source.trainJobId);
  if (job.type !== 'train.run') throw new AppError('invalid_input', `Job ${job.id} is a ${job.type} job, not a training run`, { trainJobId: job.id });
  const adapterPath = (job.result as { adapterPath?: unknown } | null)?.adapterPath;
  if (job.state !== 'succeeded' || typeof adapterPath !== 'string') {
    throw new AppError('invalid_input', `Training run ${job.id} has not finished (${job.state}): sweep it once it has written its adapter`, {
      trainJobId: job.id,
    });
  }
  const modelPath = (job.params as { modelPath: string }).modelPath;
  return { aligned: { modelPath }, fineTuned: { modelPath, adapterPath }, trainJobId: job.id };
}

function withMessage<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof AppError) throw e;
    const issues = (e as { issues?: { path: unknown[]; message: string }[] }).issues;
    const message = issues ? issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ') : (e as Error).message;
    throw new AppError('invalid_input', `This sweep cannot be merged: ${message}`);
  }
}

/** A short name for the fine-tuned model: its training run (`train-3`) or its file. */
function refName(r: MergeModelRef): string {
  if (!r.adapterPath) return basename(r.modelPath).replace(/\.gguf$/i, '');
  return basename(r.adapterPath) === 'adapter' ? basename(dirname(r.adapterPath)) : basename(r.adapterPath);
}

/** A project's sweeps, newest first. */
export function mergeSweeps(s: Services, projectId: number): MergeSweep[] {
  s.projects.get(projectId);
  return s.sweeps.list(projectId).map((r) => view(s, r));
}

export function mergeSweepView(s: Services, id: number): MergeSweep {
  return view(s, s.sweeps.get(id));
}

function view(s: Services, r: SweepRow): MergeSweep {
  return {
    id: r.id,
    projectId: r.projectId,
    name: r.name,
    method: r.params.method,
    aligned: r.params.aligned,
    fineTuned: r.params.fineTuned,
    trainJobId: r.params.trainJobId,
    evaluates: r.params.eval !== undefined,
    outDir: r.outDir,
    createdAt: r.createdAt,
    points: s.sweeps.points(r.id).map((p) => pointView(s, p, r.params.eval !== undefined)),
  };
}

function findJob(s: Services, id: number | null): Job | null {
  if (id === null) return null;
  try {
    return s.jobs.get(id);
  } catch {
    return null; // deleted with its project
  }
}

function pointView(s: Services, p: SweepPointRow, evaluates: boolean): MergeSweepPoint {
  const merge = findJob(s, p.mergeJobId);
  const inspect = findJob(s, p.inspectJobId);
  const evaluation = findJob(s, p.evalJobId);
  const evalRunId = p.evalJobId === null ? null : s.sweeps.evalRunOfJob(p.evalJobId);
  const base = {
    alpha: p.alpha,
    modelPath: p.modelPath,
    mergeJobId: p.mergeJobId,
    inspectJobId: p.inspectJobId,
    evalJobId: p.evalJobId,
    modelId: s.sweeps.modelIdOf(p.modelPath),
    evalRunId,
    summary: null,
  };
  const at = (stage: MergeSweepPoint['stage'], job: Job | null): MergeSweepPoint => ({ ...base, stage, state: job ? job.state : 'waiting' });
  if (merge?.state !== 'succeeded') return at('merge', merge);
  if (inspect?.state !== 'succeeded') return at('register', inspect);
  if (!evaluates) return { ...base, stage: 'done', state: 'succeeded' };
  if (evaluation?.state !== 'succeeded' || evalRunId === null) return at('eval', evaluation);
  return { ...base, stage: 'done', state: 'succeeded', summary: runWithMetrics(s, evalRunId).summary };
}

/**
 * Queues the next step of every point of a sweep whose current step has succeeded. Idempotent: a
 * step is queued once (its job id is recorded), however often this runs.
 */
export function advanceMergeSweep(s: Services, sweepId: number): boolean {
  const sweep = s.sweeps.get(sweepId);
  let changed = false;
  for (const p of s.sweeps.points(sweepId)) {
    const state = (id: number | null) => findJob(s, id)?.state ?? null;
    if (p.inspectJobId === null && state(p.mergeJobId) === 'succeeded') {
      p.inspectJobId = s.jobs.enqueue('model.inspect', { path: p.modelPath }, sweep.projectId).id;
      s.sweeps.setJob(sweepId, p.position, 'inspect', p.inspectJobId);
      changed = true;
    }
    if (sweep.params.eval && p.evalJobId === null && state(p.inspectJobId) === 'succeeded') {
      // the settings were checked when the sweep started; enqueue validates the job's parameters
      const job = s.jobs.enqueue(
        'eval.run',
        { ...sweep.params.eval, projectId: sweep.projectId, name: `${sweep.name} · α = ${p.alpha}`, model: { kind: 'engine', path: p.modelPath } },
        sweep.projectId,
      );
      s.sweeps.setJob(sweepId, p.position, 'eval', job.id);
      changed = true;
    }
  }
  return changed;
}

/**
 * Follows the jobs of every sweep: when one finishes, the sweep's next steps are queued and
 * `merge.sweepChanged` is emitted. Steps left unqueued by a closed app are queued now. Returns the
 * unsubscribe function.
 */
export function followMergeSweeps(s: Services): () => void {
  return followJobGroups(s, {
    what: 'sweep',
    groupOfJob: (jobId) => s.sweeps.sweepOfJob(jobId),
    unfinished: () => s.sweeps.unfinished(),
    advance: (id) => {
      advanceMergeSweep(s, id);
      s.events.emit('merge.sweepChanged', { sweepId: id, projectId: s.sweeps.get(id).projectId });
    },
    onJobEnded: (job) => {
      if (job.type === 'model.inspect' && job.state === 'succeeded') s.events.emit('models.changed', {});
    },
  });
}
