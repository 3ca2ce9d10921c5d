/**
 * Experiment grids (issue 18): arms (a training method with its parameters and a selection of
 * safety examples) × seeds, run as one persisted job group — per cell an optional `select.run`
 * (a selection method at a budget, at the cell's seed), a `train.run`, then an `eval.run` of what it
 * wrote on the chosen suites. The request, the views of a grid and its cells, the per-arm summary
 * over seeds (mean and 95% interval), and that summary as a table (CSV and LaTeX) like the papers'.
 */
import { z } from 'zod';
import { JobState } from './domain';
import { EvalRunParams, evalRunFieldsFor, JUDGES, SuiteKind } from './eval';
import { SelectionBudget, SelectRunParams } from './select';
import { TrainRunParams } from './train';

const Id = z.number().int().positive();

/** The settings of each cell's evaluation: eval.run's fields less the project, model and name (the grid sets them). */
export const ExperimentEval = evalRunFieldsFor(JUDGES).omit({ projectId: true, model: true, name: true });
export type ExperimentEval = z.infer<typeof ExperimentEval>;

/**
 * An arm's safety examples: a saved selection (the same for every seed), or a selection method run
 * per cell at the cell's seed (select.run's fields less the project and seed).
 */
export const ExperimentSelection = z.union([
  z.object({ selectionId: Id }).strict(),
  z.object({ method: z.string().min(1), budget: SelectionBudget }).catchall(z.unknown()),
]);
export type ExperimentSelection = z.infer<typeof ExperimentSelection>;
export type ExperimentSelectionRun = { method: string; budget: z.infer<typeof SelectionBudget> } & Record<string, unknown>;

/** The saved selection an arm trains with, if it names one. */
export function savedSelectionOf(arm: Pick<ExperimentArm, 'selection'>): number | null {
  const id = (arm.selection as { selectionId?: unknown } | undefined)?.selectionId;
  return typeof id === 'number' ? id : null;
}

/** The selection method an arm runs per cell, if it runs one. */
export function selectionRunOf(arm: Pick<ExperimentArm, 'selection'>): ExperimentSelectionRun | null {
  return arm.selection && savedSelectionOf(arm) === null ? (arm.selection as ExperimentSelectionRun) : null;
}

/** The train.run fields a grid sets for each cell: an arm may not set them. */
const GRID_TRAIN_FIELDS = ['projectId', 'modelPath', 'seed', 'selectionId', 'name', 'outPath'] as const;

export const ExperimentArm = z
  .object({
    /** the arm's name in tables and charts ("plain", "sss-b-1%") */
    name: z.string().trim().min(1).max(60),
    /** train.run's parameters (method, methodParams, mode, steps, lr …) less the ones the grid sets; checked by the train.run schema */
    train: z.record(z.string(), z.unknown()).default({}),
    /** omitted: no safety examples */
    selection: ExperimentSelection.optional(),
  })
  .strict();
export type ExperimentArm = z.infer<typeof ExperimentArm>;
export type ExperimentArmInput = z.input<typeof ExperimentArm>;

/** Most cells (arms × seeds) one grid may queue. */
export const MAX_EXPERIMENT_CELLS = 200;

