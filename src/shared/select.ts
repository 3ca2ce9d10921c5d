/**
 * Safety-data selection: the `select.run` job's parameters (derived from the selection method
 * table in ./methods/select), selections and their summaries, the training-mix export, and the
 * `data.analyse` job's parameters with their defaults per data set role.
 */
import { z } from 'zod';
import { Behaviour, DatasetRole } from './data';
import { SELECTION_METHODS, SelectionMethod, type SelectionMethodTable } from './methods/select';
import { checkMethodParams, methodEnum } from './methods/table';
import { CURATION_JUDGES, CurationJudgeId } from './methods/curationJudges';
import { ModelSpec } from './eval';

export { SELECTION_METHODS, SelectionMethod, selectionMethodNeeds, type SelectionMethodRow, type SelectionMethodTable } from './methods/select';

export const SelectionBudget = z.union([
  z.object({ count: z.number().int().min(1).max(1_000_000) }).strict(),
  z.object({ fraction: z.number().gt(0).max(1) }).strict(),
]);

/**
 * Parameters of the `data.analyse` job: embeddings, and — by default according to the data set's
 * role (ANALYSE_DEFAULTS) — behaviour types and harm categories. An option left out takes its role's default.
 */
export const DataAnalyseParams = z
  .object({
    projectId: z.number().int().positive(),
    datasetId: z.number().int().positive(),
    /** A folder with one reference-prompt file per harm category (BeaverTails layout) for category inference. */
    referenceDir: z.string().min(1).optional(),
    /** A sentence-transformers ONNX folder for the prompt embeddings (default: the built-in static word vectors). */
    embedderPath: z.string().min(1).optional(),
    /** Every prompt in this data set is harmful (e.g. a safety pool built that way): skip the prompt-harm detector. */
    promptsHarmful: z.boolean().optional(),
    /** Type each prompt/response pair T1–T4. */
    typeBehaviour: z.boolean().optional(),
    /** Infer harm categories of records without labels (needs referenceDir). */
    inferCategories: z.boolean().optional(),
    /** Who types the records besides the built-in detectors (CURATION_JUDGES; default builtin alone). */
    judge: CurationJudgeId.optional(),
    /** The model judge's model: an engine model (HF folder or GGUF) or a configured OpenAI-compatible server. */
    judgeModel: ModelSpec.optional(),
  })
  .superRefine((p, ctx) => {
    const row = CURATION_JUDGES[p.judge ?? 'builtin'];
    if (row.model && !p.judgeModel) ctx.addIssue({ code: 'custom', path: ['judgeModel'], message: `${row.label} needs its model: a model path or a server` });
    if (!row.model && p.judgeModel) ctx.addIssue({ code: 'custom', path: ['judgeModel'], message: `${row.label} runs no model: leave judgeModel out` });
  });
export type DataAnalyseParams = z.infer<typeof DataAnalyseParams>;

/** What Analyse does to a data set: its options once the role's defaults are filled in. */
export interface AnalyseSettings {
  promptsHarmful: boolean;
  typeBehaviour: boolean;
  inferCategories: boolean;
}

/** Analyse's defaults per role, with the one line the Data tab shows for each. */
export const ANALYSE_DEFAULTS: Record<DatasetRole, AnalyseSettings & { summary: string }> = {
  safety_pool: {
    promptsHarmful: true,
    typeBehaviour: true,
    inferCategories: true,
    summary:
      'Safety pool: harmful by construction, so every prompt counts as harmful and only the reply decides T1 (refused) or T2; harm categories are inferred.',
  },
  task: {
    promptsHarmful: false,
    typeBehaviour: false,
    inferCategories: false,
    summary: 'Task data: embedded only; it needs no behaviour types or harm categories unless you ask for them.',
  },
  harmful_eval: {
    promptsHarmful: true,
    typeBehaviour: false,
    inferCategories: true,
    summary: 'Harmful evaluation prompts: harm categories are inferred; not typed (evaluation prompts carry no training replies).',
  },
  benign_eval: {
    promptsHarmful: false,
    typeBehaviour: false,
    inferCategories: false,
    summary: 'Benign evaluation prompts: embedded only; benign prompts get no harm categories or behaviour types.',
  },
};

