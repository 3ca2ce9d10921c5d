/**
 * Compare → New experiment grid: training methods × budgets × seeds on a model from the Models list,
 * each cell trained and evaluated on the project's imported evaluation data sets (`experiment.start`).
 */
import { useState } from 'react';
import { modelName } from '../../../../shared/naming';
import { SELECTION_METHODS } from '../../../../shared/select';
import { TRAIN_METHODS, type TrainMethod } from '../../../../shared/train';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { Button, CheckboxGroup, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { gridArms, gridRequest, parseBudgets, parseSeeds, type GridForm as Form } from './gridRequest';

export function GridForm({ projectId, onStarted }: { projectId: number; onStarted: (id: number) => void }) {
  const models = useCall('models.list', {});
  const datasets = useCall('data.datasets', { projectId }, [projectId]);
  useEvent('job.updated', (j) => j.projectId === projectId && j.type === 'data.import' && j.state === 'succeeded' && datasets.reload());
  const evalSets = (datasets.data ?? []).filter((d) => (d.role === 'harmful_eval' || d.role === 'benign_eval') && d.state === 'ready');
  const [f, setF] = useState<Form>({
    name: '',
    modelPath: '',
    methods: ['plain'],
    selectionMethod: 'random',
    budgets: '1, 3',
    seeds: '1, 2',
    steps: 20,
    datasetIds: [],
    limit: 20,
    maxNewTokens: 32,
  });
  const set = <K extends keyof Form>(k: K, v: Form[K]) => setF((o) => ({ ...o, [k]: v }));
  const [problem, setProblem] = useState<string | null>(null);
  const modelPath = f.modelPath || models.data?.[0]?.path || '';
  const start = useAction(async () => {
    const made = gridRequest(projectId, { ...f, modelPath });
    if ('error' in made) return setProblem(made.error);
    setProblem(null);
    onStarted((await api.call('experiment.start', made.request)).id);
  });
  const budgets = parseBudgets(f.budgets);
  const seeds = parseSeeds(f.seeds);
  const cells = 'budgets' in budgets && 'seeds' in seeds ? gridArms(f, budgets.budgets).length * seeds.seeds.length : null;
  return (
    <div className="grid-form" aria-label="New experiment grid">
      <ErrorBanner error={models.error ?? datasets.error ?? start.error} />
      <TextField label="Grid name" value={f.name} placeholder="optional" onChange={(e) => set('name', e.target.value)} />
      <SelectField
        label="Model"
        value={modelPath}
        options={(models.data ?? []).map((m) => ({ value: m.path, label: modelName(m.path) }))}
        onChange={(v) => set('modelPath', v)}
      />
      <CheckboxGroup
        legend="Training methods"
        options={Object.entries(TRAIN_METHODS).map(([id, row]) => ({ value: id as TrainMethod, label: row.label, title: row.description }))}
        value={f.methods}
        onChange={(v) => set('methods', v)}
      />
      <SelectField
        label="Selection method"
        value={f.selectionMethod}
        options={Object.entries(SELECTION_METHODS).map(([id, row]) => ({ value: id, label: row.label }))}
        onChange={(v) => set('selectionMethod', v)}
      />
      <TextField
        label="Budgets"
        value={f.budgets}
        hint="safety examples per run: counts (10, 50) or shares of the task data (1%, 5%); methods without safety examples run once"
        error={'error' in budgets ? budgets.error : null}
        onChange={(e) => set('budgets', e.target.value)}
      />
      <TextField label="Seeds" value={f.seeds} error={'error' in seeds ? seeds.error : null} onChange={(e) => set('seeds', e.target.value)} />
      <TextField label="Steps per run" type="number" min={1} value={f.steps} onChange={(e) => set('steps', Number(e.target.value))} />
      <CheckboxGroup
        legend="Evaluation data sets"
        options={evalSets.map((d) => ({ value: String(d.id), label: `${d.name} (${d.role === 'harmful_eval' ? 'harmful' : 'benign'})` }))}
        value={f.datasetIds.map(String)}
        onChange={(v) => set('datasetIds', v.map(Number))}
      />
      {evalSets.length === 0 && <p className="muted small">Import harmful or benign evaluation prompts in the Data tab to evaluate the cells.</p>}
      <TextField label="Prompts per suite" type="number" min={1} value={f.limit} onChange={(e) => set('limit', Number(e.target.value))} />
      <TextField label="Max new tokens" type="number" min={1} value={f.maxNewTokens} onChange={(e) => set('maxNewTokens', Number(e.target.value))} />
      {problem && <p className="field-error">{problem}</p>}
      <Button variant="primary" busy={start.pending} onClick={() => void start.run()}>
        Start grid{cells !== null ? ` (${cells} runs)` : ''}
      </Button>
    </div>
  );
}
