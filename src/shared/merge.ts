/**
 * Model merging: the one table of merge methods (mergekit's ids, labels, parameters with their
 * defaults and ranges, what each needs), and the schemas derived from it — the merge config the
 * `merge.run` job takes, its result, and the coefficient sweep that queues several merges.
 *
 * Parameter values follow mergekit's YAML: a number or boolean, a gradient (a list of numbers
 * interpolated across the layers), or a list of `{ filter, value }` conditions where the first
 * whose filter is a substring of the tensor name applies (no filter, or "*", matches every tensor).
 */
import { z } from 'zod';
import { JobState } from './domain';
import { EvalRun, EvalRunParams, evalRunFieldsFor, JUDGES } from './eval';

export const MergeMethodId = z.enum(['linear', 'task_arithmetic', 'ties', 'dare_linear', 'dare_ties', 'slerp', 'magmax']);
export type MergeMethodId = z.infer<typeof MergeMethodId>;

/** One parameter of a merge method. */
export interface MergeParamDef {
  kind: 'number' | 'boolean';
  /** checks one scalar value (every point of a gradient and every conditional value is checked) */
  schema: z.ZodType<number> | z.ZodType<boolean>;
  /** undefined: required (per-model parameters are required of every model except the base) */
  default?: number | boolean;
  description: string;
}

export interface MergeMethodInfo {
  label: string;
  description: string;
  /** needs `base_model` (the task vectors are taken against it) */
  needsBase: boolean;
  /** number of models including the base: slerp takes exactly two */
  exactModels?: number;
  /** parameters read once per tensor (`parameters:` at the top of the YAML) */
  global: Record<string, MergeParamDef>;
  /** parameters of each model (`models[i].parameters`, or a default at the top) */
  perModel: Record<string, MergeParamDef>;
  reference: string;
}

const num = (description: string, schema: z.ZodType<number>, def?: number): MergeParamDef => ({
  kind: 'number',
  schema,
  description,
  ...(def === undefined ? {} : { default: def }),
});
const bool = (description: string, def: boolean): MergeParamDef => ({ kind: 'boolean', schema: z.boolean(), description, default: def });

const finite = z.number().finite();
const weight = num('Weight of this model in the merge (any sign)', finite);
const density = num('Fraction of its task vector each model keeps, in (0, 1]', z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]'), 1);
const lambda = num('Scale of the merged task vector added to the base', finite, 1);
const int8Mask = bool('Accepted for mergekit compatibility (a memory option there); no effect', false);
const seed = num(
  'Seed of the random drop masks (the same seed gives the same merge)',
  z
    .number()
    .int()
    .min(0)
    .max(2 ** 32 - 1),
  0,
);

/** Generalized task arithmetic's parameters (mergekit declares the same set for all its variants). */
function gta(normalize: boolean, rescale: boolean, random: boolean): Pick<MergeMethodInfo, 'global' | 'perModel'> {
  return {
    global: {
      normalize: bool('Divide the merged task vector by the sum of the weights (of the agreeing entries, with a sign election)', normalize),
      rescale: bool('After dropping entries, rescale each task vector to its original L1 norm', rescale),
      lambda,
      int8_mask: int8Mask,
      ...(random ? { seed } : {}),
    },
    perModel: { weight, density },
  };
}