/** The options Analyse uses for a data set of `role`: the ones given, the role's defaults for the rest. */
export function analyseSettings(role: DatasetRole, p: Pick<DataAnalyseParams, 'promptsHarmful' | 'typeBehaviour' | 'inferCategories'>): AnalyseSettings {
  const d = ANALYSE_DEFAULTS[role];
  return {
    promptsHarmful: p.promptsHarmful ?? d.promptsHarmful,
    typeBehaviour: p.typeBehaviour ?? d.typeBehaviour,
    inferCategories: p.inferCategories ?? d.inferCategories,
  };
}

/**
 * Parameters of the `select.run` job for a table of selection methods. The reference and encoder
 * fields serve the methods that need them (see the table's facts); `methodParams` are checked
 * against the chosen method's row (defaults filled in; selections saved before the table have none).
 */
export function selectRunParamsFor<T extends SelectionMethodTable>(methods: T) {
  return z
    .object({
      projectId: z.number().int().positive(),
      method: methodEnum(methods),
      budget: SelectionBudget,
      categories: z.array(z.string().min(1)).min(1).max(14).optional(),
      seed: z.number().int().min(0).default(0),
      /** Methods that score against a reference: per-category reference prompts, or the project's task data. */
      cossimReference: z.enum(['categories', 'task']).default('categories'),
      referenceDir: z.string().min(1).optional(),
      /** Methods that use embeddings: a sentence-transformers ONNX folder (default: the built-in static word vectors). */
      embedderPath: z.string().min(1).optional(),
      /** The method's own parameters (see the method table). */
      methodParams: z.record(z.string(), z.unknown()).optional(),
    })
    .transform((p, ctx) => {
      const checked = checkMethodParams(methods, p.method, p.methodParams, ctx, ['methodParams']);
      return checked ? { ...p, methodParams: checked } : z.NEVER;
    });
}

/** Parameters of the `select.run` job. */
export const SelectRunParams = selectRunParamsFor(SELECTION_METHODS);
export type SelectRunParams = z.infer<typeof SelectRunParams>;
export type SelectRunParamsInput = z.input<typeof SelectRunParams>;

export const SelectionItem = z.object({
  rank: z.number().int().nonnegative(),
  recordId: z.number().int().positive(),
  prompt: z.string(),
  response: z.string(),
  categories: z.array(z.string()),
  behaviour: Behaviour.nullable(),
  takenFor: z.string().nullable(),
  score: z.number().nullable(),
});

export const SelectionSummary = z.object({
  budget: z.number().int(),
  selected: z.number().int(),
  eligible: z.number().int(),
  shortfall: z.number().int(),
  poolSize: z.number().int(),
  perCategory: z.record(z.string(), z.number()),
  perBehaviour: z.record(z.string(), z.number()),
  embedder: z.string().nullable(),
  /**
   * The budget's spread: the categories it was stratified over (chosen ones with an eligible
   * example) and the examples targeted per category; absent for unstratified methods (Random) and
   * selections made before it was recorded.
   */
  strata: z.array(z.string()).optional(),
  perStratum: z.number().int().optional(),
  /** Eligible examples per category (absent before it was recorded). */
  eligiblePerCategory: z.record(z.string(), z.number().int()).optional(),
});

/** What a selection may take from the safety pool (select.eligible): in all, and per harm category. */
export const PoolEligible = z.object({
  poolSize: z.number().int(),
  eligible: z.number().int(),
  /** Eligible records carrying each category (categories with none are absent). */
  perCategory: z.record(z.string(), z.number().int()),
});
export type PoolEligible = z.infer<typeof PoolEligible>;

export const Selection = z.object({
  id: z.number().int().positive(),
  projectId: z.number().int().positive(),
  name: z.string(),
  method: SelectionMethod,
  params: SelectRunParams,
  summary: SelectionSummary,
  saved: z.boolean(),
  createdAt: z.string(),
});
export type Selection = z.infer<typeof Selection>;

/** A training-mix export; the app writes it to a new file in the workspace's exports/ folder (never a caller-chosen path). */
export const ExportParams = z
  .object({
    selectionId: z.number().int().positive(),
    format: z.enum(['alpaca', 'chat']),
    /** Task data sets mixed in (default: every task data set of the project). */
    taskDatasetIds: z.array(z.number().int().positive()).optional(),
    seed: z.number().int().min(0).default(0),
  })
  .strict();

export { DatasetRole };
