/** The Merge tab's models: the base model (when the method needs one) and each model with its own parameters. */
import { SchemaFields } from '../../forms/SchemaFields';
import { paramFields } from '../../forms/schemaForm';
import { Button, SelectField } from '../../components/ui';
import { choiceFor, MERGE_TABLE, newModelState, type MergeFormState, type ModelChoice } from './mergeForm';

interface Props {
  state: MergeFormState;
  choices: readonly ModelChoice[];
  errors: Record<string, string>;
  onChange: (update: (s: MergeFormState) => MergeFormState) => void;
}

/** The choices plus the one a state names that the lists lack (an imported path), and "choose…". */
function optionsWith(choices: readonly ModelChoice[], current: string) {
  const extra = current && !choices.some((c) => c.value === current) ? choiceFor(current, choices) : null;
  return [{ value: '', label: 'choose a model…' }, ...choices, ...(extra ? [extra] : [])].map((c) => ({ value: c.value, label: c.label }));
}

export function MergeModels({ state, choices, errors, onChange }: Props) {
  const row = MERGE_TABLE[state.method];
  const fields = paramFields(row.perModel);
  const setModel = (i: number, patch: Partial<MergeFormState['models'][number]>) =>
    onChange((s) => ({ ...s, models: s.models.map((m, j) => (j === i ? { ...m, ...patch } : m)) }));
  return (
    <fieldset className="merge-models">
      <legend>Models</legend>
      {choices.length === 0 && (
        <p className="muted small">Add models in Models &amp; Playground, or finish a training run: its adapter on its base model can be merged.</p>
      )}
      {row.needsBase && (
        <div className="merge-model" data-testid="merge-base">
          <SelectField
            label="Base model"
            value={state.base}
            options={optionsWith(choices, state.base)}
            onChange={(v) => onChange((s) => ({ ...s, base: v }))}
          />
          {errors['base'] && <p className="field-error">{errors['base']}</p>}
        </div>
      )}
      {state.models.map((m, i) => (
        <div key={i} className="merge-model" data-testid={`merge-model-${i}`} role="group" aria-label={`Model ${i + 1} and its parameters`}>
          <div className="merge-model-top">
            <SelectField label={`Model ${i + 1}`} value={m.model} options={optionsWith(choices, m.model)} onChange={(v) => setModel(i, { model: v })} />
            {state.models.length > 1 && (
              <Button
                variant="ghost"
                onClick={() => onChange((s) => ({ ...s, models: s.models.filter((_, j) => j !== i) }))}
                aria-label={`Remove model ${i + 1}`}
              >
                Remove
              </Button>
            )}
          </div>
          {errors[`models.${i}.model`] && <p className="field-error">{errors[`models.${i}.model`]}</p>}
          {fields.length > 0 && (
            <div className="method-params">
              <SchemaFields
                fields={fields}
                values={{ ...newModelState(state.method).params, ...m.params }}
                errors={Object.fromEntries(fields.map((f) => [f.key, errors[`models.${i}.${f.key}`]]).filter(([, e]) => e)) as Record<string, string>}
                onChange={(k, v) => setModel(i, { params: { ...m.params, [k]: v } })}
                labels={Object.fromEntries(fields.map((f) => [f.key, `${f.title} of model ${i + 1}`]))}
              />
            </div>
          )}
        </div>
      ))}
      <Button onClick={() => onChange((s) => ({ ...s, models: [...s.models, newModelState(s.method)] }))}>Add a model</Button>
    </fieldset>
  );
}
