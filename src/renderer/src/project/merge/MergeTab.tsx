/**
 * Merge: a method from the merge table with its parameters, the models (the Models list, or a
 * finished training run's adapter applied onto its base on the fly) with their own parameters, the
 * base model where the method needs one, the output's dtype and format, a preview of the output's
 * size and the merge's peak memory; then Merge → progress → the merged model in the Models list.
 * The form exports to and imports from mergekit YAML.
 */
import { useMemo, useState } from 'react';
import type { Job } from '../../../../shared/domain';
import type { MergeMethodId } from '../../../../shared/merge';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { Button, Card, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { MethodDetails, MethodPicker } from '../../forms/MethodPicker';
import { formKey, usePersistentState } from '../../forms/persist';
import { paramFields, validateValues } from '../../forms/schemaForm';
import type { TabProps } from '../types';
import { MergeJobs } from './MergeJobs';
import { MergeModels } from './MergeModels';
import { MergePreview } from './MergePreview';
import { MergeYaml } from './MergeYaml';
import { buildMergeConfig, globalValues, MERGE_TABLE, methodNeeds, modelChoices, restoreMergeState, type MergeFormState } from './mergeForm';
import './merge.css';

export function MergeTab({ project }: TabProps) {
  const models = useCall('models.list', {});
  const jobs = useCall('jobs.list', { projectId: project.id, limit: 200 }, [project.id]);
  useEvent('models.changed', models.reload);
  const [merges, setMerges] = useState<Job[] | null>(null);
  const listed = merges ?? (jobs.data ?? []).filter(isTabMerge);
  useEvent('job.updated', (j) => {
    // a merged model added to the Models list (this tab's merges queue the inspection)
    if (j.type === 'model.inspect' && j.state === 'succeeded') models.reload();
    if (j.projectId !== project.id) return;
    if (j.type === 'train.run' && j.state === 'succeeded') jobs.reload();
    if (isTabMerge(j)) setMerges(listed.some((x) => x.id === j.id) ? listed.map((x) => (x.id === j.id ? j : x)) : [j, ...listed]);
  });
  const [state, setState] = usePersistentState<MergeFormState>(formKey('merge', project.id), restoreMergeState);
  const choices = useMemo(() => modelChoices(models.data ?? [], jobs.data ?? []), [models.data, jobs.data]);
  const built = useMemo(() => buildMergeConfig(state), [state]);
  const row = MERGE_TABLE[state.method];
  const globalFields = useMemo(() => paramFields(row.params), [row]);
  const globals = globalValues(state);
  const globalErrors = validateValues(row.params, globalFields, globals).errors;
  const update = (patch: Partial<MergeFormState>) => setState((s) => ({ ...s, ...patch }));

  const start = useAction(async () => {
    if (!built.config) return;
    const job = await api.call('merge.start', {
      projectId: project.id,
      run: { config: built.config, ...(state.name.trim() ? { name: state.name.trim() } : {}) },
      ...(state.format ? { format: state.format } : {}),
    });
    setMerges([job, ...listed.filter((x) => x.id !== job.id)]);
  });

  return (
    <>
      <Card title="Merge models" actions={<MergeYaml state={state} config={built.config} onImport={setState} />}>
        <form
          className="merge-form"
          onSubmit={(e) => {
            e.preventDefault();
            void start.run();
          }}
        >
          <MethodPicker legend="Merge method" table={MERGE_TABLE} value={state.method} onChange={(id) => update({ method: id as MergeMethodId })} />
          <MethodDetails
            label={row.label}
            needs={methodNeeds(state.method)}
            form={{
              fields: globalFields,
              values: globals,
              errors: globalErrors,
              data: null,
              set: (k, v) => setState((s) => ({ ...s, global: { ...s.global, [s.method]: { ...globalValues(s), [k]: v } } })),
              reset: () => setState((s) => ({ ...s, global: { ...s.global, [s.method]: {} } })),
            }}
          />
          <MergeModels state={state} choices={choices} errors={built.errors} onChange={setState} />
          <fieldset className="merge-output">
            <legend>Output</legend>
            <SelectField
              label="Output dtype"
              value={state.dtype}
              options={[
                { value: '', label: 'as the base model stores it' },
                { value: 'float32', label: 'float32' },
                { value: 'float16', label: 'float16' },
                { value: 'bfloat16', label: 'bfloat16' },
              ]}
              onChange={(v) => update({ dtype: v })}
            />
            <SelectField
              label="Output format"
              value={state.format}
              options={[
                { value: '', label: 'as the base model (GGUF or Hugging Face folder)' },
                { value: 'gguf', label: 'GGUF file' },
                { value: 'hf', label: 'Hugging Face folder (safetensors)' },
              ]}
              onChange={(v) => update({ format: v })}
            />
            <TextField
              label="Name (optional)"
              value={state.name}
              onChange={(e) => update({ name: e.target.value })}
              hint="The merge job's title; the model is written to a new folder of the workspace's models/"
            />
          </fieldset>
          {built.config && <MergePreview config={built.config} format={state.format || undefined} />}
          {built.problems.length > 0 && (
            <ul className="field-error merge-problems" aria-label="Problems">
              {built.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
          <ErrorBanner error={start.error ?? models.error ?? jobs.error} />
          <Button type="submit" variant="primary" busy={start.pending} disabled={!built.config}>
            Merge
          </Button>
        </form>
      </Card>
      <MergeJobs jobs={listed} models={models.data ?? []} />
    </>
  );
}

/** A merge started from this tab (its output is added to the Models list). */
function isTabMerge(j: Job): boolean {
  return j.type === 'merge.run' && (j.params as { addToModels?: boolean }).addToModels === true;
}
