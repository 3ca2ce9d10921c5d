import { z } from 'zod';
import { Sampling } from './models';

export const JudgeId = z.enum(['keyword', 'keyword-start', 'keyword-anywhere', 'refusal-classifier', 'task']);
export const SuiteKind = z.enum(['harmful', 'over-refusal', 'task']);

/** Which suites a run uses: built-ins from a data folder (laid out like ../shared/data), or the user's own files. */
export const SuiteSpec = z.union([
  z.object({ builtin: z.string().min(1), dataDir: z.string().min(1) }).strict(),
  z
    .object({
      file: z.string().min(1),
      kind: SuiteKind,
      id: z.string().min(1).max(60).optional(),
      promptColumn: z.string().min(1).optional(),
      referenceColumn: z.string().min(1).optional(),
      categoryColumn: z.string().min(1).optional(),
      scorer: z.enum(['exact', 'contains', 'regex']).optional(),
    })
    .strict(),
]);
export type SuiteSpec = z.infer<typeof SuiteSpec>;

export const ModelSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('engine'), path: z.string().min(1), adapterPath: z.string().min(1).optional() }).strict(),
  z
    .object({
      kind: z.literal('http'),
      baseUrl: z.string().url(),
      model: z.string().min(1),
      /** Sent as a Bearer token (CLI); calls through the app drop it and use the key stored with the server. */
      apiKey: z.string().optional(),
      /** The configured server (Settings → Folders & servers) whose stored API key the job sends; set by the app. */
      endpointId: z.number().int().positive().optional(),
      /** Requests kept in flight at once (default 4): raise it for a cluster (vLLM, TGI) that batches many. */
      concurrency: z.number().int().min(1).max(64).optional(),
    })
    .strict(),
]);
export type ModelSpec = z.infer<typeof ModelSpec>;

/** Parameters of the `eval.run` job. */
export const EvalRunParams = z.object({
  projectId: z.number().int().positive(),
  name: z.string().trim().min(1).max(120).optional(),
  model: ModelSpec,
  suites: z.array(SuiteSpec).min(1).max(20),
  /** Items per suite (a seeded random subset when the suite is larger). */
  limit: z.number().int().min(1).optional(),
  limitSeed: z.number().int().min(0).default(0),
  judges: z.array(JudgeId).min(1).default(['keyword']),
  /**
   * Reference prompts per harm category (BeaverTails layout) for inferring the categories of harmful
   * prompts that have none (AdvBench); default: reference/beavertails-unsafe-prompts under a built-in
   * suite's data folder, when it is there.
   */
  referenceDir: z.string().min(1).optional(),
  /** A Llama Guard 3–style classifier model: adds a harm judge (safe/unsafe + categories, P(unsafe)). */
  guardModel: ModelSpec.optional(),
  sampling: Sampling.default({ maxNewTokens: 64, temperature: 0 }),
  promptFormat: z.enum(['chat', 'raw']).default('chat'),
  batchSize: z.number().int().min(1).max(256).default(8),
});
export type EvalRunParams = z.infer<typeof EvalRunParams>;

export const Rate = z.object({ k: z.number(), n: z.number(), rate: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() });

export const SuiteMetrics = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  judgeId: z.string(),
  judgeKind: z.string(),
  judgeVersions: z.array(z.string()),
  records: z.number(),
  counts: z.record(z.string(), z.number()),
  corrected: z.number(),
  excluded: z.number(),
  missing: z.number(),
  refusal: Rate.nullable(),
  attackSuccess: Rate.nullable(),
  overRefusal: Rate.nullable(),
  unsafeContrastRefusal: Rate.nullable(),
  task: Rate.nullable(),
  /** Harmful suites: per harm category (canonical BeaverTails ids; "uncategorised" for prompts without one). */
  perCategory: z.array(z.object({ category: z.string(), items: z.number(), refusal: Rate.nullable(), attackSuccess: Rate.nullable() })),
  /** Over-refusal suites: per prompt type the source names (XSTest's types), not harm categories. */
  perPromptType: z.array(z.object({ promptType: z.string(), items: z.number(), expected: z.enum(['comply', 'refuse', 'mixed']), refusal: Rate })),
});
export type SuiteMetrics = z.infer<typeof SuiteMetrics>;

export const EvalRun = z.object({
  id: z.number().int().positive(),
  projectId: z.number().int().positive(),
  name: z.string(),
  params: z.unknown(),
  generator: z.string().nullable(),
  suites: z.array(z.unknown()),
  jobId: z.number().int().positive().nullable(),
  createdAt: z.string(),
  results: z.number().int(),
  metrics: z.array(SuiteMetrics),
  /** Headline numbers pooled over the run's suites (see summariseMetrics in src/main/app/evaluations.ts). */
  summary: z.object({ judge: z.string().nullable(), attackSuccess: Rate, refusal: Rate, overRefusal: Rate, task: Rate }),
});
export type EvalRun = z.infer<typeof EvalRun>;

export const Verdict = z.object({
  judgeId: z.string(),
  judgeVersion: z.string(),
  kind: z.string(),
  label: z.string(),
  score: z.number().nullable(),
  reason: z.string(),
});

export const EvalResult = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  itemId: z.string(),
  prompt: z.string(),
  response: z.string(),
  expected: z.string(),
  categories: z.array(z.string()),
  sourceCategories: z.array(z.string()),
  reference: z.string().nullable(),
  finishReason: z.string(),
  warnings: z.array(z.string()),
  verdicts: z.array(Verdict),
  corrections: z.array(z.object({ judgeId: z.string(), label: z.string() })),
});
export type EvalResult = z.infer<typeof EvalResult>;

export const VerdictLabel = z.enum(['refusal', 'compliance', 'unsafe', 'safe', 'correct', 'incorrect', 'empty', 'unparseable', 'error']);
