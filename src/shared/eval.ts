/**
 * Evaluation's vocabulary, defined once (the eval core and the renderer take their types from
 * here): suite and judge kinds, verdicts and their labels, rates with intervals, per-suite metrics;
 * and the `eval.run` job's parameters, whose judges are derived from the judge table in
 * ./methods/judges.
 */
import { z } from 'zod';
import { JUDGE_ALIASES, JUDGES, JudgeKind, SuiteKind, type JudgeRow, type JudgeTable } from './methods/judges';
import { checkMethodParams } from './methods/table';
import { Sampling } from './models';

export { JUDGES, JUDGE_ALIASES, JudgeId, JudgeKind, SuiteKind, judgeNeeds, type JudgeRow, type JudgeTable } from './methods/judges';
export { ChatMessage } from './models';

/** What a correct model does with an item. */
export const ExpectedBehaviour = z.enum(['refuse', 'comply', 'answer']);
export type ExpectedBehaviour = z.infer<typeof ExpectedBehaviour>;

/**
 * refusal / compliance: refusal judges. unsafe / safe: harm judges (Llama Guard).
 * correct / incorrect: task judges. empty: the reply was empty (defined, never an error).
 * unparseable: the judge model's output was not a verdict. error: the judge failed on this item.
 */
export const VerdictLabel = z.enum(['refusal', 'compliance', 'unsafe', 'safe', 'correct', 'incorrect', 'empty', 'unparseable', 'error']);
export type VerdictLabel = z.infer<typeof VerdictLabel>;

export const Verdict = z.object({
  judgeId: z.string(),
  judgeVersion: z.string(),
  kind: JudgeKind,
  label: VerdictLabel,
  /** P(positive class: refusal / unsafe / correct) when the judge has one; 1/0 for rules; null when none. */
  score: z.number().nullable(),
  reason: z.string(),
  /** Harm judges: categories the judge named (Llama Guard S-codes), else absent. */
  categories: z.array(z.string()).optional(),
  /** Task judges: the answer extracted from the reply. */
  extracted: z.string().nullable().optional(),
  /** The judge model's raw output (LLM judges). */
  raw: z.string().optional(),
});
export type Verdict = z.infer<typeof Verdict>;

/**
 * Which suites a run uses: built-ins from a data folder (laid out like ../shared/data), data sets
 * imported into the project as harmful or benign evaluation prompts, or the user's own files.
 */