/** The merge methods, with mergekit's semantics and defaults. */
export const MERGE_METHOD_INFO: Record<MergeMethodId, MergeMethodInfo> = {
  linear: {
    label: 'Linear',
    description: 'Weighted average of the models’ weights',
    needsBase: false,
    global: { normalize: bool('Divide by the sum of the weights', true) },
    perModel: { weight },
    reference: 'https://arxiv.org/abs/2203.05482',
  },
  task_arithmetic: {
    label: 'Task arithmetic',
    description: 'Base + lambda × the weighted sum of task vectors (model − base)',
    needsBase: true,
    ...gta(false, false, false),
    reference: 'https://arxiv.org/abs/2212.04089',
  },
  ties: {
    label: 'TIES',
    description: 'Trim each task vector to its largest entries, elect a sign per entry, average the agreeing entries',
    needsBase: true,
    ...gta(true, false, false),
    reference: 'https://arxiv.org/abs/2306.01708',
  },
  dare_linear: {
    label: 'DARE (linear)',
    description: 'Drop task-vector entries at random (keeping a density fraction), rescale, add their weighted sum',
    needsBase: true,
    ...gta(false, true, true),
    reference: 'https://arxiv.org/abs/2311.03099',
  },
  dare_ties: {
    label: 'DARE TIES',
    description: 'DARE’s random drop and rescale, then TIES’s sign election',
    needsBase: true,
    ...gta(false, true, true),
    reference: 'https://arxiv.org/abs/2311.03099',
  },
  slerp: {
    label: 'SLERP',
    description: 'Spherical interpolation between two models per tensor (linear when nearly collinear)',
    needsBase: true,
    exactModels: 2,
    global: { t: num('Position between the base (0) and the other model (1)', z.number().min(0, 'must be in [0, 1]').max(1, 'must be in [0, 1]')) },
    perModel: {},
    reference: 'https://en.wikipedia.org/wiki/Slerp',
  },
  magmax: {
    label: 'MagMax',
    description: 'Per entry, the task-vector value of largest magnitude across the models, added to the base × lambda',
    needsBase: true,
    global: { lambda },
    perModel: {},
    reference: 'https://arxiv.org/abs/2407.06322',
  },
};

/** A parameter value as mergekit's YAML writes it. */
export const ParamScalar = z.union([z.number().finite(), z.boolean()]);
export const ParamGradient = z.array(z.number().finite()).min(1, 'a gradient needs at least one value');
export const ParamCondition = z.object({ filter: z.string().nullable().optional(), value: z.union([ParamScalar, ParamGradient]) }).strict();
export const ParamSetting = z.union([ParamScalar, ParamGradient, ParamCondition, z.array(ParamCondition).min(1)]);
export type ParamSetting = z.infer<typeof ParamSetting>;
export type ParamCondition = z.infer<typeof ParamCondition>;

/** A model to merge: a Hugging Face folder or a GGUF file, optionally with a PEFT LoRA adapter applied on the fly. */
export const MergeModelRef = z
  .object({
    modelPath: z.string().min(1, 'modelPath must not be empty'),
    adapterPath: z.string().min(1).optional(),
  })
  .strict();
export type MergeModelRef = z.infer<typeof MergeModelRef>;

export const MergeDtype = z.enum(['float32', 'float16', 'bfloat16']);
export type MergeDtype = z.infer<typeof MergeDtype>;

const Params = z.record(z.string(), ParamSetting);

const MergeConfigShape = z
  .object({
    method: MergeMethodId,
    /** the model task vectors are taken against; also the source of the output's config and tokenizer */
    base: MergeModelRef.optional(),
    models: z.array(z.object({ model: MergeModelRef, parameters: Params.default({}) }).strict()).min(1, 'list at least one model'),
    parameters: Params.default({}),
    /** mergekit's `dtype`: the output dtype unless `outDtype` is given (default: the base's stored dtype) */
    dtype: MergeDtype.optional(),
    outDtype: MergeDtype.optional(),
  })
  .strict();

/** Every scalar a setting can produce (gradient points, conditional values). */
export function settingScalars(s: ParamSetting): (number | boolean)[] {
  if (typeof s === 'number' || typeof s === 'boolean') return [s];
  if (Array.isArray(s)) return s.flatMap((x) => (typeof x === 'number' ? [x] : settingScalars(x.value)));
  return settingScalars(s.value);
}

export const sameRef = (a: MergeModelRef, b: MergeModelRef): boolean => a.modelPath === b.modelPath && (a.adapterPath ?? '') === (b.adapterPath ?? '');

type Ctx = z.RefinementCtx;

function checkParams(
  ctx: Ctx,
  where: (string | number)[],
  params: Record<string, ParamSetting>,
  defs: Record<string, MergeParamDef>,
  other: Record<string, MergeParamDef>,
  method: MergeMethodId,
): void {
  for (const [name, setting] of Object.entries(params)) {
    const path = [...where, name];
    const def = defs[name];
    if (!def) {
      const known = Object.keys(defs);
      const hint = other[name] ? ` (it is a ${where.includes('models') ? 'global' : 'per-model'} parameter of ${method})` : '';
      ctx.addIssue({
        code: 'custom',
        path,
        message: `${name} is not a parameter here${hint}; ${known.length ? `${method} takes: ${known.join(', ')}` : `${method} takes none here`}`,
      });
      continue;
    }
    for (const v of settingScalars(setting)) {
      const r = def.schema.safeParse(v);
      if (!r.success) ctx.addIssue({ code: 'custom', path, message: `${JSON.stringify(v)}: ${r.error.issues[0]?.message ?? 'invalid'} (${def.description})` });
    }
  }
}

