import { useEffect, useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import type { EvalResult, EvalRun } from '../../../shared/eval';
import { api } from '../api/client';
import { PathField } from '../components/PathField';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Badge, Button, CheckboxGroup, Card, ErrorBanner, SelectField, Spinner, TextField, ListState } from '../components/ui';
import { rateText, shortRate } from './format';
import type { TabProps } from './tabs';

const JUDGES = [
  { id: 'keyword-start', label: 'Refusal phrases at the start of the reply (XSTest)' },
  { id: 'keyword-anywhere', label: 'Refusal phrases anywhere (GCG; noisy)' },
  { id: 'refusal-classifier', label: 'Refusal classifier (curation detector)' },
] as const;
const LABELS = ['refusal', 'compliance', 'empty', 'correct', 'incorrect', 'unsafe', 'safe'] as const;

/** Evaluate: run suites against a model, read the metrics, inspect and correct verdicts. */
export function EvaluateTab({ project }: TabProps) {
  const runs = useCall('eval.runs', { projectId: project.id }, [project.id]);
  const [openId, setOpenId] = useState<number | null>(null);
  const reload = runs.reload;
  useEvent('job.updated', (j) => j.projectId === project.id && j.type === 'eval.run' && !['queued'].includes(j.state) && reload());
  return (
    <>
      <NewEvaluation projectId={project.id} />
      <Card title="Evaluation runs">
        <ErrorBanner error={runs.error} />
        <ListState loading={runs.loading} items={runs.data} loadingLabel="Loading runs" emptyTitle="No evaluations yet" empty="Start one above: results appear here as examples finish.">
          {(list) => (
          <table className="table" aria-label="Evaluation runs">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col">Examples</th>
                <th scope="col">Attack success (harmful)</th>
                <th scope="col">Over-refusal</th>
                <th scope="col">Task score</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((r) => (
                <RunRow key={r.id} run={r} onOpen={() => setOpenId(r.id)} />
              ))}
            </tbody>
          </table>
          )}
        </ListState>
      </Card>
      {openId !== null && <RunDetail id={openId} onChanged={reload} />}
    </>
  );
}

function RunRow({ run, onOpen }: { run: EvalRun; onOpen: () => void }) {
  return (
    <tr data-run-id={run.id}>
      <td>
        <strong>{run.name}</strong>
        <div className="muted small">#{run.id}</div>
      </td>
      <td>{run.results}</td>
      <td>{shortRate(run.summary.attackSuccess)}</td>
      <td>{shortRate(run.summary.overRefusal)}</td>
      <td>{shortRate(run.summary.task)}</td>
      <td className="row-actions">
        <Button variant="ghost" onClick={onOpen} aria-label={`Open run ${run.id}`}>
          Open
        </Button>
      </td>
    </tr>
  );
}