export const ExperimentRequest = z
  .object({
    projectId: Id,
    name: z.string().trim().min(1).max(120).optional(),
    /** the model every arm fine-tunes */
    modelPath: z.string().min(1),
    arms: z
      .array(ExperimentArm)
      .min(1, 'list at least one arm')
      .max(24, 'at most 24 arms per grid')
      .refine((a) => new Set(a.map((x) => x.name)).size === a.length, 'each arm name once'),
    seeds: z
      .array(z.number().int().min(0))
      .min(1, 'list at least one seed')
      .max(20, 'at most 20 seeds per grid')
      .refine((a) => new Set(a).size === a.length, 'each seed once'),
    eval: ExperimentEval,
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.arms.length * r.seeds.length > MAX_EXPERIMENT_CELLS) {
      ctx.addIssue({ code: 'custom', path: ['arms'], message: `${r.arms.length} arms × ${r.seeds.length} seeds is more than ${MAX_EXPERIMENT_CELLS} cells` });
    }
    r.arms.forEach((arm, i) => {
      for (const k of GRID_TRAIN_FIELDS) {
        if (k in arm.train)
          ctx.addIssue({ code: 'custom', path: ['arms', i, 'train', k], message: `${k} is set by the grid for each cell: leave it out of the arm` });
      }
      const train = cellTrainParams(r, arm, r.seeds[0]!, arm.selection ? 1 : undefined);
      for (const issue of train.success ? [] : train.error.issues)
        ctx.addIssue({ code: 'custom', path: ['arms', i, 'train', ...issue.path.map(String)], message: issue.message });
      const run = selectionRunOf(arm);
      if (run) {
        const select = cellSelectParams(r.projectId, run, r.seeds[0]!);
        for (const issue of select.success ? [] : select.error.issues)
          ctx.addIssue({ code: 'custom', path: ['arms', i, 'selection', ...issue.path.map(String)], message: issue.message });
      }
    });
    // the checks across eval fields (judges and their guard model, judge parameters), as eval.run will make them
    const checked = EvalRunParams.safeParse({ ...r.eval, projectId: r.projectId, model: { kind: 'engine', path: '.' } });
    for (const issue of checked.success ? [] : checked.error.issues)
      ctx.addIssue({ code: 'custom', path: ['eval', ...issue.path.map(String)], message: issue.message });
  });
export type ExperimentRequest = z.infer<typeof ExperimentRequest>;
export type ExperimentRequestInput = z.input<typeof ExperimentRequest>;

/** A cell's train.run parameters: the arm's, with the grid's model, the cell's seed and its selection. */
export function cellTrainParams(
  r: Pick<ExperimentRequest, 'projectId' | 'modelPath' | 'name'>,
  arm: ExperimentArm,
  seed: number,
  selectionId: number | undefined,
) {
  const name = `${r.name ?? 'grid'} · ${arm.name} · seed ${seed}`.slice(0, 120);
  return TrainRunParams.safeParse({
    ...arm.train,
    projectId: r.projectId,
    modelPath: r.modelPath,
    seed,
    name,
    ...(selectionId !== undefined ? { selectionId } : {}),
  });
}

/** A cell's select.run parameters: the arm's selection method and budget at the cell's seed. */
export function cellSelectParams(projectId: number, selection: ExperimentSelectionRun, seed: number) {
  return SelectRunParams.safeParse({ ...selection, projectId, seed });
}

/** Where a cell is: the step it is at, and the state of that step's job (`waiting` before it is queued). */
export const ExperimentStage = z.enum(['select', 'train', 'eval', 'done']);
export type ExperimentStage = z.infer<typeof ExperimentStage>;

/** A mean over seeds with its 95% interval (Student t over the seeds; one seed: its Wilson interval); null with no value. */
export const Estimate = z.object({ mean: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable(), n: z.number().int().nonnegative() });
export type Estimate = z.infer<typeof Estimate>;

const Rate = z.object({ k: z.number(), n: z.number(), rate: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() });
const Headline = z.object({ judge: z.string().nullable(), attackSuccess: Rate, refusal: Rate, overRefusal: Rate, task: Rate });

export const ExperimentCell = z.object({
  arm: z.string(),
  seed: z.number().int(),
  stage: ExperimentStage,
  state: z.union([JobState, z.literal('waiting')]),
  selectJobId: Id.nullable(),
  trainJobId: Id.nullable(),
  evalJobId: Id.nullable(),
  /** the arm's saved selection, or the one this cell's select.run made (saved under the grid's name) */
  selectionId: Id.nullable(),
  evalRunId: Id.nullable(),
  /** the evaluation's headline numbers once it has finished */
  summary: Headline.nullable(),
});
export type ExperimentCell = z.infer<typeof ExperimentCell>;

export const Experiment = z.object({
  id: Id,
  projectId: Id,
  name: z.string(),
  modelPath: z.string(),
  seeds: z.array(z.number().int()),
  arms: z.array(z.object({ name: z.string(), method: z.string(), mode: z.string(), selection: z.string() })),
  createdAt: z.string(),
  /** every cell is done / some cell stopped on a failed, cancelled or interrupted job / the rest */
  state: z.enum(['running', 'done', 'stopped']),
  done: z.number().int(),
  /** arm by arm, seeds in order */
  cells: z.array(ExperimentCell),
});
export type Experiment = z.infer<typeof Experiment>;

