import { z } from 'zod';
import { ModelJudgeId } from './methods/curationJudges';

/** What an imported file is for. */
export const DatasetRole = z.enum(['task', 'safety_pool', 'harmful_eval', 'benign_eval']);
export type DatasetRole = z.infer<typeof DatasetRole>;

export const DATASET_ROLE_LABELS: Record<DatasetRole, string> = {
  task: 'Task data',
  safety_pool: 'Safety pool',
  harmful_eval: 'Harmful evaluation prompts',
  benign_eval: 'Benign evaluation prompts',
};

export const Behaviour = z.enum(['T1', 'T2', 'T3', 'T4']);
export type Behaviour = z.infer<typeof Behaviour>;

/** Where a record's behaviour type came from, as the record view says it. */
export const BEHAVIOUR_SOURCE_LABELS: Record<DataRecord['behaviourSource'], string> = {
  none: 'not typed',
  detector: 'the detectors',
  label: 'from file',
  user: 'your correction',
};

export const RecordFormat = z.enum(['alpaca', 'chat', 'sharegpt', 'beavertails', 'prompt-response', 'prompt-only']);

/** Which fields of a file hold what, when detection is unsure. */
export const ColumnMapping = z
  .object({
    format: RecordFormat,
    prompt: z.string().min(1).optional(),
    input: z.string().min(1).optional(),
    response: z.string().min(1).optional(),
    turns: z.string().min(1).optional(),
    categories: z.string().min(1).optional(),
  })
  .strict();
export type ColumnMapping = z.infer<typeof ColumnMapping>;

export const Dataset = z.object({
  id: z.number().int().positive(),
  projectId: z.number().int().positive(),
  role: DatasetRole,
  name: z.string(),
  sourcePath: z.string(),
  fileDigest: z.string(),
  sizeBytes: z.number().int().nonnegative(),
  container: z.string().nullable(),
  mapping: ColumnMapping.nullable(),
  state: z.enum(['importing', 'ready', 'failed']),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  jobId: z.number().int().positive().nullable(),
  /** The embedder its prompts were embedded with by Analyse (null until analysed). */
  embedderId: z.string().nullable(),
  /** Records whose behaviour type was recorded (taken from the file at import, or a person's correction): Analyse keeps them. */
  recordedTypes: z.number().int().nonnegative(),
  createdAt: z.string(),
});
export type Dataset = z.infer<typeof Dataset>;

export const DataRecord = z.object({
  id: z.number().int().positive(),
  datasetId: z.number().int().positive(),
  role: DatasetRole,
  sourceRow: z.number().int().nonnegative(),
  sourceLine: z.number().int().positive().nullable(),
  prompt: z.string(),
  response: z.string(),
  categories: z.array(z.string()),
  categorySource: z.enum(['none', 'label', 'inferred', 'user']),
  behaviour: Behaviour.nullable(),
  behaviourConfidence: z.number().nullable(),
  /** who typed it: the detectors (Analyse), the imported file (`label`, a column the import took) or a person */
  behaviourSource: z.enum(['none', 'detector', 'label', 'user']),
  duplicateOf: z.number().int().positive().nullable(),
  nearDuplicateOf: z.number().int().positive().nullable(),
});
export type DataRecord = z.infer<typeof DataRecord>;

export const RecordQuery = z
  .object({
    projectId: z.number().int().positive(),
    datasetId: z.number().int().positive().optional(),
    role: DatasetRole.optional(),
    category: z.string().max(100).optional(),
    behaviour: z.union([Behaviour, z.literal('untyped')]).optional(),
    duplicates: z.enum(['all', 'only', 'hide']).default('all'),
    search: z.string().max(500).optional(),
    offset: z.number().int().nonnegative().default(0),
    limit: z.number().int().min(1).max(1000).default(100),
  })
  .strict();
export type RecordQuery = z.infer<typeof RecordQuery>;

export const RecordPage = z.object({ total: z.number().int().nonnegative(), rows: z.array(DataRecord) });

export const Rejection = z.object({
  sourceRow: z.number().int().nonnegative(),
  sourceLine: z.number().int().positive().nullable(),
  message: z.string(),
});

/** Parameters of the `data.import` job. */
export const DataImportParams = z.object({
  projectId: z.number().int().positive(),
  path: z.string().min(1, 'path must not be empty'),
  role: DatasetRole,
  name: z.string().trim().min(1).max(200).optional(),
  mapping: ColumnMapping.optional(),
  container: z.enum(['jsonl', 'json', 'csv', 'tsv', 'parquet']).optional(),
  /**
   * A column or key holding each record's behaviour type as recorded in the file (T1–T4): taken as
   * the record's type (source `label`), which Analyse keeps like a person's correction. A row with
   * another value there is rejected naming the field; a row without one is left for Analyse.
   */
  behaviourField: z.string().trim().min(1).max(200).optional(),
});
export type DataImportParams = z.infer<typeof DataImportParams>;

