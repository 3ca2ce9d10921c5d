/**
 * The Merge tab's form (pure: no React, no DOM): the merge methods as a method table whose global
 * and per-model parameters are zod objects (for the shared form components), the models a merge can
 * take (the Models list and finished training runs' adapters on their base), the form's state and
 * the merge config it makes, and a config (an imported YAML) turned back into form state.
 */
import { z } from 'zod';
import type { Job } from '../../../../shared/domain';
import { MERGE_METHOD_INFO, MergeConfig, MergeDtype, MergeMethodId, type MergeModelRef, type MergeParamDef, type ParamSetting } from '../../../../shared/merge';
import type { MethodRow } from '../../../../shared/methods/table';
import type { RegisteredModel } from '../../../../shared/models';
import { initialValues, paramFields, validateValues, type FormValues } from '../../forms/schemaForm';

const title = (key: string) => (key.charAt(0).toUpperCase() + key.slice(1)).replace(/_/g, ' ');

/** A merge table's parameters as a zod object of fields (title, one line, default, range). */
function paramsObject(defs: Record<string, MergeParamDef>): z.ZodObject {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, def] of Object.entries(defs)) {
    const base = def.schema as z.ZodType;
    shape[key] = (def.default === undefined ? base : (base as z.ZodNumber).default(def.default as never)).meta({
      title: title(key),
      description: def.description,
    });
  }
  return z.object(shape);
}

export interface MergeRow extends MethodRow {
  /** each model's own parameters (weight, density) */
  perModel: z.ZodObject;
  needsBase: boolean;
}

/** The merge methods as a method table: `params` are the global parameters (lambda, normalize…). */
export const MERGE_TABLE: Record<MergeMethodId, MergeRow> = Object.fromEntries(
  MergeMethodId.options.map((id) => {
    const info = MERGE_METHOD_INFO[id];
    return [
      id,
      {
        label: info.label,
        description: info.description,
        reference: info.reference,
        params: paramsObject(info.global),
        perModel: paramsObject(info.perModel),
        needsBase: info.needsBase,
      },
    ];
  }),
) as Record<MergeMethodId, MergeRow>;

/** What the needs list under the method says. */
export function methodNeeds(id: MergeMethodId): string[] {
  const info = MERGE_METHOD_INFO[id];
  return [
    ...(info.needsBase ? ['a base model (task vectors are taken against it)'] : []),
    ...(info.exactModels ? [`exactly ${info.exactModels} models, the base included`] : []),
  ];
}

/** A model the form can pick: its reference (the select's value is its JSON) and a label. */
export interface ModelChoice {
  value: string;
  label: string;
  ref: MergeModelRef;
}

export const refKey = (ref: MergeModelRef): string =>
  JSON.stringify(ref.adapterPath ? { modelPath: ref.modelPath, adapterPath: ref.adapterPath } : { modelPath: ref.modelPath });

export function refOf(key: string): MergeModelRef | null {
  try {
    const r = JSON.parse(key) as MergeModelRef;
    return typeof r.modelPath === 'string' ? r : null;
  } catch {
    return null;
  }
}

const fileName = (p: string) => p.split(/[\\/]/).filter(Boolean).pop() ?? p;

/** The Models list, then each finished training run's adapter applied onto its base model. */
export function modelChoices(models: readonly RegisteredModel[], jobs: readonly Job[]): ModelChoice[] {
  const out: ModelChoice[] = models.map((m) => ({
    value: refKey({ modelPath: m.path }),
    label: `${m.info.name} (${fileName(m.path)})`,
    ref: { modelPath: m.path },
  }));
  for (const j of jobs) {
    const adapterPath = (j.result as { adapterPath?: unknown } | null)?.adapterPath;
    if (j.type !== 'train.run' || j.state !== 'succeeded' || typeof adapterPath !== 'string') continue;
    const ref = { modelPath: (j.params as { modelPath: string }).modelPath, adapterPath };
    out.push({ value: refKey(ref), label: `Training run #${j.id}: ${fileName(ref.modelPath)} + its adapter`, ref });
  }
  return out;
}

/** A choice for a reference the lists do not hold (from an imported YAML). */
export function choiceFor(key: string, choices: readonly ModelChoice[]): ModelChoice | null {
  const known = choices.find((c) => c.value === key);
  if (known) return known;
  const ref = refOf(key);
  return ref ? { value: key, label: ref.adapterPath ? `${ref.modelPath} + ${ref.adapterPath}` : ref.modelPath, ref } : null;
}

export interface MergeModelState {
  /** refKey of the model; '' none chosen */
  model: string;
  params: FormValues;
}

export interface MergeFormState {
  method: MergeMethodId;
  /** refKey of the base model; '' none */
  base: string;
  models: MergeModelState[];
  /** global parameters by method (each method keeps its own) */
  global: Partial<Record<MergeMethodId, FormValues>>;
  dtype: '' | MergeDtype;
  /** '' the base model's format */
  format: '' | 'hf' | 'gguf';
  name: string;
}

/** A model row at its defaults (weight 1: the model counts fully). */
export function newModelState(method: MergeMethodId, model = ''): MergeModelState {
  const params = initialValues(paramFields(MERGE_TABLE[method].perModel));
  if (params['weight'] === '') params['weight'] = '1';
  return { model, params };
}

export function initialMergeState(): MergeFormState {
  return { method: 'task_arithmetic', base: '', models: [newModelState('task_arithmetic')], global: {}, dtype: '', format: '', name: '' };
}

