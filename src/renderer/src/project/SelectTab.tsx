import { useEffect, useRef, useState, type FormEvent } from 'react';
import { SELECTION_METHOD_LABELS, type Selection, type SelectionMethod } from '../../../shared/select';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { PathField } from '../components/PathField';
import { Badge, Button, CheckboxGroup, Card, EmptyState, ErrorBanner, SelectField, TextField } from '../components/ui';
import type { TabProps } from './tabs';

const METHODS = (Object.keys(SELECTION_METHOD_LABELS) as SelectionMethod[]).map((value) => ({ value, label: SELECTION_METHOD_LABELS[value] }));
type Detail = Awaited<ReturnType<typeof api.call<'select.get'>>>;

/** Select: choose safety examples under a budget, preview them with histograms, save, export. */
export function SelectTab({ project }: TabProps) {
  const taxonomy = useCall('data.taxonomy', {});
  const saved = useCall('select.list', { projectId: project.id }, [project.id]);
  const [method, setMethod] = useState<SelectionMethod>('sss-b');
  const [budgetKind, setBudgetKind] = useState<'count' | 'fraction'>('count');
  const [budget, setBudget] = useState('50');
  const [seed, setSeed] = useState('0');
  const [cossimRef, setCossimRef] = useState<'categories' | 'task'>('categories');
  const [referenceDir, setReferenceDir] = useState(() => localStorage.getItem('safetune.referenceDir') ?? '');
  const [cats, setCats] = useState<string[] | null>(null);
  const [embedderPath, setEmbedderPath] = useState(() => localStorage.getItem('safetune.embedderPath') ?? '');
  const [jobId, setJobId] = useState<number | null>(null);
  const jobRef = useRef<number | null>(null);
  jobRef.current = jobId;
  const [jobError, setJobError] = useState<string | null>(null);
  const [detail, setDetail] = useState<Detail | null>(null);

  const open = async (id: number) => setDetail(await api.call('select.get', { id }));
  useEvent('job.updated', (j) => {
    if (j.id !== jobRef.current || ['queued', 'running'].includes(j.state)) return;
    setJobId(null);
    if (j.state === 'succeeded') void open((j.result as { selectionId: number }).selectionId);
    else setJobError(j.error ?? j.state);
  });

  const run = useAction(async () => {
    setJobError(null);
    const n = Number(budget);
    const params = {
      projectId: project.id,
      method,
      budget: budgetKind === 'count' ? { count: Math.round(n) } : { fraction: n / 100 },
      seed: Number(seed) || 0,
      ...(cats && cats.length < (taxonomy.data?.categories.length ?? 14) ? { categories: cats } : {}),
      ...(method.startsWith('cossim') ? { cossimReference: cossimRef } : {}),
      ...(method.startsWith('cossim') && cossimRef === 'categories' && referenceDir.trim() ? { referenceDir: referenceDir.trim() } : {}),
      ...(/^(pss|cossim)/.test(method) && embedderPath.trim() ? { embedderPath: embedderPath.trim() } : {}),
    };
    if (referenceDir.trim()) localStorage.setItem('safetune.referenceDir', referenceDir.trim());
    const job = await api.call('jobs.start', { spec: { type: 'select.run', params } });
    setJobId(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void run.run();
  };
  const allCats = taxonomy.data?.categories ?? [];
  const chosen = cats ?? allCats.map((c) => c.id);

  return (
    <>
      <Card title="Choose safety examples">
        <form onSubmit={onSubmit} className="select-form">
          <div className="filters">
            <SelectField label="Method" value={method} options={METHODS} onChange={setMethod} />
            <SelectField
              label="Budget as"
              value={budgetKind}
              options={[
                { value: 'count', label: 'a number of examples' },
                { value: 'fraction', label: '% of the task data' },
              ]}
              onChange={setBudgetKind}
            />
            <TextField label={budgetKind === 'count' ? 'Budget (examples)' : 'Budget (% of task data)'} value={budget} onChange={(e) => setBudget(e.target.value)} inputMode="decimal" />
            <TextField label="Seed" value={seed} onChange={(e) => setSeed(e.target.value)} inputMode="numeric" />
            {method.startsWith('cossim') && (
              <SelectField
                label="Similar to"
                value={cossimRef}
                options={[
                  { value: 'categories', label: 'reference prompts per category' },
                  { value: 'task', label: 'my task data' },
                ]}
                onChange={setCossimRef}
              />
            )}
          </div>
          {method.startsWith('cossim') && cossimRef === 'categories' && (
            <PathField
              kinds={['folder']}
              onPick={setReferenceDir}
              label="Reference prompts folder"
              value={referenceDir}
              onChange={(e) => setReferenceDir(e.target.value)}
              placeholder="/data/beavertails-unsafe-prompts"
              hint="Empty: the shipped per-category centroids (built-in word vectors only)."
            />
          )}
          {/^(pss|cossim)/.test(method) && (
            <PathField
              kinds={['folder']}
              onPick={setEmbedderPath}
              label="Sentence encoder folder (optional)"
              value={embedderPath}
              onChange={(e) => setEmbedderPath(e.target.value)}
              placeholder="/models/all-MiniLM-L6-v2-onnx"
              hint="A sentence-transformers ONNX folder; empty: the built-in word vectors."
            />
          )}
          <CheckboxGroup
            legend={
              <>
                Harm categories ({chosen.length} of {allCats.length}){' '}
                <Button variant="ghost" onClick={() => setCats(chosen.length === allCats.length ? [] : null)}>
                  {chosen.length === allCats.length ? 'Clear' : 'All'}
                </Button>
              </>
            }
            options={allCats.map((c) => ({ value: c.id, label: c.name }))}
            value={chosen}
            onChange={setCats}
          />
          <ErrorBanner error={run.error ?? (jobError ? new Error(jobError) : null)} />
          <Button type="submit" variant="primary" busy={run.pending || jobId !== null} disabled={chosen.length === 0 || !(Number(budget) > 0)}>
            Preview selection
          </Button>
        </form>
      </Card>
      {detail && (
        <Preview
          detail={detail}
          categoryName={(id) => allCats.find((c) => c.id === id)?.name ?? id}
          onSaved={(s) => {
            setDetail((d) => (d ? { ...d, selection: s } : d));
            saved.reload();
          }}
        />
      )}
      <Card title="Saved selections">
        <ErrorBanner error={saved.error} />
        {!saved.data || saved.data.length === 0 ? (
          <EmptyState title="No saved selections">Preview a selection above and save it under a name.</EmptyState>
        ) : (
          <table className="table" aria-label="Saved selections">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Method</th>
                <th scope="col">Examples</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {saved.data.map((s) => (
                <tr key={s.id}>
                  <td>{s.name}</td>
                  <td>{SELECTION_METHOD_LABELS[s.method]}</td>
                  <td>{s.summary.selected}</td>
                  <td className="row-actions">
                    <Button variant="ghost" onClick={() => void open(s.id)} aria-label={`Open ${s.name}`}>
                      Open
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Card>
    </>
  );
}

function Histogram({ title, data, label }: { title: string; data: [string, number][]; label: (k: string) => string }) {
  const max = Math.max(1, ...data.map(([, v]) => v));
  return (
    <figure className="histogram" aria-label={title}>
      <figcaption>{title}</figcaption>
      <ul>
        {data.map(([k, v]) => (
          <li key={k} data-key={k} data-count={v}>
            <span className="hist-label" title={label(k)}>
              {label(k)}
            </span>
            <span className="hist-bar">
              <span className="hist-fill" style={{ width: `${(100 * v) / max}%` }} />
            </span>
            <span className="hist-value">{v}</span>
          </li>
        ))}
      </ul>
    </figure>
  );
}

function Preview({ detail, categoryName, onSaved }: { detail: Detail; categoryName: (id: string) => string; onSaved: (s: Selection) => void }) {
  const { selection: sel, items } = detail;
  const [name, setName] = useState(sel.saved ? sel.name : `${sel.method.toUpperCase()} ${sel.summary.selected} seed ${sel.params.seed}`);
  const [format, setFormat] = useState<'alpaca' | 'chat'>('alpaca');
  const [exported, setExported] = useState<string | null>(null);
  useEffect(() => setExported(null), [sel.id]);
  const save = useAction(async () => onSaved(await api.call('select.save', { id: sel.id, name })));
  const exp = useAction(async () => {
    const r = await api.call('select.export', { selectionId: sel.id, format });
    setExported(`${r.count} examples (${r.task} task + ${r.safety} safety) written to ${r.path}`);
  });
  const s = sel.summary;
  return (
    <Card title={sel.saved ? `Selection “${sel.name}”` : 'Preview'} actions={<Badge tone={sel.saved ? 'success' : 'info'}>{sel.saved ? 'saved' : 'not saved'}</Badge>}>
      <p className="stat-row" aria-label="Selection summary">
        <span>
          <strong>{s.selected}</strong> selected of budget {s.budget}
        </span>
        <span>{s.eligible} eligible in a pool of {s.poolSize}</span>
        {s.shortfall > 0 && <Badge tone="warning">{s.shortfall} short: the eligible pool is smaller than the budget</Badge>}
        <span>{SELECTION_METHOD_LABELS[sel.method]}, seed {sel.params.seed}</span>
      </p>
      <div className="two-col">
        <Histogram title="Per harm category" data={Object.entries(s.perCategory).sort((a, b) => b[1] - a[1])} label={categoryName} />
        <Histogram title="Per behaviour type" data={Object.entries(s.perBehaviour).filter(([k, v]) => v > 0 || k !== 'untyped')} label={(k) => k} />
      </div>
      <details className="preview-items">
        <summary>Selected examples ({items.length})</summary>
        <ol>
          {items.map((i) => (
            <li key={i.recordId}>
              <Badge tone="neutral">{i.behaviour ?? '—'}</Badge> {i.prompt}
              {i.takenFor && <span className="muted small"> · for {categoryName(i.takenFor)}</span>}
            </li>
          ))}
        </ol>
      </details>
      <ErrorBanner error={save.error ?? exp.error} />
      <div className="inline-form">
        <TextField label="Selection name" value={name} onChange={(e) => setName(e.target.value)} />
        <Button variant="primary" busy={save.pending} onClick={() => void save.run()} disabled={!name.trim()}>
          {sel.saved ? 'Rename' : 'Save selection'}
        </Button>
        <SelectField
          label="Export format"
          value={format}
          options={[
            { value: 'alpaca', label: 'Alpaca JSONL' },
            { value: 'chat', label: 'Chat JSONL' },
          ]}
          onChange={setFormat}
        />
        <Button busy={exp.pending} onClick={() => void exp.run()}>
          Export training mix
        </Button>
      </div>
      {exported && (
        <p className="muted" role="status">
          {exported}
        </p>
      )}
    </Card>
  );
}
