/**
 * The Evaluate form: what generates (a model on this machine with no adapter, the adapter of a
 * finished training run, another adapter folder, or a configured server), the suites (built-in from
 * a data folder, data sets imported as evaluation prompts, or your own file), the judges from the
 * judge table with what they need, and the sampling settings; Start queues an eval.run job.
 */
import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import type { EvalRunParamsInput, SuiteKind } from '../../../../shared/eval';
import { api } from '../../api/client';
import { useAction, useCall, useEvent } from '../../api/hooks';
import { PathField } from '../../components/PathField';
import { Button, CheckboxGroup, Card, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { formKey, usePersistentFields } from '../../forms/persist';
import { useMethodSet } from '../../forms/useMethodChoice';
import { useMethodTables } from '../../forms/widgets';
import { evaluateFormKey } from '../trainRuns';
import { useFinishedTrainRuns } from '../useTrainRuns';
import { JudgesSection, judgesMissing } from './JudgesSection';

/** The adapter choice that means another folder, typed or browsed. */
const OTHER_FOLDER = 'folder';

export function EvalForm({ projectId }: { projectId: number }) {
  const models = useCall('models.list', {});
  const builtins = useCall('eval.builtinSuites', {});
  const servers = useCall('access.endpoints', {});
  const datasets = useCall('data.datasets', { projectId }, [projectId]);
  useEvent('job.updated', (j) => j.projectId === projectId && j.type === 'data.import' && j.state === 'succeeded' && datasets.reload());
  const evalSets = (datasets.data ?? []).filter((d) => (d.role === 'harmful_eval' || d.role === 'benign_eval') && d.state === 'ready');
  const { runs: trainRuns } = useFinishedTrainRuns(projectId);
  useEvent('access.changed', servers.reload);
  const { judges: judgeTable } = useMethodTables();
  const judges = useMethodSet(judgeTable, formKey('evaluate', projectId, 'judges'), ['keyword-start']);
  const [f, set] = usePersistentFields(evaluateFormKey(projectId), {
    backend: 'engine' as 'engine' | 'http',
    modelId: '',
    /** '' (the base model alone), a finished training run's job id, or OTHER_FOLDER (`adapter`). */
    adapterRun: '',
    adapter: '',
    datasets: [] as string[],
    serverId: '',
    remoteModel: '',
    suites: ['advbench', 'xstest'],
    customFile: '',
    customKind: 'harmful' as SuiteKind,
    guardId: '',
    limit: '50',
    maxTokens: '64',
    promptFormat: 'chat' as 'chat' | 'raw',
    name: '',
  });
  const [dataDir, setDataDir] = useState(() => localStorage.getItem('safetune.evalDataDir') ?? '');
  const [referenceDir, setReferenceDir] = useState(() => localStorage.getItem('safetune.referenceDir') ?? '');
  const [started, setStarted] = useState<number | null>(null);
  useEffect(() => {
    if (!f.modelId && models.data?.[0]) set('modelId', String(models.data[0].id));
  }, [models.data, f.modelId, set]);
  useEffect(() => {
    if (servers.data && !servers.data.some((e) => String(e.id) === f.serverId)) set('serverId', servers.data[0] ? String(servers.data[0].id) : '');
  }, [servers.data, f.serverId, set]);
  const server = servers.data?.find((e) => String(e.id) === f.serverId);
  const adapterRun = f.adapterRun && f.adapterRun !== OTHER_FOLDER ? trainRuns?.find((r) => String(r.jobId) === f.adapterRun) : undefined;
  const chosenSets = f.datasets.filter((id) => evalSets.some((d) => String(d.id) === id));
  const needsGuard = judges.rows.some(([, row]) => row.guardModel);

  const start = useAction(async () => {
    const model =
      f.backend === 'http'
        ? { kind: 'http' as const, baseUrl: server!.baseUrl, model: f.remoteModel.trim() }
        : adapterRun
          ? { kind: 'engine' as const, path: adapterRun.modelPath, adapterPath: adapterRun.adapterPath }
          : {
              kind: 'engine' as const,
              path: models.data!.find((m) => String(m.id) === f.modelId)!.path,
              ...(f.adapterRun === OTHER_FOLDER && f.adapter.trim() ? { adapterPath: f.adapter.trim() } : {}),
            };
    if (dataDir.trim()) localStorage.setItem('safetune.evalDataDir', dataDir.trim());
    if (referenceDir.trim()) localStorage.setItem('safetune.referenceDir', referenceDir.trim());
    const specs = [
      ...f.suites.map((id) => ({ builtin: id, dataDir: dataDir.trim() })),
      ...chosenSets.map((id) => ({ dataset: Number(id) })),
      ...(f.customFile.trim() ? [{ file: f.customFile.trim(), kind: f.customKind }] : []),
    ];
    const withParams = Object.entries(judges.params ?? {}).filter(([, p]) => Object.keys(p).length > 0);
    const params: EvalRunParamsInput = {
      projectId,
      ...(f.name.trim() ? { name: f.name.trim() } : {}),
      model,
      suites: specs,
      ...(f.limit.trim() ? { limit: Number(f.limit) } : {}),
      judges: judges.chosen,
      ...(withParams.length ? { judgeParams: Object.fromEntries(withParams) } : {}),
      ...(referenceDir.trim() ? { referenceDir: referenceDir.trim() } : {}),
      ...(needsGuard && f.guardId ? { guardModel: { kind: 'engine' as const, path: models.data!.find((m) => String(m.id) === f.guardId)!.path } } : {}),
      sampling: { maxNewTokens: Number(f.maxTokens) || 64, temperature: 0 },
      promptFormat: f.promptFormat,
    };
    const job = await api.call('jobs.start', { spec: { type: 'eval.run', params } });
    setStarted(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  const canStart =
    (f.backend === 'engine' ? (f.adapterRun && f.adapterRun !== OTHER_FOLDER ? !!adapterRun : !!f.modelId) : !!f.remoteModel.trim() && !!server) &&
    (f.suites.length > 0 ? !!dataDir.trim() : chosenSets.length > 0 || !!f.customFile.trim()) &&
    judgesMissing(judges, !!f.guardId) === null &&
    judges.params !== null;
  return (
    <Card title="New evaluation">
      <form onSubmit={onSubmit} className="select-form">
        <div className="filters">
          <SelectField
            label="Generate with"
            value={f.backend}
            options={[
              { value: 'engine', label: 'a model on this machine' },
              { value: 'http', label: 'an OpenAI-compatible server' },
            ]}
            onChange={(v) => set('backend', v)}
          />
          {f.backend === 'engine' ? (
            <>
              <SelectField
                label="LoRA adapter"
                value={f.adapterRun}
                options={[
                  { value: '', label: 'none: the base model alone' },
                  ...(trainRuns ?? []).map((r) => ({ value: String(r.jobId), label: r.name })),
                  ...(f.adapterRun && f.adapterRun !== OTHER_FOLDER && trainRuns && !adapterRun
                    ? [{ value: f.adapterRun, label: `run #${f.adapterRun} (not a finished run)` }]
                    : []),
                  { value: OTHER_FOLDER, label: 'other adapter folder…' },
                ]}
                onChange={(v) => set('adapterRun', v)}
              />
              {adapterRun ? (
                <p className="muted small field-note" data-testid="adapter-base">
                  Base model: <code>{adapterRun.modelPath}</code> (the run's)
                </p>
              ) : (
                <SelectField
                  label="Model"
                  value={f.modelId}
                  options={(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))}
                  onChange={(v) => set('modelId', v)}
                />
              )}
              {f.adapterRun === OTHER_FOLDER && (
                <PathField
                  kinds={['folder']}
                  onPick={(v) => set('adapter', v)}
                  label="Adapter folder (PEFT)"
                  value={f.adapter}
                  onChange={(e) => set('adapter', e.target.value)}
                  placeholder="/runs/adapter"
                />
              )}
            </>
          ) : (
            <>
              <SelectField
                label="Server"
                value={f.serverId}
                options={(servers.data ?? []).map((e) => ({ value: String(e.id), label: `${e.name} (${e.baseUrl})` }))}
                onChange={(v) => set('serverId', v)}
              />
              <TextField label="Model name" value={f.remoteModel} onChange={(e) => set('remoteModel', e.target.value)} />
            </>
          )}
        </div>
        {f.backend === 'engine' && models.data && models.data.length === 0 && <p className="muted">Add a model under Models &amp; Playground first.</p>}
        {f.backend === 'http' && servers.data && servers.data.length === 0 && (
          <p className="muted">
            Add the server under <Link to="/settings/folders">Folders &amp; servers</Link> first: evaluations call only servers configured there.
          </p>
        )}
        <PathField
          kinds={['folder']}
          onPick={setDataDir}
          label="Suite data folder"
          value={dataDir}
          onChange={(e) => setDataDir(e.target.value)}
          placeholder="/data/safetune-suites"
          hint="Laid out like the workbench's data folder: harmful/advbench_harmful_behaviors.csv, benign/xstest_prompts.csv, task/gsm8k_test.jsonl…"
        />
        <PathField
          kinds={['folder']}
          onPick={setReferenceDir}
          label="Reference prompts folder (harm categories)"
          value={referenceDir}
          onChange={(e) => setReferenceDir(e.target.value)}
          placeholder="/data/beavertails-unsafe-prompts"
          hint="One file of prompts per harm category (BeaverTails layout), to infer the categories of harmful prompts that have none (AdvBench). Empty: reference/beavertails-unsafe-prompts under the suite data folder, when there."
        />
        <CheckboxGroup
          legend="Built-in suites"
          options={(builtins.data ?? []).map((b) => ({ value: b.id, label: b.title, title: b.path }))}
          value={f.suites}
          onChange={(v) => set('suites', v)}
        />
        {evalSets.length > 0 && (
          <CheckboxGroup
            legend="Imported evaluation prompts (Data tab)"
            options={evalSets.map((d) => ({
              value: String(d.id),
              label: `${d.name} (${d.role === 'harmful_eval' ? 'harmful' : 'benign'}, ${d.accepted})`,
              title: d.sourcePath,
            }))}
            value={chosenSets}
            onChange={(v) => set('datasets', v)}
          />
        )}
        <div className="filters">
          <PathField
            kinds={['file']}
            onPick={(v) => set('customFile', v)}
            label="Your own suite file (optional)"
            value={f.customFile}
            onChange={(e) => set('customFile', e.target.value)}
            placeholder="/data/my_suite.csv"
          />
          <SelectField
            label="It holds"
            value={f.customKind}
            options={[
              { value: 'harmful', label: 'harmful prompts' },
              { value: 'over-refusal', label: 'benign prompts' },
              { value: 'task', label: 'task prompts + answers' },
            ]}
            onChange={(v) => set('customKind', v)}
          />
        </div>
        <JudgesSection
          choice={judges}
          guardChosen={!!f.guardId}
          guardPicker={
            <SelectField
              label="Llama Guard 3 judge model"
              value={f.guardId}
              options={[{ value: '', label: 'choose a model' }, ...(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))]}
              onChange={(v) => set('guardId', v)}
            />
          }
        />
        <div className="filters">
          <TextField label="Examples per suite" value={f.limit} onChange={(e) => set('limit', e.target.value)} inputMode="numeric" hint="Empty: all" />
          <TextField label="Max new tokens" value={f.maxTokens} onChange={(e) => set('maxTokens', e.target.value)} inputMode="numeric" />
          <SelectField
            label="Prompt format"
            value={f.promptFormat}
            options={[
              { value: 'chat', label: "the model's chat template" },
              { value: 'raw', label: 'raw text' },
            ]}
            onChange={(v) => set('promptFormat', v)}
          />
          <TextField label="Run name (optional)" value={f.name} onChange={(e) => set('name', e.target.value)} />
        </div>
        <ErrorBanner error={start.error} />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!canStart}>
          Start evaluation
        </Button>
        {started && <p className="muted">Started job #{started}: follow it in the Jobs panel.</p>}
      </form>
    </Card>
  );
}