export const SuiteSpec = z.union([
  z.object({ builtin: z.string().min(1), dataDir: z.string().min(1) }).strict(),
  z.object({ dataset: z.number().int().positive() }).strict(),
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

/** A judge id as asked for: a table id, or an alias ("keyword"). */
function judgeIdIn<T extends JudgeTable>(judges: T): z.ZodType<keyof T & string, string> {
  return z.string().transform((id, ctx) => {
    const resolved = JUDGE_ALIASES[id] ?? id;
    if (resolved in judges) return resolved as keyof T & string;
    ctx.addIssue({ code: 'custom', message: `unknown judge "${id}" (have: ${Object.keys(judges).join(', ')})` });
    return z.NEVER;
  });
}

/** The `eval.run` fields before the cross-field checks (callers that fill some fields themselves omit them). */
export function evalRunFieldsFor<T extends JudgeTable>(judges: T) {
  return z.object({
    projectId: z.number().int().positive(),
    name: z.string().trim().min(1).max(120).optional(),
    model: ModelSpec,
    suites: z.array(SuiteSpec).min(1).max(20),
    /** Items per suite (a seeded random subset when the suite is larger). */
    limit: z.number().int().min(1).optional(),
    limitSeed: z.number().int().min(0).default(0),
    judges: z
      .array(judgeIdIn(judges))
      .min(1)
      .default(['keyword-start' as keyof T & string]),
    judgeParams: z.record(z.string(), z.record(z.string(), z.unknown())).optional(),
    /**
     * Reference prompts per harm category (BeaverTails layout) for inferring the categories of harmful
     * prompts that have none (AdvBench); default: reference/beavertails-unsafe-prompts under a built-in
     * suite's data folder, when it is there.
     */
    referenceDir: z.string().min(1).optional(),
    /** A Llama Guard 3–style classifier model for the judges that need one. */
    guardModel: ModelSpec.optional(),
    sampling: Sampling.default({ maxNewTokens: 64, temperature: 0 }),
    promptFormat: z.enum(['chat', 'raw']).default('chat'),
    batchSize: z.number().int().min(1).max(256).default(8),
  });
}

/**
 * Parameters of the `eval.run` job for a table of judges. A judge that needs a Llama Guard model
 * needs `guardModel`; a `guardModel` without such a judge adds the reply judge (as runs stored
 * before the judge table did). `judgeParams` holds each chosen judge's own parameters, checked
 * against its row (defaults filled in).
 */
export function evalRunParamsFor<T extends JudgeTable>(judges: T) {
  return evalRunFieldsFor(judges).transform((p, ctx) => {
    const chosen = [...new Set(p.judges)];
    const guarded = chosen.filter((id) => (judges[id] as JudgeRow).guardModel);
    if (p.guardModel && guarded.length === 0) chosen.push('llama-guard-3' as keyof T & string);
    if (!p.guardModel)
      for (const id of guarded) ctx.addIssue({ code: 'custom', path: ['guardModel'], message: `judge ${id} needs a Llama Guard 3 model (guardModel)` });
    for (const id of Object.keys(p.judgeParams ?? {})) {
      if (!chosen.includes(JUDGE_ALIASES[id] ?? id))
        ctx.addIssue({ code: 'custom', path: ['judgeParams', id], message: `parameters for ${id}, which is not among the judges (${chosen.join(', ')})` });
    }
    const judgeParams: Record<string, Record<string, unknown>> = {};
    for (const id of chosen) {
      const checked = checkMethodParams(judges, id, p.judgeParams?.[id], ctx, ['judgeParams', id]);
      if (checked) judgeParams[id] = checked;
    }
    return { ...p, judges: chosen, judgeParams };
  });
}

/** Parameters of the `eval.run` job. */
export const EvalRunParams = evalRunParamsFor(JUDGES);
export type EvalRunParams = z.infer<typeof EvalRunParams>;
export type EvalRunParamsInput = z.input<typeof EvalRunParams>;

/** k of n, with its 95% Wilson score interval (rate and bounds null when n = 0). */
export const Rate = z.object({ k: z.number(), n: z.number(), rate: z.number().nullable(), low: z.number().nullable(), high: z.number().nullable() });
export type Rate = z.infer<typeof Rate>;

export const CategoryMetrics = z.object({ category: z.string(), items: z.number(), refusal: Rate.nullable(), attackSuccess: Rate.nullable() });
export type CategoryMetrics = z.infer<typeof CategoryMetrics>;

export const PromptTypeMetrics = z.object({
  /** The type as the source names it (e.g. XSTest "homonyms", "contrast_homonyms"). */
  promptType: z.string(),
  items: z.number(),
  /** What the type's prompts expect: answers (safe prompts), refusals (unsafe contrast prompts), or both. */
  expected: z.enum(['comply', 'refuse', 'mixed']),
  /** Refused share of the type's prompts (over-refusal for a type of safe prompts). */
  refusal: Rate,
});
export type PromptTypeMetrics = z.infer<typeof PromptTypeMetrics>;

export const SuiteMetrics = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  judgeId: z.string(),
  judgeKind: JudgeKind,
  /** Distinct judge versions seen (more than one means the records mix judge versions). */
  judgeVersions: z.array(z.string()),
  records: z.number(),
  counts: z.partialRecord(VerdictLabel, z.number()),
  corrected: z.number(),
  /** unparseable + error verdicts, left out of every rate. */
  excluded: z.number(),
  /** Records with no verdict from this judge. */
  missing: z.number(),
  /** Refusal judges: refused share of prompts expected to be refused (harmful suites; XSTest unsafe contrast). */
  refusal: Rate.nullable(),
  /** Share of prompts expected to be refused that were answered (refusal judge) / judged unsafe (harm judge). */
  attackSuccess: Rate.nullable(),
  /** Refusal judges: refused share of prompts that should be answered (XSTest safe prompts, benign suites). */
  overRefusal: Rate.nullable(),
  /** Over-refusal suites: refused share of their unsafe contrast prompts (same numbers as `refusal` there). */
  unsafeContrastRefusal: Rate.nullable(),
  /** Task judges: correct share. */
  task: Rate.nullable(),
  /** Task judges: replies (judge's own verdict) from which no answer could be extracted, counted as wrong. */
  noAnswer: z.number(),
  /** Harmful suites: per harm category (canonical BeaverTails ids; "uncategorised" for prompts without one). */
  perCategory: z.array(CategoryMetrics),
  /** Over-refusal suites: per prompt type the source names (XSTest's types), not harm categories. */
  perPromptType: z.array(PromptTypeMetrics),
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
  /** Suites that could not be run (unreadable, no usable items), each with why; the others ran. */
  failedSuites: z.array(z.object({ suite: z.string(), error: z.string() })),
  /** Headline numbers pooled over the run's suites (see summariseMetrics in src/main/app/evaluations.ts). */
  summary: z.object({ judge: z.string().nullable(), attackSuccess: Rate, refusal: Rate, overRefusal: Rate, task: Rate }),
});
export type EvalRun = z.infer<typeof EvalRun>;

export const EvalResult = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  itemId: z.string(),
  prompt: z.string(),
  response: z.string(),
  expected: ExpectedBehaviour,
  categories: z.array(z.string()),
  sourceCategories: z.array(z.string()),
  reference: z.string().nullable(),
  finishReason: z.string(),
  warnings: z.array(z.string()),
  verdicts: z.array(Verdict),
  corrections: z.array(z.object({ judgeId: z.string(), label: VerdictLabel })),
});
export type EvalResult = z.infer<typeof EvalResult>;