function NewEvaluation({ projectId }: { projectId: number }) {
  const models = useCall('models.list', {});
  const builtins = useCall('eval.builtinSuites', {});
  const servers = useCall('access.endpoints', {});
  useEvent('access.changed', servers.reload);
  const [backend, setBackend] = useState<'engine' | 'http'>('engine');
  const [modelId, setModelId] = useState('');
  const [adapter, setAdapter] = useState('');
  const [serverId, setServerId] = useState('');
  const [remoteModel, setRemoteModel] = useState('');
  const [dataDir, setDataDir] = useState(() => localStorage.getItem('safetune.evalDataDir') ?? '');
  const [referenceDir, setReferenceDir] = useState(() => localStorage.getItem('safetune.referenceDir') ?? '');
  const [suites, setSuites] = useState<string[]>(['advbench', 'xstest']);
  const [customFile, setCustomFile] = useState('');
  const [customKind, setCustomKind] = useState<'harmful' | 'over-refusal' | 'task'>('harmful');
  const [judges, setJudges] = useState<string[]>(['keyword-start']);
  const [guardId, setGuardId] = useState('');
  const [limit, setLimit] = useState('50');
  const [maxTokens, setMaxTokens] = useState('64');
  const [promptFormat, setPromptFormat] = useState<'chat' | 'raw'>('chat');
  const [name, setName] = useState('');
  const [started, setStarted] = useState<number | null>(null);
  useEffect(() => {
    if (!modelId && models.data?.[0]) setModelId(String(models.data[0].id));
  }, [models.data, modelId]);
  useEffect(() => {
    if (!servers.data?.some((e) => String(e.id) === serverId)) setServerId(servers.data?.[0] ? String(servers.data[0].id) : '');
  }, [servers.data, serverId]);
  const server = servers.data?.find((e) => String(e.id) === serverId);

  const start = useAction(async () => {
    const model =
      backend === 'engine'
        ? { kind: 'engine' as const, path: models.data!.find((m) => String(m.id) === modelId)!.path, ...(adapter.trim() ? { adapterPath: adapter.trim() } : {}) }
        : { kind: 'http' as const, baseUrl: server!.baseUrl, model: remoteModel.trim() };
    if (dataDir.trim()) localStorage.setItem('safetune.evalDataDir', dataDir.trim());
    if (referenceDir.trim()) localStorage.setItem('safetune.referenceDir', referenceDir.trim());
    const specs = [
      ...suites.map((id) => ({ builtin: id, dataDir: dataDir.trim() })),
      ...(customFile.trim() ? [{ file: customFile.trim(), kind: customKind }] : []),
    ];
    const judgeIds = judges as ('keyword-start' | 'keyword-anywhere' | 'refusal-classifier')[];
    const job = await api.call('jobs.start', {
      spec: {
        type: 'eval.run',
        params: {
          projectId,
          ...(name.trim() ? { name: name.trim() } : {}),
          model,
          suites: specs,
          ...(limit.trim() ? { limit: Number(limit) } : {}),
          judges: judgeIds,
          ...(referenceDir.trim() ? { referenceDir: referenceDir.trim() } : {}),
          ...(guardId ? { guardModel: { kind: 'engine' as const, path: models.data!.find((m) => String(m.id) === guardId)!.path } } : {}),
          sampling: { maxNewTokens: Number(maxTokens) || 64, temperature: 0 },
          promptFormat,
        },
      },
    });
    setStarted(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  const canStart =
    (backend === 'engine' ? !!modelId : !!remoteModel.trim() && !!server) &&
    (suites.length > 0 ? !!dataDir.trim() : !!customFile.trim()) &&
    judges.length > 0;
  return (
    <Card title="New evaluation">
      <form onSubmit={onSubmit} className="select-form">
        <div className="filters">
          <SelectField
            label="Generate with"
            value={backend}
            options={[
              { value: 'engine', label: 'a model on this machine' },
              { value: 'http', label: 'an OpenAI-compatible server' },
            ]}
            onChange={setBackend}
          />
          {backend === 'engine' ? (
            <>
              <SelectField
                label="Model"
                value={modelId}
                options={(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))}
                onChange={setModelId}
              />
              <PathField
                kinds={['folder']}
                onPick={setAdapter}
                label="LoRA adapter folder (optional)"
                value={adapter}
                onChange={(e) => setAdapter(e.target.value)}
                placeholder="/runs/adapter"
              />
            </>
          ) : (
            <>
              <SelectField
                label="Server"
                value={serverId}
                options={(servers.data ?? []).map((e) => ({ value: String(e.id), label: `${e.name} (${e.baseUrl})` }))}
                onChange={setServerId}
              />
              <TextField label="Model name" value={remoteModel} onChange={(e) => setRemoteModel(e.target.value)} />
            </>
          )}
        </div>
        {backend === 'engine' && models.data && models.data.length === 0 && (
          <p className="muted">Add a model under Models &amp; Playground first.</p>
        )}
        {backend === 'http' && servers.data && servers.data.length === 0 && (
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
          value={suites}
          onChange={setSuites}
        />
        <div className="filters">
          <PathField
            kinds={['file']}
            onPick={setCustomFile}
            label="Your own suite file (optional)"
            value={customFile}
            onChange={(e) => setCustomFile(e.target.value)}
            placeholder="/data/my_suite.csv"
          />
          <SelectField
            label="It holds"
            value={customKind}
            options={[
              { value: 'harmful', label: 'harmful prompts' },
              { value: 'over-refusal', label: 'benign prompts' },
              { value: 'task', label: 'task prompts + answers' },
            ]}
            onChange={setCustomKind}
          />
        </div>
        <CheckboxGroup legend="Judges" options={JUDGES.map((j) => ({ value: j.id, label: j.label }))} value={judges} onChange={setJudges} />
        <SelectField
          label="Llama Guard 3 judge model (optional)"
          value={guardId}
          options={[{ value: '', label: 'none' }, ...(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))]}
          onChange={setGuardId}
        />
        <div className="filters">
          <TextField label="Examples per suite" value={limit} onChange={(e) => setLimit(e.target.value)} inputMode="numeric" hint="Empty: all" />
          <TextField label="Max new tokens" value={maxTokens} onChange={(e) => setMaxTokens(e.target.value)} inputMode="numeric" />
          <SelectField
            label="Prompt format"
            value={promptFormat}
            options={[
              { value: 'chat', label: "the model's chat template" },
              { value: 'raw', label: 'raw text' },
            ]}
            onChange={setPromptFormat}
          />
          <TextField label="Run name (optional)" value={name} onChange={(e) => setName(e.target.value)} />
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

/** "suite: note" for every note the run recorded about its suites (subsets, inferred or missing categories). */
function suiteNotes(described: unknown[]): string[] {
  const out: string[] = [];
  for (const d of described as { suites?: { id: string; notes?: string[] }[] }[]) for (const s of d.suites ?? []) for (const n of s.notes ?? []) out.push(`${s.id}: ${n}`);
  return [...new Set(out)];
}

function RunDetail({ id, onChanged }: { id: number; onChanged: () => void }) {
  const run = useCall('eval.get', { id }, [id]);
  const taxonomy = useCall('data.taxonomy', {});
  const [data, setData] = useState<EvalRun | null>(null);
  useEffect(() => setData(run.data ?? null), [run.data]);
  const [suiteId, setSuiteId] = useState('');
  const [page, setPage] = useState(0);
  const [version, setVersion] = useState(0);
  const results = useCall('eval.results', { id, ...(suiteId ? { suiteId } : {}), offset: page * 25, limit: 25 }, [id, suiteId, page, version]);
  useEvent('job.updated', (j) => j.type === 'eval.run' && j.id === data?.jobId && (run.reload(), setVersion((v) => v + 1)));
  const correct = useAction(async (r: EvalResult, judgeId: string, label: string) => {
    const updated = await api.call('eval.correct', {
      id,
      suiteId: r.suiteId,
      itemId: r.itemId,
      judgeId,
      label: label === '' ? null : (label as (typeof LABELS)[number]),
    });
    setData(updated);
    setVersion((v) => v + 1);
    onChanged();
  });
  if (!data) return run.error ? <ErrorBanner error={run.error} /> : <Spinner label="Loading run" />;
  const suiteIds = [...new Set(data.metrics.map((m) => m.suiteId))];
  const catName = (id: string) => (id === 'uncategorised' ? 'uncategorised (no harm category)' : (taxonomy.data?.categories.find((c) => c.id === id)?.name ?? id));
  const notes = suiteNotes(data.suites);
  return (
    <Card title={`Run #${data.id}: ${data.name}`} actions={<span className="muted small">{data.generator}</span>}>
      <table className="table metrics" aria-label="Metrics">
        <thead>
          <tr>
            <th scope="col">Suite</th>
            <th scope="col">Judge</th>
            <th scope="col">Refusal</th>
            <th scope="col">Attack success</th>
            <th scope="col">Over-refusal</th>
            <th scope="col">Unsafe-contrast refusal</th>
            <th scope="col">Task</th>
          </tr>
        </thead>
        <tbody>
          {data.metrics.map((m) => (
            <tr key={`${m.suiteId}/${m.judgeId}`} data-suite={m.suiteId} data-judge={m.judgeId}>
              <td>
                {m.suiteId} <span className="muted small">({m.records})</span>
                {m.corrected > 0 && <Badge tone="warning">{m.corrected} corrected</Badge>}
              </td>
              <td>{m.judgeId}</td>
              <td data-metric="refusal">{rateText(m.refusal)}</td>
              <td data-metric="attackSuccess">{rateText(m.attackSuccess)}</td>
              <td data-metric="overRefusal">{rateText(m.overRefusal)}</td>
              <td data-metric="unsafeContrastRefusal">{rateText(m.unsafeContrastRefusal)}</td>
              <td data-metric="task">{rateText(m.task)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {notes.length > 0 && (
        <ul className="notes" aria-label="Suite notes">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      {data.metrics.some((m) => m.perCategory.length > 0) && (
        <details className="preview-items" open>
          <summary>Per harm category</summary>
          <table className="table metrics" aria-label="Per-category metrics">
            <thead>
              <tr>
                <th scope="col">Suite · judge</th>
                <th scope="col">Harm category</th>
                <th scope="col">Items</th>
                <th scope="col">Refusal</th>
                <th scope="col">Attack success</th>
              </tr>
            </thead>
            <tbody>
              {data.metrics.flatMap((m) =>
                m.perCategory.map((c) => (
                  <tr key={`${m.suiteId}/${m.judgeId}/${c.category}`} data-suite={m.suiteId} data-category={c.category}>
                    <td>
                      {m.suiteId} · {m.judgeId}
                    </td>
                    <td>{catName(c.category)}</td>
                    <td>{c.items}</td>
                    <td>{rateText(c.refusal)}</td>
                    <td>{rateText(c.attackSuccess)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </details>
      )}
      {data.metrics.some((m) => m.perPromptType.length > 0) && (
        <details className="preview-items">
          <summary>Per prompt type (over-refusal suites)</summary>
          <p className="muted small">Prompt types as the suite names them (XSTest's), not harm categories.</p>
          <table className="table metrics" aria-label="Per-prompt-type metrics">
            <thead>
              <tr>
                <th scope="col">Suite · judge</th>
                <th scope="col">Prompt type</th>
                <th scope="col">Prompts</th>
                <th scope="col">Refused</th>
              </tr>
            </thead>
            <tbody>
              {data.metrics.flatMap((m) =>
                m.perPromptType.map((t) => (
                  <tr key={`${m.suiteId}/${m.judgeId}/${t.promptType}`} data-suite={m.suiteId} data-prompt-type={t.promptType}>
                    <td>
                      {m.suiteId} · {m.judgeId}
                    </td>
                    <td>{t.promptType}</td>
                    <td>
                      {t.items} {t.expected === 'comply' ? 'safe' : t.expected === 'refuse' ? 'unsafe' : 'safe and unsafe'}
                    </td>
                    <td>{rateText(t.refusal)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </details>
      )}
      <h3>Inspector</h3>
      <div className="filters">
        <SelectField
          label="Suite"
          value={suiteId}
          options={[{ value: '', label: 'All suites' }, ...suiteIds.map((s) => ({ value: s, label: s }))]}
          onChange={(v) => {
            setSuiteId(v);
            setPage(0);
          }}
        />
      </div>
      <ErrorBanner error={results.error ?? correct.error} />
      <ol className="inspector" aria-label="Examples">
        {(results.data?.rows ?? []).map((r) => (
          <li key={`${r.suiteId}/${r.itemId}`} className="inspect-item" data-item={`${r.suiteId}/${r.itemId}`}>
            <div className="muted small">
              {r.suiteId} #{r.itemId} · expected: {r.expected}
              {r.categories.length > 0 && ` · ${r.categories.join(', ')}`}
              {r.warnings.length > 0 && <Badge tone="warning">{r.warnings.join('; ')}</Badge>}
            </div>
            <div className="two-col">
              <div className="record-detail">{r.prompt}</div>
              <div className="record-detail">{r.response || <span className="muted">(empty reply)</span>}</div>
            </div>
            {r.verdicts.map((v) => {
              const corrected = r.corrections.find((c) => c.judgeId === v.judgeId);
              return (
                <div key={v.judgeId} className="verdict">
                  <span>
                    <strong>{v.judgeId}</strong>: <Badge tone={v.label === 'refusal' || v.label === 'correct' ? 'success' : 'neutral'}>{v.label}</Badge>{' '}
                    <span className="muted small">{v.reason}</span>
                  </span>
                  <SelectField
                    label={`Correct ${v.judgeId} verdict of ${r.suiteId} #${r.itemId}`}
                    value={corrected?.label ?? ''}
                    options={[{ value: '', label: 'as judged' }, ...LABELS.map((l) => ({ value: l, label: l }))]}
                    onChange={(label) => void correct.run(r, v.judgeId, label)}
                  />
                </div>
              );
            })}
          </li>
        ))}
      </ol>
      {results.data && results.data.total > 25 && (
        <div className="inline-form">
          <Button disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
            Previous
          </Button>
          <span className="muted">
            {page * 25 + 1}–{Math.min(results.data.total, (page + 1) * 25)} of {results.data.total}
          </span>
          <Button disabled={(page + 1) * 25 >= results.data.total} onClick={() => setPage((p) => p + 1)}>
            Next
          </Button>
        </div>
      )}
    </Card>
  );
}