/** The whole merge, as the `merge.run` job takes it (the mergekit YAML maps onto it one to one). */
export const MergeConfig = MergeConfigShape.superRefine((c, ctx) => {
  const info = MERGE_METHOD_INFO[c.method];
  if (info.needsBase && !c.base) ctx.addIssue({ code: 'custom', path: ['base'], message: `${c.method} needs a base model (base_model)` });
  const others = c.base ? c.models.filter((m) => !sameRef(m.model, c.base!)) : c.models;
  if (info.exactModels !== undefined) {
    const count = others.length + (c.base ? 1 : 0);
    if (count !== info.exactModels)
      ctx.addIssue({
        code: 'custom',
        path: ['models'],
        message: `${c.method} merges exactly ${info.exactModels} models (the base and one other); got ${count}`,
      });
  }
  if (info.needsBase && c.base && others.length === 0)
    ctx.addIssue({ code: 'custom', path: ['models'], message: `${c.method} needs at least one model besides the base` });
  checkParams(ctx, ['parameters'], c.parameters, { ...info.global, ...info.perModel }, {}, c.method);
  c.models.forEach((m, i) => checkParams(ctx, ['models', i, 'parameters'], m.parameters, info.perModel, info.global, c.method));
  // a required per-model parameter (weight) must be given for every model but the base
  for (const [name, def] of Object.entries(info.perModel)) {
    if (def.default !== undefined || name in c.parameters) continue;
    c.models.forEach((m, i) => {
      if (c.base && sameRef(m.model, c.base) && info.needsBase) return;
      if (!(name in m.parameters))
        ctx.addIssue({ code: 'custom', path: ['models', i, 'parameters', name], message: `missing required parameter ${name} for ${m.model.modelPath}` });
    });
  }
  for (const [name, def] of Object.entries(info.global))
    if (def.default === undefined && !(name in c.parameters))
      ctx.addIssue({ code: 'custom', path: ['parameters', name], message: `missing required parameter ${name} (${def.description})` });
});
export type MergeConfig = z.infer<typeof MergeConfig>;
export type MergeConfigInput = z.input<typeof MergeConfig>;

/** Parameters of the `merge.run` job. */
export const MergeRunParams = z
  .object({
    config: MergeConfig,
    /** a new folder (Hugging Face safetensors) or a new .gguf file; never overwritten */
    outPath: z.string().min(1, 'outPath must not be empty'),
    /** largest safetensors shard of a folder output (default 5 GiB, as Hugging Face writes them) */
    maxShardBytes: z.number().int().min(1024).optional(),
    /** tensors merged at once on worker threads (default: the machine's cores, at most 4) */
    threads: z.number().int().min(1).max(64).optional(),
    name: z.string().trim().min(1).max(120).optional(),
    /** when it succeeds, the app adds the merged model to the Models list (a `model.inspect`) */
    addToModels: z.boolean().optional(),
  })
  .strict();
export type MergeRunParams = z.infer<typeof MergeRunParams>;
export type MergeRunParamsInput = z.input<typeof MergeRunParams>;

/**
 * `merge.run` as the app's callers queue it: without `outPath` the app writes a new folder in the
 * workspace's models/ (in the base model's format); with one, it must be a new name directly in models/.
 */
export const MergeRunRequest = MergeRunParams.partial({ outPath: true });
export type MergeRunRequest = z.infer<typeof MergeRunRequest>;

export const MergeRunResult = z.object({
  outPath: z.string(),
  format: z.enum(['hf', 'gguf']),
  method: MergeMethodId,
  tensors: z.number().int(),
  /** bytes of tensor data read from the inputs and written to the output */
  bytesRead: z.number(),
  bytesWritten: z.number(),
  seconds: z.number(),
});
export type MergeRunResult = z.infer<typeof MergeRunResult>;

