/**
 * Experiment grids: arms × seeds as one job group. Per cell an optional `select.run` (the arm's
 * selection method at its budget and the cell's seed; the selection it makes is kept under the
 * grid's name), a `train.run` with the cell's stored parameters, then an `eval.run` of what it
 * wrote (the adapter on the grid's model, or the new model of a full-parameter run, which the
 * training job adds to the Models list itself) on the grid's suites. Starting a grid queues each
 * cell's first step; `followExperiments` queues the next when a job succeeds (and, at start-up, any
 * step a closed app did not queue). A failed or cancelled step stops its cell until that job is
 * resumed. `experimentSummary` aggregates the evaluated cells per arm over seeds.
 */
import type { Job } from '../../shared/domain';
import { AppError } from '../../shared/errors';
import { EvalRunParams, type Rate } from '../../shared/eval';
import {
  cellSelectParams,
  cellTrainParams,
  ExperimentRequest,
  type Experiment,
  type ExperimentArm,
  type ExperimentCell,
  type ExperimentRequestInput,
  type ExperimentArmSummary,
  type ExperimentSummary,
  savedSelectionOf,
  selectionRunOf,
  type Estimate as EstimateView,
} from '../../shared/experiments';
import type { TrainRunParams } from '../../shared/train';
import { confineJob } from '../access/jobs';
import type { AccessPolicy } from '../access/policy';
import type { ExperimentCellRow, ExperimentRow } from '../db/experiments';
import { estimate, type Estimate } from '../eval';
import { runWithMetrics } from './evaluations';
import { followJobGroups } from './jobGroups';
import type { Services } from './types';

const STOPPED = new Set(['failed', 'cancelled', 'interrupted']);

/**
 * Checks a grid, records it and queues each cell's first step. `access`: the caller's policy (the
 * contract); the CLI passes null (it is the user at their own shell).
 */