export const DataImportResult = z.object({
  datasetId: z.number().int().positive(),
  accepted: z.number().int().nonnegative(),
  rejected: z.number().int().nonnegative(),
  exactDuplicates: z.number().int().nonnegative(),
  nearDuplicates: z.number().int().nonnegative(),
  alreadyImported: z.boolean(),
});
export type DataImportResult = z.infer<typeof DataImportResult>;

/** Parameters of the `data.screen` job: screen a task data set for poisoned rows (harmful request + compliant response). */
export const DataScreenParams = z
  .object({
    projectId: z.number().int().positive(),
    datasetId: z.number().int().positive(),
    /** also require a flagged row to be unlike the rest of the data (default true; src/main/detect/poisonScreen.ts) */
    typicality: z.boolean().default(true),
  })
  .strict();
export type DataScreenParams = z.infer<typeof DataScreenParams>;

/** A row the screen flagged, most suspicious first. */
export const ScreenedRecord = z.object({
  recordId: z.number().int().positive(),
  prompt: z.string(),
  response: z.string(),
  /** P(prompt harmful) × P(response complies) (× atypicality rank when used), 0..1 */
  score: z.number(),
  harmProbability: z.number(),
  refusalProbability: z.number(),
  atypicality: z.number().nullable(),
});
export type ScreenedRecord = z.infer<typeof ScreenedRecord>;

export const DataScreenResult = z.object({
  datasetId: z.number().int().positive(),
  /** rows screened */
  total: z.number().int().nonnegative(),
  flagged: z.array(ScreenedRecord),
});
export type DataScreenResult = z.infer<typeof DataScreenResult>;

/** A confusion table of a model judge against the built-in detectors: counts[judge label][built-in label]. */
export const JudgeConfusion = z.object({
  labels: z.array(z.string()),
  counts: z.record(z.string(), z.record(z.string(), z.number().int().nonnegative())),
  /** Records both labelled (the judge's no-verdicts left out). */
  compared: z.number().int().nonnegative(),
  agree: z.number().int().nonnegative(),
  /** agree / compared; null when nothing was compared. */
  rate: z.number().nullable(),
  kappa: z.number().nullable(),
});
export type JudgeConfusion = z.infer<typeof JudgeConfusion>;

/** A record on which the judge and the built-in detectors disagree (or the judge gave no verdict). */
export const JudgeDisagreement = z.object({
  recordId: z.number().int().positive(),
  prompt: z.string(),
  response: z.string(),
  builtin: Behaviour.nullable(),
  judge: Behaviour.nullable(),
  builtinHarmful: z.boolean().nullable(),
  judgeHarmful: z.boolean().nullable(),
  /** The record's label now (a kept judge label or a correction shows here). */
  current: Behaviour.nullable(),
  /** Why the judge gave no verdict. */
  error: z.string().nullable(),
});
export type JudgeDisagreement = z.infer<typeof JudgeDisagreement>;

/** A model judge's verdicts on a data set against the built-in detectors' (the Data tab's agreement view). */
export const JudgeAgreementView = z.object({
  datasetId: z.number().int().positive(),
  /** The model judges with verdicts stored for this data set. */
  judges: z.array(ModelJudgeId),
  /** The judge shown (null: no judge has judged this data set). */
  judge: ModelJudgeId.nullable(),
  /** Its full id: prompt format, mapping version and model. */
  judgeModel: z.string().nullable(),
  records: z.number().int().nonnegative(),
  /** Answers not in the judge's format, failed calls, in-format answers that give no verdict ("n/a"). */
  parseErrors: z.number().int().nonnegative(),
  failures: z.number().int().nonnegative(),
  noVerdict: z.number().int().nonnegative(),
  /** The first problems, with the judge's raw answer. */
  errors: z.array(
    z.object({ recordId: z.number().int().positive(), kind: z.enum(['parse', 'failure', 'no-verdict']), message: z.string(), raw: z.string().nullable() }),
  ),
  behaviour: JudgeConfusion,
  promptHarm: JudgeConfusion,
  /** Records whose types differ or that got no verdict, and the first of them. */
  disagreeing: z.number().int().nonnegative(),
  disagreements: z.array(JudgeDisagreement),
});
export type JudgeAgreementView = z.infer<typeof JudgeAgreementView>;

/** Keep one side's behaviour types, for all judged records or for the disagreeing ones, as corrections. */
export const KeepJudgeLabels = z
  .object({
    datasetId: z.number().int().positive(),
    judge: ModelJudgeId,
    take: z.enum(['judge', 'builtin']),
    scope: z.enum(['all', 'disagreeing']),
  })
  .strict();
export type KeepJudgeLabels = z.infer<typeof KeepJudgeLabels>;
