/**
 * The Select form: a method from the table with its parameters and needs, a budget, harm
 * categories (each with the pool examples eligible for the chosen method) and a seed; Preview
 * starts a select.run job.
 */
import { useState, type FormEvent } from 'react';
import type { SelectionMethod } from '../../../../shared/select';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { Button, CheckboxGroup, Card, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { formKey, usePersistentFields } from '../../forms/persist';
import { useMethodChoice } from '../../forms/useMethodChoice';
import { useMethodTables } from '../../forms/widgets';
import { SelectMethodSection, type SelectNeedsInput } from './SelectMethodSection';

export function SelectForm({
  projectId,
  busy,
  error,
  onStarted,
}: {
  projectId: number;
  busy: boolean;
  error: string | null;
  onStarted: (jobId: number) => void;
}) {
  const taxonomy = useCall('data.taxonomy', {});
  const { select: methods } = useMethodTables();
  const choice = useMethodChoice(methods, formKey('select', projectId), 'sss-b');
  const [f, set] = usePersistentFields(formKey('select', projectId, 'form'), {
    budgetKind: 'count' as 'count' | 'fraction',
    budget: '50',
    seed: '0',
    allCategories: true,
    categories: [] as string[],
    cossimReference: 'categories' as SelectNeedsInput['cossimReference'],
  });
  const [referenceDir, setReferenceDir] = useState(() => localStorage.getItem('safetune.referenceDir') ?? '');
  const [embedderPath, setEmbedderPath] = useState(() => localStorage.getItem('safetune.embedderPath') ?? '');
  const allCats = taxonomy.data?.categories ?? [];
  const chosen = f.allCategories ? allCats.map((c) => c.id) : f.categories;
  const { row } = choice;
  const subset = chosen.length > 0 && chosen.length < allCats.length ? chosen : undefined;
  const eligible = useCall('select.eligible', { projectId, t1Only: row.t1Only, ...(subset ? { categories: subset } : {}) }, [
    projectId,
    row.t1Only,
    subset?.join('\n'),
  ]);
  // an analysis or a corrected label changes what is eligible
  useEvent('data.changed', (e) => e.projectId === projectId && eligible.reload());
  useEvent('job.updated', (j) => j.projectId === projectId && j.type.startsWith('data.') && j.state === 'succeeded' && eligible.reload());
  const eligibleIn = (id: string) => eligible.data?.perCategory[id] ?? 0;

  const run = useAction(async () => {
    const n = Number(f.budget);
    const ref = referenceDir.trim();
    const enc = embedderPath.trim();
    const params = {
      projectId,
      // the app's table is the shipped one: its ids are the job schema's
      method: choice.method as SelectionMethod,
      methodParams: choice.form.data ?? {},
      budget: f.budgetKind === 'count' ? { count: Math.round(n) } : { fraction: n / 100 },
      seed: Number(f.seed) || 0,
      ...(chosen.length < allCats.length ? { categories: chosen } : {}),
      ...(row.usesReference ? { cossimReference: f.cossimReference } : {}),
      ...(row.usesReference && f.cossimReference === 'categories' && ref ? { referenceDir: ref } : {}),
      ...(row.usesEmbeddings && enc ? { embedderPath: enc } : {}),
    };
    if (ref) localStorage.setItem('safetune.referenceDir', ref);
    const job = await api.call('jobs.start', { spec: { type: 'select.run', params } });
    onStarted(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void run.run();
  };

  return (
    <Card title="Choose safety examples">
      <form onSubmit={onSubmit} className="select-form">
        <SelectMethodSection
          choice={choice}
          needs={{ cossimReference: f.cossimReference, referenceDir, embedderPath }}
          onNeeds={(c) => {
            if (c.cossimReference) set('cossimReference', c.cossimReference);
            if (c.referenceDir !== undefined) setReferenceDir(c.referenceDir);
            if (c.embedderPath !== undefined) setEmbedderPath(c.embedderPath);
          }}
        />
        <div className="filters">
          <SelectField
            label="Budget as"
            value={f.budgetKind}
            options={[
              { value: 'count', label: 'a number of examples' },
              { value: 'fraction', label: '% of the task data' },
            ]}
            onChange={(v) => set('budgetKind', v)}
          />
          <TextField
            label={f.budgetKind === 'count' ? 'Budget (examples)' : 'Budget (% of task data)'}
            value={f.budget}
            onChange={(e) => set('budget', e.target.value)}
            inputMode="decimal"
          />
          <TextField label="Seed" value={f.seed} onChange={(e) => set('seed', e.target.value)} inputMode="numeric" />
        </div>
        <CheckboxGroup
          legend={
            <>
              Harm categories ({chosen.length} of {allCats.length}){' '}
              <Button
                variant="ghost"
                onClick={() => {
                  set('categories', []);
                  set('allCategories', chosen.length !== allCats.length);
                }}
              >
                {chosen.length === allCats.length ? 'Clear' : 'All'}
              </Button>
            </>
          }
          options={allCats.map((c) => ({ value: c.id, label: eligible.data ? `${c.name} · ${eligibleIn(c.id)} eligible` : c.name }))}
          value={chosen}
          onChange={(v) => {
            set('categories', v);
            set('allCategories', false);
          }}
        />
        {eligible.data && (
          <p className="muted small" data-testid="eligible-summary">
            {eligible.data.eligible} of {eligible.data.poolSize} safety-pool examples are eligible for {row.label}
            {row.t1Only ? ' (T1 only: a harmful prompt with a refusal)' : ''}
            {subset ? ` in the ${subset.length} chosen categories` : ''}.
          </p>
        )}
        <ErrorBanner error={run.error ?? (error ? new Error(error) : null)} />
        <Button type="submit" variant="primary" busy={run.pending || busy} disabled={chosen.length === 0 || !(Number(f.budget) > 0) || !choice.form.data}>
          Preview selection
        </Button>
      </form>
    </Card>
  );
}