/** One suite's scores for an arm, over its seeds (the primary refusal judge; the task judge for task suites). */
export const ExperimentSuiteScore = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  attackSuccess: Estimate,
  refusal: Estimate,
  overRefusal: Estimate,
  task: Estimate,
});
export type ExperimentSuiteScore = z.infer<typeof ExperimentSuiteScore>;

/** An arm's results over its evaluated seeds. */
export const ExperimentArmSummary = z.object({
  arm: z.string(),
  /** evaluated cells (seeds) in the estimates */
  seeds: z.number().int(),
  attackSuccess: Estimate,
  refusal: Estimate,
  overRefusal: Estimate,
  task: Estimate,
  suites: z.array(ExperimentSuiteScore),
});
export type ExperimentArmSummary = z.infer<typeof ExperimentArmSummary>;

export const ExperimentSummary = z.object({ experimentId: Id, name: z.string(), arms: z.array(ExperimentArmSummary) });
export type ExperimentSummary = z.infer<typeof ExperimentSummary>;

/** The table's columns: per harmful suite attack success and refusal, per over-refusal suite over-refusal, per task suite the score. */
export function experimentColumns(summary: ExperimentSummary): { title: string; pick: (a: ExperimentArmSummary) => Estimate }[] {
  const suites = new Map<string, ExperimentSuiteScore['suiteKind']>();
  for (const a of summary.arms) for (const s of a.suites) if (!suites.has(s.suiteId)) suites.set(s.suiteId, s.suiteKind);
  const of = (a: ExperimentArmSummary, id: string) => a.suites.find((s) => s.suiteId === id);
  const none: Estimate = { mean: null, low: null, high: null, n: 0 };
  const cols: { title: string; pick: (a: ExperimentArmSummary) => Estimate }[] = [];
  for (const [id, kind] of suites) {
    if (kind === 'harmful') {
      cols.push({ title: `${id} attack success %`, pick: (a) => of(a, id)?.attackSuccess ?? none });
      cols.push({ title: `${id} refusal %`, pick: (a) => of(a, id)?.refusal ?? none });
    } else if (kind === 'task') cols.push({ title: `${id} task score %`, pick: (a) => of(a, id)?.task ?? none });
    else cols.push({ title: `${id} over-refusal %`, pick: (a) => of(a, id)?.overRefusal ?? none });
  }
  return cols;
}

const pct = (x: number | null) => (x === null ? '' : (100 * x).toFixed(1));

/** The summary as CSV: per arm its seeds and, per column, mean, low and high in percent. */
export function experimentCsv(summary: ExperimentSummary): string {
  const cols = experimentColumns(summary);
  const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  const head = ['arm', 'seeds', ...cols.flatMap((c) => [c.title, `${c.title} low`, `${c.title} high`])];
  const rows = summary.arms.map((a) => [
    a.arm,
    String(a.seeds),
    ...cols.flatMap((c) => {
      const e = c.pick(a);
      return [pct(e.mean), pct(e.low), pct(e.high)];
    }),
  ]);
  return [head, ...rows].map((r) => r.map(quote).join(',')).join('\n') + '\n';
}

const tex = (s: string) => s.replace(/([\\%&#_{}$^~])/g, (c) => (c === '\\' ? '\\textbackslash{}' : c === '^' ? '\\^{}' : c === '~' ? '\\~{}' : `\\${c}`));

/** The summary as a LaTeX tabular (booktabs): per arm, each column's mean ± half its 95% interval, in percent. */
export function experimentLatex(summary: ExperimentSummary): string {
  const cols = experimentColumns(summary);
  const cell = (e: Estimate) =>
    e.mean === null ? '--' : e.low === null || e.high === null ? pct(e.mean) : `${pct(e.mean)} $\\pm$ ${(50 * (e.high - e.low)).toFixed(1)}`;
  return [
    `\\begin{tabular}{l${'r'.repeat(cols.length + 1)}}`,
    '\\toprule',
    `${['Arm', 'Seeds', ...cols.map((c) => c.title)].map(tex).join(' & ')} \\\\`,
    '\\midrule',
    ...summary.arms.map((a) => `${[tex(a.arm), String(a.seeds), ...cols.map((c) => cell(c.pick(a)))].join(' & ')} \\\\`),
    '\\bottomrule',
    '\\end{tabular}',
    '',
  ].join('\n');
}
