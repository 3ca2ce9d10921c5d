/**
 * "Duplicate this run's settings": a finished run's parameters written into its form's stored
 * fields (see forms/persist), so the form shows them the next time it mounts. Values are as the
 * forms hold them (text fields as strings, lists as arrays); a model is matched by its path. An
 * evaluation keeps its judges, their parameters and the Llama Guard model they judge with.
 */
import type { EvalRunParams } from '../../../shared/eval';
import type { TrainRunParams } from '../../../shared/train';
import { formKey, presetFields } from '../forms/persist';
import { evaluateFormKey, trainFormKey, type FinishedTrainRun } from './trainRuns';

type FieldValue = string | boolean | string[];
const text = (v: unknown): FieldValue => (Array.isArray(v) ? v.map(String) : typeof v === 'boolean' ? v : String(v));

/** A form's stored fields: the key they live under and their values. */
export type FormPreset = [key: string, fields: Record<string, FieldValue>];

/** The Train form's stored fields for a training run's parameters. */
export function trainRunPresets(projectId: number, p: TrainRunParams, models: readonly { id: number; path: string }[]): FormPreset[] {
  const model = models.find((m) => m.path === p.modelPath);
  const params = Object.fromEntries(Object.entries(p.methodParams ?? {}).map(([k, v]) => [k, text(v)]));
  return [
    [
      trainFormKey(projectId),
      {
        ...(model ? { modelId: String(model.id) } : {}),
        selectionId: p.selectionId ? String(p.selectionId) : '',
        selectionPicked: true,
        template: p.template,
        fp16Weights: p.frozenWeightDtype === 'float16',
        baseQuant: p.baseQuant,
        recompute: p.recompute,
      },
    ],
    [`${formKey('train', projectId)}/method`, { method: p.method }],
    [`${formKey('train', projectId)}/params/${p.method}`, params],
    [
      formKey('train', projectId, 'settings'),
      {
        rank: text(p.lora.rank),
        alpha: text(p.lora.alpha),
        lr: text(p.lr),
        maxSteps: text(p.maxSteps),
        epochs: p.epochs === undefined ? '' : text(p.epochs),
        batchSize: text(p.batchSize),
        maxLength: text(p.maxLength),
        targetModules: text(p.lora.targetModules),
        schedule: p.schedule,
        warmupSteps: text(p.warmupSteps),
        minLrRatio: text(p.minLrRatio),
        weightDecay: text(p.weightDecay),
      },
    ],
  ];
}

/** The Evaluate form's stored fields for an evaluation run's parameters (its name left for the new run). */
export function evalRunPresets(
  projectId: number,
  p: EvalRunParams,
  models: readonly { id: number; path: string }[],
  runs: readonly FinishedTrainRun[],
): FormPreset[] {
  const fields: Record<string, FieldValue> = {
    name: '',
    limit: p.limit ? String(p.limit) : '',
    maxTokens: String(p.sampling.maxNewTokens),
    promptFormat: p.promptFormat,
  };
  if (p.model.kind === 'engine') {
    const spec = p.model;
    const model = models.find((m) => m.path === spec.path);
    const run = spec.adapterPath ? runs.find((r) => r.adapterPath === spec.adapterPath) : undefined;
    Object.assign(fields, { backend: 'engine', ...(model ? { modelId: String(model.id) } : {}) });
    Object.assign(
      fields,
      run
        ? { adapterRun: String(run.jobId), adapter: '' }
        : spec.adapterPath
          ? { adapterRun: 'folder', adapter: spec.adapterPath }
          : { adapterRun: '', adapter: '' },
    );
  } else Object.assign(fields, { backend: 'http', remoteModel: p.model.model, ...(p.model.endpointId ? { serverId: String(p.model.endpointId) } : {}) });
  const custom = p.suites.find((s) => 'file' in s);
  Object.assign(fields, {
    suites: p.suites.flatMap((s) => ('builtin' in s ? [s.builtin] : [])),
    datasets: p.suites.flatMap((s) => ('dataset' in s ? [String(s.dataset)] : [])),
    customFile: custom && 'file' in custom ? custom.file : '',
    ...(custom && 'file' in custom ? { customKind: custom.kind } : {}),
  });
  const guardSpec = p.guardModel;
  const guard = guardSpec?.kind === 'engine' ? models.find((m) => m.path === guardSpec.path) : undefined;
  if (guard) fields.guardId = String(guard.id);
  return [[evaluateFormKey(projectId), fields], ...judgePresets(projectId, p)];
}

/** The judges' stored fields: the chosen judges and their parameters, keyed as useMethodSet keys them ("judge:param"). */
function judgePresets(projectId: number, p: EvalRunParams): FormPreset[] {
  const key = formKey('evaluate', projectId, 'judges');
  const params = Object.fromEntries(Object.entries(p.judgeParams ?? {}).flatMap(([id, ps]) => Object.entries(ps).map(([k, v]) => [`${id}:${k}`, text(v)])));
  return [
    [`${key}/methods`, { chosen: [...p.judges] }],
    [`${key}/params/${p.judges.join('+')}`, params],
  ];
}

/** Writes presets into the forms' stored state. */
export function applyPresets(presets: readonly FormPreset[]): void {
  for (const [key, fields] of presets) presetFields(key, fields);
}