/** What a merge will take before it starts (read from the inputs' headers): the Merge tab's preview. */
export const MergePlanSummary = z.object({
  format: z.enum(['hf', 'gguf']),
  tensors: z.number().int(),
  /** bytes of tensor data read from the inputs */
  bytesRead: z.number(),
  /** bytes of the output once written: every file (shards and their headers, index, config, tokenizer) or the GGUF file */
  outputBytes: z.number(),
  /** the largest merged tensor as written, in bytes and elements */
  largestTensorBytes: z.number(),
  largestTensorElements: z.number().int(),
  /** tensors merged at once */
  threads: z.number().int(),
  /** the chunk, read and write buffers of all threads */
  bufferBytes: z.number(),
  /** estimated peak resident memory of the merge process (buffers, adapters held, the process itself) */
  peakMemoryBytes: z.number(),
  /** free space where the output is written (null when it cannot be read) */
  freeBytes: z.number().nullable(),
});
export type MergePlanSummary = z.infer<typeof MergePlanSummary>;

/**
 * A coefficient sweep: the same merge at several values of one parameter (a global one such as
 * lambda or t, or one model's weight or density), each written as its own output under `outDir`.
 */
export const MergeSweepParams = z
  .object({
    config: MergeConfig,
    parameter: z.string().min(1),
    /** index into config.models for a per-model parameter; omitted for a global one */
    modelIndex: z.number().int().min(0).optional(),
    values: z.array(z.number().finite()).min(1).max(100),
    outDir: z.string().min(1),
    format: z.enum(['hf', 'gguf']).default('hf'),
  })
  .strict();
export type MergeSweepParams = z.infer<typeof MergeSweepParams>;

/** The `merge.run` params of each point of a sweep (validated; throws naming the bad value). */
export function expandMergeSweep(input: z.input<typeof MergeSweepParams>): MergeRunParams[] {
  const p = MergeSweepParams.parse(input);
  const info = MERGE_METHOD_INFO[p.config.method];
  const perModel = p.modelIndex !== undefined;
  const def = perModel ? info.perModel[p.parameter] : info.global[p.parameter];
  if (!def || def.kind !== 'number') throw new Error(`${p.parameter} is not a numeric ${perModel ? 'per-model' : 'global'} parameter of ${p.config.method}`);
  if (perModel && !p.config.models[p.modelIndex!]) throw new Error(`modelIndex ${p.modelIndex} is out of range (${p.config.models.length} models)`);
  const dir = p.outDir.replace(/[\\/]+$/, '');
  return p.values.map((v) => {
    const config: MergeConfig = perModel
      ? { ...p.config, models: p.config.models.map((m, i) => (i === p.modelIndex ? { ...m, parameters: { ...m.parameters, [p.parameter]: v } } : m)) }
      : { ...p.config, parameters: { ...p.config.parameters, [p.parameter]: v } };
    const label = `${p.parameter}${perModel ? `${p.modelIndex}` : ''}-${v}`;
    return MergeRunParams.parse({ config, outPath: `${dir}/${label}${p.format === 'gguf' ? '.gguf' : ''}`, name: `${p.config.method} ${label}` });
  });
}

/* ── Safety/utility coefficient sweeps of a project ─────────────────────────────────────────── */

const Id = z.number().int().positive();

/** What a sweep interpolates: a finished training run (its base model and adapter) or two models. */
export const MergeSweepSource = z.union([z.object({ trainJobId: Id }).strict(), z.object({ aligned: MergeModelRef, fineTuned: MergeModelRef }).strict()]);
export type MergeSweepSource = z.infer<typeof MergeSweepSource>;

/** The methods a sweep offers: α scales the (trimmed, for TIES) task vector fine-tuned − aligned. */
export const MergeSweepMethod = z.enum(['task_arithmetic', 'ties', 'magmax']);
export type MergeSweepMethod = z.infer<typeof MergeSweepMethod>;

/** How each merged model is evaluated: an `eval.run` without its project, model and name (the sweep sets them). */
export const MergeSweepEval = evalRunFieldsFor(JUDGES).omit({ projectId: true, model: true, name: true });
export type MergeSweepEval = z.infer<typeof MergeSweepEval>;

/**
 * A coefficient sweep: for each α a `merge.run` of aligned + α·(fine-tuned − aligned) (α is the
 * merge's `lambda`), the merged model added to the Models list (`model.inspect`), then an
 * `eval.run` of it on the chosen suites. The merged models are written to a new folder of the
 * workspace's models/ chosen by the app. `eval` is parsed here as `eval.run` parses it (the judges a
 * guard model adds, judge parameters with their defaults), so the sweep queues what was checked.
 */
