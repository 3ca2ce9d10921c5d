/**
 * The Train form: base model, the training mode (LoRA adapter or full-parameter, with its own
 * settings), a method from the table with its parameters, the saved selection its needs call for,
 * the prompt template, and the run settings as fields of the run's own schemas (defaults and
 * ranges from src/shared/train.ts); pre-flight and memory estimate before Start.
 */
import { useEffect, type FormEvent } from 'react';
import { z } from 'zod';
import {
  BASE_QUANTS,
  PoisonSettings,
  TRAIN_MODES,
  TrainSettings,
  runBlockedReason,
  type BaseQuant,
  type FullSettings,
  type LoraSettings,
  type TrainMemoryInput,
  type TrainMethod,
  type TrainTemplate,
} from '../../../../shared/train';
import { api } from '../../api/client';
import { useAction, useCall } from '../../api/hooks';
import { Button, Card, ErrorBanner, SelectField } from '../../components/ui';
import { SchemaFields } from '../../forms/SchemaFields';
import { formKey, usePersistentFields } from '../../forms/persist';
import { useMethodChoice } from '../../forms/useMethodChoice';
import { useSchemaForm } from '../../forms/useSchemaForm';
import { useMethodTables } from '../../forms/widgets';
import { trainFormKey, trainSelection } from '../trainRuns';
import { MemoryEstimate } from './MemoryEstimate';
import { Preflight, usePreflight } from './Preflight';
import { TrainMethodSection, trainNeedsMissing } from './TrainMethodSection';
import { TrainModeSection } from './TrainModeSection';

/** The run settings the form shows, in its order; every other setting keeps its schema default. */
const RUN_FIELDS = z.object({
  lr: TrainSettings.shape.lr,
  maxSteps: TrainSettings.shape.maxSteps,
  epochs: TrainSettings.shape.epochs,
  batchSize: TrainSettings.shape.batchSize,
  maxLength: TrainSettings.shape.maxLength,
  schedule: TrainSettings.shape.schedule,
  warmupSteps: TrainSettings.shape.warmupSteps,
  minLrRatio: TrainSettings.shape.minLrRatio,
  weightDecay: TrainSettings.shape.weightDecay,
});

/** The poison control's fields (the run's PoisonSettings: share and file; the field names keep their defaults). */
const POISON_FIELDS = z.object({ rate: PoisonSettings.shape.rate, file: PoisonSettings.shape.file });

type ModeSettings = { mode: 'lora'; lora: z.output<typeof LoraSettings> } | { mode: 'full'; full: z.output<typeof FullSettings> };

/** The chosen mode with its settings as the job takes them, or null while a field is invalid. */
function modeSettings(mode: string, data: Record<string, unknown> | null): ModeSettings | null {
  if (!data) return null;
  return mode === 'full' ? { mode: 'full', full: data as z.output<typeof FullSettings> } : { mode: 'lora', lora: data as z.output<typeof LoraSettings> };
}

/** What the memory estimate needs of the mode's settings. */
function modeEstimate(m: ModeSettings): Pick<TrainMemoryInput, 'mode' | 'rank' | 'targetModules' | 'dropout' | 'trainable'> {
  return m.mode === 'full'
    ? { mode: 'full', trainable: m.full.trainable }
    : { mode: 'lora', rank: m.lora.rank, targetModules: m.lora.targetModules, dropout: m.lora.dropout };
}