export function startExperiment(s: Services, input: ExperimentRequestInput | Record<string, unknown>, access: AccessPolicy | null): Experiment {
  const parsed = ExperimentRequest.safeParse(input);
  if (!parsed.success) throw new AppError('invalid_input', parsed.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '));
  const req = parsed.data;
  s.projects.get(req.projectId);
  for (const arm of req.arms) {
    const saved = savedSelectionOf(arm);
    if (saved !== null) checkSelection(s, req.projectId, saved);
  }
  const name = req.name ?? `Grid of ${req.arms.length} arms × ${req.seeds.length} seeds`;
  const cells = req.arms.flatMap((arm) => req.seeds.map((seed) => ({ arm, seed })));
  const planned = cells.map(({ arm, seed }) => {
    const saved = savedSelectionOf(arm);
    const train = cellTrainParams({ ...req, name }, arm, seed, saved ?? undefined);
    if (!train.success)
      throw new AppError('invalid_input', `arm ${arm.name}: ${train.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return { arm: arm.name, seed, trainParams: train.data, selectionId: saved };
  });
  let stored = req;
  if (access) {
    // every job the grid will queue, checked as it will be queued (the cells differ only in seed and selection)
    for (const p of planned) confineJob({ type: 'train.run', params: p.trainParams }, access, 'start');
    for (const arm of req.arms) {
      const sel = selectSpec(req, arm, req.seeds[0]!);
      if (sel) confineJob({ type: 'select.run', params: sel }, access, 'start');
    }
    const spec = confineJob(
      { type: 'eval.run', params: EvalRunParams.parse({ ...req.eval, projectId: req.projectId, model: { kind: 'engine', path: req.modelPath } }) },
      access,
      'start',
    );
    const { projectId: _project, model: _model, name: _name, ...settings } = spec.params as EvalRunParams;
    stored = { ...req, eval: { ...req.eval, ...settings } };
  }
  const row = s.experiments.create(req.projectId, name, stored, planned);
  s.experiments.cells(row.id).forEach((cell) => {
    const arm = armOf(row, cell);
    const sel = selectSpec(req, arm, cell.seed);
    if (sel) s.experiments.setJob(row.id, cell.position, 'select', s.jobs.enqueue('select.run', sel, req.projectId).id);
    else s.experiments.setJob(row.id, cell.position, 'train', s.jobs.enqueue('train.run', cell.trainParams, req.projectId).id);
  });
  s.events.emit('experiment.changed', { experimentId: row.id, projectId: req.projectId });
  return experimentView(s, row.id);
}

function checkSelection(s: Services, projectId: number, id: number): void {
  const sel = s.selections.get(id);
  if (sel.projectId !== projectId) throw new AppError('invalid_input', `Selection ${id} belongs to another project`, { selectionId: id });
}

/** The select.run parameters of an arm's cell at a seed; null when the arm runs no selection method. */
function selectSpec(req: ExperimentRequest, arm: ExperimentArm, seed: number) {
  const run = selectionRunOf(arm);
  if (!run) return null;
  const sel = cellSelectParams(req.projectId, run, seed);
  if (!sel.success) throw new AppError('invalid_input', `arm ${arm.name}: ${sel.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return sel.data;
}

function armOf(row: ExperimentRow, cell: ExperimentCellRow): ExperimentArm {
  const arm = row.params.arms.find((a) => a.name === cell.arm);
  if (!arm) throw new Error(`experiment ${row.id}: cell ${cell.position} names arm ${cell.arm}, which the grid does not have`);
  return arm;
}

function findJob(s: Services, id: number | null): Job | null {
  if (id === null) return null;
  try {
    return s.jobs.get(id);
  } catch {
    return null; // deleted with its project, or cleared
  }
}

/** The model a finished training run wrote, as eval.run takes it. */
function trainedModel(cell: ExperimentCellRow, job: Job): EvalRunParams['model'] | null {
  const r = job.result as { mode?: string; adapterPath?: unknown; modelPath?: unknown } | null;
  if (r?.mode === 'full' && typeof r.modelPath === 'string') return { kind: 'engine', path: r.modelPath };
  if (typeof r?.adapterPath === 'string') return { kind: 'engine', path: cell.trainParams.modelPath, adapterPath: r.adapterPath };
  return null;
}

/**
 * Queues the next step of every cell of a grid whose current step has succeeded. Idempotent: a step
 * is queued once (its job id is recorded), however often this runs.
 */
export function advanceExperiment(s: Services, experimentId: number): boolean {
  const row = s.experiments.get(experimentId);
  let changed = false;
  for (const cell of s.experiments.cells(experimentId)) {
    if (cell.trainJobId === null) {
      const select = findJob(s, cell.selectJobId);
      const made = (select?.result as { selectionId?: unknown } | null)?.selectionId;
      if (select?.state !== 'succeeded' || typeof made !== 'number') continue;
      keep(s, row, cell, made);
      const params: TrainRunParams = { ...cell.trainParams, selectionId: made };
      s.experiments.setJob(experimentId, cell.position, 'train', s.jobs.enqueue('train.run', params, row.projectId).id);
      changed = true;
      continue;
    }
    if (cell.evalJobId !== null) continue;
    const train = findJob(s, cell.trainJobId);
    if (train?.state !== 'succeeded') continue;
    const model = trainedModel(cell, train);
    if (!model) continue;
    const params = EvalRunParams.parse({
      ...row.params.eval,
      projectId: row.projectId,
      name: `${row.name} · ${cell.arm} · seed ${cell.seed}`.slice(0, 120),
      model,
    });
    s.experiments.setJob(experimentId, cell.position, 'eval', s.jobs.enqueue('eval.run', params, row.projectId).id);
    changed = true;
  }
  return changed;
}

/** Keeps a cell's selection under a name that says which grid, arm and seed it is for. */
function keep(s: Services, row: ExperimentRow, cell: ExperimentCellRow, selectionId: number): void {
  const name = `grid #${row.id} · ${cell.arm} · seed ${cell.seed}`;
  try {
    s.experiments.keepSelection(row.id, cell.position, selectionId, name);
  } catch {
    s.experiments.keepSelection(row.id, cell.position, selectionId, `${name} · selection ${selectionId}`); // the name was taken
  }
}

/** Follows the jobs of every grid: when one finishes, queues the grid's next steps and emits `experiment.changed`. Returns the unsubscribe function. */
export function followExperiments(s: Services): () => void {
  return followJobGroups(s, {
    what: 'experiment',
    groupOfJob: (jobId) => s.experiments.experimentOfJob(jobId),
    unfinished: () => s.experiments.unfinished(),
    advance: (id) => {
      advanceExperiment(s, id);
      s.events.emit('experiment.changed', { experimentId: id, projectId: s.experiments.get(id).projectId });
    },
  });
}

/** Cancels every queued or running job of a grid; its cells stop there (resume a job to go on). */
export async function cancelExperiment(s: Services, id: number): Promise<Experiment> {
  for (const cell of s.experiments.cells(id)) {
    for (const jobId of [cell.selectJobId, cell.trainJobId, cell.evalJobId]) {
      const job = findJob(s, jobId);
      if (job && (job.state === 'queued' || job.state === 'running')) await s.jobs.cancel(job.id);
    }
  }
  return experimentView(s, id);
}

/** A project's grids, newest first. */
export function experiments(s: Services, projectId: number): Experiment[] {
  s.projects.get(projectId);
  return s.experiments.list(projectId).map((r) => view(s, r));
}

export function experimentView(s: Services, id: number): Experiment {
  return view(s, s.experiments.get(id));
}

function view(s: Services, r: ExperimentRow): Experiment {
  const cells = s.experiments.cells(r.id).map((c) => cellView(s, r, c));
  const done = cells.filter((c) => c.stage === 'done').length;
  return {
    id: r.id,
    projectId: r.projectId,
    name: r.name,
    modelPath: r.params.modelPath,
    seeds: r.params.seeds,
    arms: r.params.arms.map((a) => ({
      name: a.name,
      method: String(a.train.method ?? 'plain'),
      mode: String(a.train.mode ?? 'lora'),
      selection: selectionLabel(a),
    })),
    createdAt: r.createdAt,
    state: done === cells.length ? 'done' : cells.some((c) => STOPPED.has(c.state)) ? 'stopped' : 'running',
    done,
    cells,
  };
}

function selectionLabel(a: ExperimentArm): string {
  const saved = savedSelectionOf(a);
  const run = selectionRunOf(a);
  if (saved !== null) return `selection #${saved}`;
  if (!run) return 'none';
  return `${run.method} · ${'count' in run.budget ? run.budget.count : `${+(100 * run.budget.fraction).toFixed(2)}%`}`;
}

function cellView(s: Services, r: ExperimentRow, c: ExperimentCellRow): ExperimentCell {
  const select = findJob(s, c.selectJobId);
  const train = findJob(s, c.trainJobId);
  const evaluation = findJob(s, c.evalJobId);
  const evalRunId = c.evalJobId === null ? null : s.experiments.evalRunOfJob(c.evalJobId);
  const base = {
    arm: c.arm,
    seed: c.seed,
    selectJobId: c.selectJobId,
    trainJobId: c.trainJobId,
    evalJobId: c.evalJobId,
    selectionId: c.selectionId,
    evalRunId,
    summary: null,
  };
  const at = (stage: ExperimentCell['stage'], job: Job | null): ExperimentCell => ({ ...base, stage, state: job ? job.state : 'waiting' });
  const arm = r.params.arms.find((a) => a.name === c.arm);
  const selects = !!arm && selectionRunOf(arm) !== null;
  if (selects && c.trainJobId === null) return at('select', select);
  if (train?.state !== 'succeeded') return at('train', train);
  if (evaluation?.state !== 'succeeded' || evalRunId === null) return at('eval', evaluation);
  return { ...base, stage: 'done', state: 'succeeded', summary: runWithMetrics(s, evalRunId).summary };
}

/** Columns as the papers order them: safety, over-refusal, then utility. */
const KIND_ORDER = ['harmful', 'over-refusal', 'task'];

const nullable = (e: Estimate): EstimateView =>
  Number.isFinite(e.mean) ? { mean: e.mean, low: e.low, high: e.high, n: e.n } : { mean: null, low: null, high: null, n: 0 };

/**
 * Per arm, over its evaluated cells: the mean and 95% interval (Student t over seeds) of attack
 * success, refusal, over-refusal and task score, overall (the runs' headline numbers) and per suite
 * (the primary refusal judge's numbers; the task judge's for task suites).
 */
export function experimentSummary(s: Services, id: number): ExperimentSummary {
  const row = s.experiments.get(id);
  const cells = experimentView(s, id).cells;
  const arms = row.params.arms.map((arm) =>
    armSummary(
      s,
      arm.name,
      cells.filter((c) => c.arm === arm.name && c.stage === 'done' && c.evalRunId !== null).map((c) => c.evalRunId!),
    ),
  );
  return { experimentId: id, name: row.name, arms };
}

/** One arm's summary over finished evaluation runs (one per seed); also a reference row such as the miniature's aligned model. */
export function armSummary(s: Services, name: string, evalRunIds: readonly number[]): ExperimentArmSummary {
  const runs = evalRunIds.map((runId) => runWithMetrics(s, runId));
  const over = (pick: (r: (typeof runs)[number]['summary']) => Rate) => nullable(estimate(runs.map((r) => pick(r.summary))));
  const suiteIds: string[] = [];
  for (const r of runs) for (const m of r.metrics) if (!suiteIds.includes(m.suiteId)) suiteIds.push(m.suiteId);
  const kindOf = (id: string) => runs.flatMap((r) => r.metrics).find((m) => m.suiteId === id)!.suiteKind;
  suiteIds.sort((a, b) => KIND_ORDER.indexOf(kindOf(a)) - KIND_ORDER.indexOf(kindOf(b)));
  const suites = suiteIds.flatMap((suiteId) => {
    const per = runs.flatMap((r) => {
      const ms = r.metrics.filter((m) => m.suiteId === suiteId);
      const m = ms.find((x) => x.judgeId === r.summary.judge) ?? ms.find((x) => x.task !== null) ?? ms[0];
      return m ? [m] : [];
    });
    if (per.length === 0) return [];
    const est = (pick: (m: (typeof per)[number]) => Rate | null) =>
      nullable(
        estimate(
          per.flatMap((m) => {
            const v = pick(m);
            return v ? [v] : [];
          }),
        ),
      );
    return [
      {
        suiteId,
        suiteKind: per[0]!.suiteKind,
        attackSuccess: est((m) => m.attackSuccess),
        refusal: est((m) => m.refusal),
        overRefusal: est((m) => m.overRefusal),
        task: est((m) => m.task),
      },
    ];
  });
  return {
    arm: name,
    seeds: runs.length,
    attackSuccess: over((x) => x.attackSuccess),
    refusal: over((x) => x.refusal),
    overRefusal: over((x) => x.overRefusal),
    task: over((x) => x.task),
    suites,
  };
}