export const MergeSweepRequest = z
  .object({
    projectId: Id,
    name: z.string().trim().min(1).max(120).optional(),
    source: MergeSweepSource,
    method: MergeSweepMethod.default('task_arithmetic'),
    alphas: z
      .array(z.number().finite().min(-10, 'α must be in [-10, 10]').max(10, 'α must be in [-10, 10]'))
      .min(1, 'list at least one α')
      .max(20, 'at most 20 α per sweep')
      .refine((a) => new Set(a).size === a.length, 'each α once'),
    /** TIES only: the fraction of the task vector kept (default 1: nothing trimmed) */
    density: z.number().gt(0, 'density must be in (0, 1]').max(1, 'density must be in (0, 1]').optional(),
    dtype: MergeDtype.optional(),
    /** default: the aligned model's format */
    format: z.enum(['hf', 'gguf']).optional(),
    /** omitted: the models are merged and listed but not evaluated */
    eval: MergeSweepEval.optional(),
  })
  .strict()
  .transform((r, ctx) => {
    if (r.density !== undefined && r.method !== 'ties')
      ctx.addIssue({ code: 'custom', path: ['density'], message: `density applies to ties only, not ${r.method}` });
    if (!r.eval) return { ...r, eval: undefined };
    // checked once, as eval.run checks them (judges and their guard model, judge parameters with their defaults): the sweep queues these settings
    const checked = EvalRunParams.safeParse({ ...r.eval, projectId: r.projectId, model: { kind: 'engine', path: '.' } });
    if (!checked.success) {
      for (const issue of checked.error.issues) ctx.addIssue({ code: 'custom', path: ['eval', ...issue.path.map(String)], message: issue.message });
      return z.NEVER;
    }
    const { projectId: _project, model: _model, name: _name, ...settings } = checked.data;
    return { ...r, eval: settings };
  });
export type MergeSweepRequest = z.infer<typeof MergeSweepRequest>;
export type MergeSweepRequestInput = z.input<typeof MergeSweepRequest>;

/** The merge config of one sweep point (α is `lambda`; the fine-tuned model's weight is 1). */
export function sweepMergeConfig(
  method: MergeSweepMethod,
  aligned: MergeModelRef,
  fineTuned: MergeModelRef,
  alpha: number,
  opts: { density?: number | undefined; dtype?: MergeDtype | undefined } = {},
): MergeConfig {
  const perModel = method === 'magmax' ? {} : { weight: 1, ...(opts.density !== undefined ? { density: opts.density } : {}) };
  return MergeConfig.parse({
    method,
    base: aligned,
    models: [{ model: fineTuned, parameters: perModel }],
    parameters: { lambda: alpha },
    ...(opts.dtype ? { dtype: opts.dtype } : {}),
  });
}

/** Where a sweep point is: the step it is at and the state of that step's job. */
export const MergeSweepStage = z.enum(['merge', 'register', 'eval', 'done']);
export const MergeSweepPoint = z.object({
  alpha: z.number(),
  /** the merged model (a .gguf file or a Hugging Face folder) */
  modelPath: z.string(),
  stage: MergeSweepStage,
  /** the state of the stage's job; `waiting` before it is queued; `succeeded` when done */
  state: z.union([JobState, z.literal('waiting')]),
  mergeJobId: Id.nullable(),
  inspectJobId: Id.nullable(),
  evalJobId: Id.nullable(),
  /** the merged model in the Models list, once registered */
  modelId: Id.nullable(),
  evalRunId: Id.nullable(),
  /** the evaluation's headline numbers (attack success, refusal, over-refusal, task score), once it has finished */
  summary: EvalRun.shape.summary.nullable(),
});
export type MergeSweepPoint = z.infer<typeof MergeSweepPoint>;

export const MergeSweep = z.object({
  id: Id,
  projectId: Id,
  name: z.string(),
  method: MergeSweepMethod,
  aligned: MergeModelRef,
  fineTuned: MergeModelRef,
  trainJobId: Id.nullable(),
  evaluates: z.boolean(),
  /** the models/ folder the merged models are written to */
  outDir: z.string(),
  createdAt: z.string(),
  /** in α order as requested */
  points: z.array(MergeSweepPoint),
});
export type MergeSweep = z.infer<typeof MergeSweep>;
