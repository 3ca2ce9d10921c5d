import { z } from 'zod';

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
  behaviourSource: z.enum(['none', 'detector', 'user']),
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