export function TrainForm({ projectId }: { projectId: number }) {
  const models = useCall('models.list', {});
  const selections = useCall('select.list', { projectId }, [projectId]);
  const { train: methods } = useMethodTables();
  const choice = useMethodChoice(methods, formKey('train', projectId), 'replay');
  const modeChoice = useMethodChoice(TRAIN_MODES, formKey('train', projectId, 'mode'), 'lora');
  const mode = modeSettings(modeChoice.method, modeChoice.form.data);
  const settings = useSchemaForm(RUN_FIELDS, formKey('train', projectId, 'settings'));
  const poison = useSchemaForm(POISON_FIELDS, formKey('train', projectId, 'poison'));
  const [f, set] = usePersistentFields(trainFormKey(projectId), {
    modelId: '',
    selectionId: '',
    /** The user chose the safety examples here (else the newest saved selection is shown). */
    selectionPicked: false,
    template: 'alpaca' as TrainTemplate,
    recompute: false,
    fp16Weights: false,
    baseQuant: 'none' as BaseQuant,
    poisoned: false,
  });
  useEffect(() => {
    if (!f.modelId && models.data?.[0]) set('modelId', String(models.data[0].id));
  }, [models.data, f.modelId, set]);
  // methods without safety examples train on the task data alone: no selection is sent for them
  const selectionId = choice.row.safety ? trainSelection(f, selections.data) : '';
  const run = settings.data;
  // a quantised base is for LoRA runs: full-parameter training sends none
  const baseQuant: BaseQuant = modeChoice.method === 'lora' ? f.baseQuant : 'none';
  // fp16 or quantised frozen weights recompute activations (the trainer turns it on)
  const recomputeForced = f.fp16Weights || baseQuant !== 'none';
  const start = useAction(async () => {
    const model = models.data!.find((m) => String(m.id) === f.modelId)!;
    await api.call('jobs.start', {
      spec: {
        type: 'train.run',
        params: {
          projectId,
          modelPath: model.path,
          // the app's table is the shipped one: its ids are the job schema's
          method: choice.method as TrainMethod,
          methodParams: choice.form.data ?? {},
          template: f.template,
          ...(selectionId ? { selectionId: Number(selectionId) } : {}),
          ...mode!,
          ...run!,
          recompute: f.recompute || recomputeForced,
          frozenWeightDtype: f.fp16Weights ? 'float16' : 'float32',
          baseQuant,
          ...(f.poisoned && poison.data ? { poison: poison.data } : {}),
        },
      },
    });
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  const missing = trainNeedsMissing(choice.row, !!selectionId, { mode: modeChoice.method, params: choice.form.data });
  const modelPath = models.data?.find((m) => String(m.id) === f.modelId)?.path;
  const maxTokens = settings.errors.maxLength ? null : Number(settings.values.maxLength);
  const preflight = usePreflight(projectId, modelPath, selectionId ? Number(selectionId) : undefined, f.template);
  const blocked = preflight.result && maxTokens !== null ? runBlockedReason(preflight.result, { id: choice.method, row: choice.row }, maxTokens) : null;
  return (
    <Card title="New fine-tuning run">
      <form onSubmit={onSubmit} className="select-form">
        <div className="filters">
          <SelectField
            label="Base model"
            value={f.modelId}
            options={(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))}
            onChange={(v) => set('modelId', v)}
          />
          <SelectField
            label="Safety examples"
            value={selectionId}
            options={
              choice.row.safety
                ? [{ value: '', label: 'none' }, ...(selections.data ?? []).map((s) => ({ value: String(s.id), label: `${s.name} (${s.summary.selected})` }))]
                : [{ value: '', label: `none: ${choice.row.label} trains on the task data alone` }]
            }
            onChange={(v) => {
              set('selectionId', v);
              set('selectionPicked', true);
            }}
          />
          <SelectField
            label="Prompt template"
            value={f.template}
            options={[
              { value: 'alpaca', label: 'Alpaca' },
              { value: 'chat', label: "the model's chat template" },
              { value: 'plain', label: 'none' },
            ]}
            onChange={(v) => set('template', v)}
          />
        </div>
        <TrainModeSection choice={modeChoice} />
        <TrainMethodSection choice={choice} selectionChosen={!!selectionId} mode={modeChoice.method} />
        <div className="filters">
          <SchemaFields fields={settings.fields} values={settings.values} errors={settings.errors} onChange={settings.set} />
        </div>
        <details className="small" open={f.poisoned}>
          <summary>Poisoned user data (a research control)</summary>
          <label>
            <input type="checkbox" checked={f.poisoned} onChange={(e) => set('poisoned', e.target.checked)} /> Mix harmful prompts with compliant answers into
            the task data, as a share of it (e.g. AdvBench’s harmful/advbench_harmful_behaviors.csv: goal and target) — to measure how a method holds up when
            the user’s data is poisoned
          </label>
          {f.poisoned && (
            <div className="filters">
              <SchemaFields fields={poison.fields} values={poison.values} errors={poison.errors} onChange={poison.set} />
            </div>
          )}
        </details>
        <label className="small">
          <input type="checkbox" checked={f.recompute || recomputeForced} disabled={recomputeForced} onChange={(e) => set('recompute', e.target.checked)} />{' '}
          Recompute activations in the backward pass (activation checkpointing: less memory, about a quarter more compute per step)
        </label>
        <label className="small">
          <input type="checkbox" checked={f.fp16Weights} onChange={(e) => set('fp16Weights', e.target.checked)} /> Keep the frozen weights in fp16 (half their
          memory; trains on fp16-rounded weights; recomputes activations)
        </label>
        {modeChoice.method === 'lora' && (
          <div className="filters">
            <SelectField
              label="Quantise the frozen base"
              value={f.baseQuant}
              options={Object.entries(BASE_QUANTS).map(([id, row]) => ({ value: id, label: row.label }))}
              onChange={(v) => set('baseQuant', v as BaseQuant)}
            />
            <p className="muted small">
              {BASE_QUANTS[f.baseQuant].description}
              {f.baseQuant !== 'none' && '; the adapter and all compute stay float32; recomputes activations'}
            </p>
          </div>
        )}
        {modelPath && run && mode && (
          <MemoryEstimate
            input={{
              modelPath,
              batchSize: run.batchSize,
              maxLength: run.maxLength,
              ...modeEstimate(mode),
              recompute: f.recompute,
              frozenWeightDtype: f.fp16Weights ? 'float16' : 'float32',
              baseQuant,
            }}
          />
        )}
        <Preflight state={preflight} method={choice.row} maxLength={maxTokens} onUse={(n) => settings.set('maxLength', String(n))} />
        <ErrorBanner error={start.error} />
        <Button
          type="submit"
          variant="primary"
          busy={start.pending}
          disabled={!f.modelId || !run || !mode || !choice.form.data || missing !== null || blocked !== null || (f.poisoned && !poison.data)}
        >
          Start fine-tuning
        </Button>
        {blocked && (
          <p className="field-error" role="alert" data-testid="start-blocked">
            Cannot start: {blocked}.
          </p>
        )}
      </form>
    </Card>
  );
}