/** A stored state (an earlier visit) checked field by field; anything malformed falls back to the defaults. */
export function restoreMergeState(stored: unknown): MergeFormState {
  const init = initialMergeState();
  if (!stored || typeof stored !== 'object') return init;
  const s = stored as Partial<MergeFormState>;
  const method = MergeMethodId.safeParse(s.method).success ? s.method! : init.method;
  const models =
    Array.isArray(s.models) && s.models.every((m) => m && typeof m.model === 'string' && m.params && typeof m.params === 'object') ? s.models : init.models;
  return {
    method,
    base: typeof s.base === 'string' ? s.base : '',
    models: models.length ? models : init.models,
    global: s.global && typeof s.global === 'object' ? s.global : {},
    dtype: s.dtype === '' || MergeDtype.safeParse(s.dtype).success ? (s.dtype as MergeFormState['dtype']) : '',
    format: s.format === 'hf' || s.format === 'gguf' ? s.format : '',
    name: typeof s.name === 'string' ? s.name : '',
  };
}

/** The global parameters' values of the chosen method (stored over the defaults). */
export function globalValues(state: MergeFormState): FormValues {
  return { ...initialValues(paramFields(MERGE_TABLE[state.method].params)), ...(state.global[state.method] ?? {}) };
}

export interface BuiltMerge {
  config: MergeConfig | null;
  /** by field: "base", "models.0.model", "models.0.weight", "lambda"… */
  errors: Record<string, string>;
  /** problems of the whole config (models that clash, a count slerp refuses) */
  problems: string[];
}

/** The form's merge config, or what is wrong with it. */
export function buildMergeConfig(state: MergeFormState): BuiltMerge {
  const row = MERGE_TABLE[state.method];
  const errors: Record<string, string> = {};
  const global = validateValues(row.params, paramFields(row.params), globalValues(state));
  for (const [k, v] of Object.entries(global.errors)) errors[k] = v;
  const base = row.needsBase ? refOf(state.base) : null;
  if (row.needsBase && !base) errors['base'] = `${row.label} needs a base model`;
  const perModelFields = paramFields(row.perModel);
  const models = state.models.map((m, i) => {
    const ref = refOf(m.model);
    if (!ref) errors[`models.${i}.model`] = 'choose a model';
    const v = validateValues(row.perModel, perModelFields, { ...newModelState(state.method).params, ...m.params });
    for (const [k, e] of Object.entries(v.errors)) errors[`models.${i}.${k}`] = e;
    return ref && v.data ? { model: ref, parameters: v.data as Record<string, ParamSetting> } : null;
  });
  if (Object.keys(errors).length || !global.data) return { config: null, errors, problems: [] };
  const parsed = MergeConfig.safeParse({
    method: state.method,
    ...(base ? { base } : {}),
    models: models as NonNullable<(typeof models)[number]>[],
    parameters: global.data,
    ...(state.dtype ? { dtype: state.dtype } : {}),
  });
  if (!parsed.success) return { config: null, errors, problems: parsed.error.issues.map((i) => `${i.path.join('.') || 'merge'}: ${i.message}`) };
  return { config: parsed.data, errors, problems: [] };
}

/** A config (an imported YAML) as form state; a gradient or conditional parameter cannot be edited here and is refused by name. */
export function stateFromConfig(c: MergeConfig, keep: Pick<MergeFormState, 'format' | 'name'>): MergeFormState {
  const scalar = (where: string, name: string, v: ParamSetting): string | boolean => {
    if (typeof v === 'number') return String(v);
    if (typeof v === 'boolean') return v;
    throw new Error(
      `${where}${name} is a gradient or a list of conditions: the Merge tab takes one value per parameter (run such a merge with safetune merge --config)`,
    );
  };
  const row = MERGE_TABLE[c.method];
  const perModelKeys = new Set(Object.keys(row.perModel.shape));
  const global: FormValues = {};
  const sharedPerModel: FormValues = {};
  for (const [k, v] of Object.entries(c.parameters)) (perModelKeys.has(k) ? sharedPerModel : global)[k] = scalar('parameters.', k, v);
  const models = c.models
    .filter((m) => !(row.needsBase && c.base && m.model.modelPath === c.base.modelPath && (m.model.adapterPath ?? '') === (c.base.adapterPath ?? '')))
    .map((m, i) => {
      const s = newModelState(c.method, refKey(m.model));
      const own = Object.fromEntries(Object.entries(m.parameters).map(([k, v]) => [k, scalar(`models.${i}.parameters.`, k, v)]));
      return { ...s, params: { ...s.params, ...sharedPerModel, ...own } };
    });
  return {
    method: c.method,
    base: c.base ? refKey(c.base) : '',
    models: models.length ? models : [newModelState(c.method)],
    global: { [c.method]: global },
    dtype: c.outDtype ?? c.dtype ?? '',
    format: keep.format,
    name: keep.name,
  };
}

/** "0, 0.25, 0.5": a sweep's α list, or what is wrong with it (each α once, within the sweep's range). */
export function parseAlphas(text: string): { alphas: number[] } | { error: string } {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (parts.length === 0) return { error: 'list at least one α' };
  const alphas: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!Number.isFinite(n)) return { error: `${p} is not a number` };
    if (n < -10 || n > 10) return { error: `${p}: α must be in [-10, 10]` };
    if (alphas.includes(n)) return { error: `${p} is listed twice` };
    alphas.push(n);
  }
  if (alphas.length > 20) return { error: 'at most 20 α per sweep' };
  return { alphas };
}
