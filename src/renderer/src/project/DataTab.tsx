import { useCallback, useEffect, useState, type ChangeEvent, type FormEvent } from 'react';
import { DATASET_ROLE_LABELS, type DataRecord, type Dataset, type DatasetRole } from '../../../shared/data';
import type { Job } from '../../../shared/domain';
import type { FileChecksumResult } from '../../../shared/jobs';
import { ANALYSE_DEFAULTS, analyseSettings, type AnalyseSettings } from '../../../shared/select';
import { api } from '../api/client';
import { PathField } from '../components/PathField';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Badge, Button, CheckboxGroup, Card, Dialog, ErrorBanner, SelectField, TextField, ListState } from '../components/ui';
import { VirtualTable, type Column } from '../components/VirtualTable';
import { EmbeddingMap } from './EmbeddingMap';
import type { TabProps } from './tabs';

const ROLE_OPTIONS = (Object.keys(DATASET_ROLE_LABELS) as DatasetRole[]).map((value) => ({ value, label: DATASET_ROLE_LABELS[value] }));

/** Data: import files by role, browse their records, see rejected rows, correct labels. */
export function DataTab({ project }: TabProps) {
  const datasets = useCall('data.datasets', { projectId: project.id }, [project.id]);
  const taxonomy = useCall('data.taxonomy', {});
  const reload = datasets.reload;
  useEvent('data.changed', (e) => e.projectId === project.id && reload());
  const [analysed, setAnalysed] = useState(0);
  useEvent('job.updated', (j) => {
    if (j.projectId !== project.id || !['succeeded', 'failed'].includes(j.state)) return;
    if (j.type === 'data.import') reload();
    if (j.type === 'data.analyse') {
      setAnalysed((n) => n + 1);
      reload();
    }
  });
  return (
    <>
      <ImportCard projectId={project.id} />
      <DatasetsCard datasets={datasets.data} error={datasets.error} loading={datasets.loading} onChanged={reload} />
      {datasets.data && datasets.data.length > 0 && <RecordsCard projectId={project.id} datasets={datasets.data} refresh={analysed} />}
      {datasets.data && datasets.data.some((d) => d.embedderId) && (
        <EmbeddingMap key={analysed} datasets={datasets.data.filter((d) => d.embedderId)} categories={taxonomy.data?.categories ?? []} />
      )}
      <FingerprintCard projectId={project.id} />
    </>
  );
}

const FORMAT_OPTIONS = [
  { value: 'auto', label: 'detect automatically' },
  { value: 'alpaca', label: 'Alpaca (instruction, input, output)' },
  { value: 'prompt-response', label: 'prompt / response columns' },
  { value: 'prompt-only', label: 'prompts only' },
  { value: 'chat', label: 'chat messages' },
  { value: 'sharegpt', label: 'ShareGPT conversations' },
  { value: 'beavertails', label: 'BeaverTails (prompt, response, category, is_safe)' },
] as const;
type FormatChoice = (typeof FORMAT_OPTIONS)[number]['value'];

function ImportCard({ projectId }: { projectId: number }) {
  const [path, setPath] = useState('');
  const [role, setRole] = useState<DatasetRole>('safety_pool');
  const [format, setFormat] = useState<FormatChoice>('auto');
  const [columns, setColumns] = useState({ prompt: '', input: '', response: '', turns: '', categories: '' });
  const [started, setStarted] = useState<number | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  useEvent('job.updated', (j) => {
    if (j.id !== started) return;
    if (j.state === 'failed') setFailure(j.error);
    if (j.state === 'succeeded') setFailure(null);
  });
  const start = useAction(async () => {
    setFailure(null);
    const col = (v: string) => (v.trim() ? v.trim() : undefined);
    const mapping =
      format === 'auto'
        ? undefined
        : Object.fromEntries(
            Object.entries({
              format,
              prompt: col(columns.prompt),
              input: col(columns.input),
              response: col(columns.response),
              turns: col(columns.turns),
              categories: col(columns.categories),
            }).filter(([, v]) => v !== undefined),
          );
    const job = await api.call('jobs.start', {
      projectId,
      spec: { type: 'data.import', params: { projectId, path: path.trim(), role, ...(mapping ? { mapping: mapping as { format: Exclude<FormatChoice, 'auto'> } } : {}) } },
    });
    setStarted(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  const field = (key: keyof typeof columns, label: string) => (
    <TextField label={label} value={columns[key]} onChange={(e) => setColumns((c) => ({ ...c, [key]: e.target.value }))} placeholder="field / column name" />
  );
  return (
    <Card title="Import a file">
      <p className="muted">
        JSONL, JSON arrays, CSV/TSV and Parquet; Alpaca, chat (messages / ShareGPT), prompt/response and BeaverTails-style
        records are recognised. Rows that cannot be read are listed with their line and reason; importing the same file again
        does nothing.
      </p>
      <form className="select-form" onSubmit={onSubmit}>
        <div className="inline-form">
          <PathField
            kinds={['file']}
            onPick={setPath}
            label="File path"
            placeholder="/data/safety_pool.jsonl"
            value={path}
            onChange={(e) => setPath(e.target.value)}
            error={start.error?.message ?? failure}
            hint={started ? `Started import job #${started}` : 'An absolute path on the machine running the workbench'}
          />
          <SelectField label="Role" value={role} options={ROLE_OPTIONS} onChange={setRole} />
          <SelectField label="Record format" value={format} options={FORMAT_OPTIONS} onChange={setFormat} />
        </div>
        {failure && format === 'auto' && /column mapping/.test(failure) && (
          <p className="muted">Choose the record format and name the columns, then import again.</p>
        )}
        {format !== 'auto' && (
          <div className="filters">
            {format !== 'chat' && format !== 'sharegpt' && field('prompt', format === 'alpaca' ? 'Instruction field' : 'Prompt field')}
            {format === 'alpaca' && field('input', 'Input field')}
            {(format === 'alpaca' || format === 'prompt-response' || format === 'beavertails') && field('response', 'Response field')}
            {(format === 'chat' || format === 'sharegpt') && field('turns', 'Turns field')}
            {field('categories', 'Categories field (optional)')}
          </div>
        )}
        <Button type="submit" variant="primary" busy={start.pending} disabled={!path.trim()}>
          Import
        </Button>
      </form>
    </Card>
  );
}

function DatasetsCard({
  datasets,
  error,
  loading,
  onChanged,
}: {
  datasets: Dataset[] | undefined;
  error: Error | null;
  loading: boolean;
  onChanged: () => void;
}) {
  const [showRejected, setShowRejected] = useState<Dataset | null>(null);
  const [analysing, setAnalysing] = useState<Dataset | null>(null);
  const [referenceDir, setReferenceDir] = useState(() => localStorage.getItem('safetune.referenceDir') ?? '');
  const [embedderPath, setEmbedderPath] = useState(() => localStorage.getItem('safetune.embedderPath') ?? '');
  const remove = useAction(async (id: number) => {
    await api.call('data.deleteDataset', { id });
    onChanged();
  });
  const analyse = useAction(async (d: Dataset, settings: AnalyseSettings) => {
    const dir = referenceDir.trim();
    const enc = embedderPath.trim();
    localStorage.setItem('safetune.referenceDir', dir);
    localStorage.setItem('safetune.embedderPath', enc);
    await api.call('jobs.start', {
      spec: {
        type: 'data.analyse',
        params: { projectId: d.projectId, datasetId: d.id, ...settings, ...(dir ? { referenceDir: dir } : {}), ...(enc ? { embedderPath: enc } : {}) },
      },
    });
    setAnalysing(null);
  });
  return (
    <Card title="Data sets">
      <ErrorBanner error={error ?? remove.error ?? analyse.error} />
      <PathField
        kinds={['folder']}
        onPick={setReferenceDir}
        label="Reference prompts folder (for category inference)"
        placeholder="/data/beavertails-unsafe-prompts"
        value={referenceDir}
        onChange={(e) => setReferenceDir(e.target.value)}
        hint="One file of prompts per harm category (BeaverTails layout). Without it, Analyse infers no harm categories."
      />
      <PathField
        kinds={['folder']}
        onPick={setEmbedderPath}
        label="Sentence encoder folder (optional)"
        placeholder="/models/all-MiniLM-L6-v2-onnx"
        value={embedderPath}
        onChange={(e) => setEmbedderPath(e.target.value)}
        hint="A sentence-transformers ONNX folder for prompt embeddings (categories, map, PSS, Cossim). Empty: the built-in word vectors."
      />
      <div className="role-defaults" aria-label="What Analyse does by default">
        <p className="small">What Analyse does by default (you can change it before each analysis):</p>
        <ul className="small muted">
          {(Object.keys(ANALYSE_DEFAULTS) as DatasetRole[]).map((r) => (
            <li key={r}>{ANALYSE_DEFAULTS[r].summary}</li>
          ))}
        </ul>
      </div>
      <ListState loading={loading} items={datasets} loadingLabel="Loading data sets" emptyTitle="No data imported yet" empty="Import task data and a safety pool to start.">
        {(list) => (
        <table className="table" aria-label="Data sets">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Role</th>
              <th scope="col">Records</th>
              <th scope="col">Rejected</th>
              <th scope="col">State</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.map((d) => (
              <tr key={d.id} data-dataset-id={d.id}>
                <td title={d.sourcePath}>{d.name}</td>
                <td>{DATASET_ROLE_LABELS[d.role]}</td>
                <td>{d.accepted.toLocaleString()}</td>
                <td>{d.rejected.toLocaleString()}</td>
                <td>
                  <Badge tone={d.state === 'ready' ? 'success' : d.state === 'failed' ? 'danger' : 'info'}>{d.state}</Badge>
                </td>
                <td className="row-actions">
                  {d.state === 'ready' && (
                    <Button variant="ghost" onClick={() => setAnalysing(d)} aria-label={`Analyse ${d.name}`}>
                      Analyse
                    </Button>
                  )}
                  {d.rejected > 0 && (
                    <Button variant="ghost" onClick={() => setShowRejected(d)} aria-label={`Rejected rows of ${d.name}`}>
                      Rejected rows
                    </Button>
                  )}
                  <Button variant="ghost" onClick={() => void remove.run(d.id)} aria-label={`Delete data set ${d.name}`}>
                    Delete
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        )}
      </ListState>
      {showRejected && <RejectionsDialog dataset={showRejected} onClose={() => setShowRejected(null)} />}
      {analysing && (
        <AnalyseDialog
          key={analysing.id}
          dataset={analysing}
          hasReferences={referenceDir.trim() !== ''}
          busy={analyse.pending}
          onStart={(settings) => void analyse.run(analysing, settings)}
          onClose={() => setAnalysing(null)}
        />
      )}
    </Card>
  );
}

/** Analyse's options for one data set, preset to its role's defaults. */
function AnalyseDialog({
  dataset,
  hasReferences,
  busy,
  onStart,
  onClose,
}: {
  dataset: Dataset;
  hasReferences: boolean;
  busy: boolean;
  onStart: (s: AnalyseSettings) => void;
  onClose: () => void;
}) {
  const defaults = ANALYSE_DEFAULTS[dataset.role];
  const [settings, setSettings] = useState<AnalyseSettings>(() => analyseSettings(dataset.role, {}));
  const toggle = (key: keyof AnalyseSettings) => (e: ChangeEvent<HTMLInputElement>) => setSettings((s) => ({ ...s, [key]: e.target.checked }));
  const byDefault = (key: keyof AnalyseSettings) => (settings[key] === defaults[key] ? ' (default for this role)' : '');
  return (
    <Dialog
      open
      title={`Analyse ${dataset.name}`}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={busy} onClick={() => onStart(settings)}>
            Start analysis
          </Button>
        </>
      }
    >
      <p className="muted">{defaults.summary} Prompts are always embedded (for the map and for selection).</p>
      <label className="checkbox">
        <input type="checkbox" checked={settings.typeBehaviour} onChange={toggle('typeBehaviour')} /> Type each pair T1–T4 by behaviour{byDefault('typeBehaviour')}
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={settings.promptsHarmful} disabled={!settings.typeBehaviour} onChange={toggle('promptsHarmful')} /> Every prompt is harmful: skip
        the prompt-harm detector, only the reply decides T1 vs T2{byDefault('promptsHarmful')}
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={settings.inferCategories} onChange={toggle('inferCategories')} /> Infer harm categories of unlabelled records
        {byDefault('inferCategories')}
      </label>
      {settings.inferCategories && !hasReferences && (
        <p className="field-error">No reference prompts folder is set above: categories cannot be inferred until you give one.</p>
      )}
    </Dialog>
  );
}

function RejectionsDialog({ dataset, onClose }: { dataset: Dataset; onClose: () => void }) {
  const { data, error } = useCall('data.rejections', { datasetId: dataset.id, limit: 500 }, [dataset.id]);
  return (
    <Dialog open title={`Rejected rows of ${dataset.name}`} onClose={onClose} footer={<Button onClick={onClose}>Close</Button>}>
      <ErrorBanner error={error} />
      {data && (
        <>
          <p className="muted">
            {data.total} row{data.total === 1 ? '' : 's'} could not be imported{data.total > data.rows.length ? ` (first ${data.rows.length} shown)` : ''}.
          </p>
          <ul className="rejections">
            {data.rows.map((r) => (
              <li key={r.sourceRow}>
                <code>{r.message}</code>
              </li>
            ))}
          </ul>
        </>
      )}
    </Dialog>
  );
}

const BEHAVIOUR_OPTIONS = [
  { value: '', label: 'Any behaviour' },
  { value: 'T1', label: 'T1 harmful + refusal' },
  { value: 'T2', label: 'T2 harmful + compliance' },
  { value: 'T3', label: 'T3 benign + compliance' },
  { value: 'T4', label: 'T4 benign + refusal' },
  { value: 'untyped', label: 'Not typed yet' },
] as const;

function RecordsCard({ projectId, datasets, refresh }: { projectId: number; datasets: Dataset[]; refresh: number }) {
  const taxonomy = useCall('data.taxonomy', {});
  const [datasetId, setDatasetId] = useState('');
  const [category, setCategory] = useState('');
  const [behaviour, setBehaviour] = useState<(typeof BEHAVIOUR_OPTIONS)[number]['value']>('');
  const [duplicates, setDuplicates] = useState<'all' | 'only' | 'hide'>('all');
  const [search, setSearch] = useState('');
  const [debounced, setDebounced] = useState('');
  const [total, setTotal] = useState<number | null>(null);
  const [open, setOpen] = useState<DataRecord | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(search.trim()), 250);
    return () => clearTimeout(t);
  }, [search]);

  const query = {
    projectId,
    ...(datasetId ? { datasetId: Number(datasetId) } : {}),
    ...(category ? { category } : {}),
    ...(behaviour ? { behaviour } : {}),
    duplicates,
    ...(debounced ? { search: debounced } : {}),
  };
  const key = JSON.stringify(query) + ':' + version + ':' + refresh + ':' + datasets.map((d) => `${d.id}/${d.accepted}`).join(',');
  useEffect(() => {
    let live = true;
    setTotal(null);
    void api.call('data.records', { ...query, limit: 1 }).then((p) => live && setTotal(p.total));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  const loadPage = useCallback(
    (offset: number, limit: number) => api.call('data.records', { ...query, offset, limit }).then((p) => p.rows),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );
  const name = (id: number) => datasets.find((d) => d.id === id)?.name ?? `#${id}`;
  const catName = (id: string) => taxonomy.data?.categories.find((c) => c.id === id)?.name ?? id;
  const columns: Column<DataRecord>[] = [
    { key: 'row', header: 'Line', width: '64px', render: (r) => r.sourceLine ?? r.sourceRow + 1 },
    { key: 'ds', header: 'Data set', width: '120px', render: (r) => name(r.datasetId) },
    { key: 'prompt', header: 'Prompt', width: 'minmax(0, 2fr)', render: (r) => r.prompt },
    { key: 'response', header: 'Response', width: 'minmax(0, 1.5fr)', render: (r) => r.response || <span className="muted">—</span> },
    { key: 'cat', header: 'Categories', width: '140px', render: (r) => r.categories.map(catName).join(', ') || <span className="muted">—</span> },
    { key: 'beh', header: 'Type', width: '52px', render: (r) => r.behaviour ?? <span className="muted">—</span> },
    {
      key: 'dup',
      header: 'Dup',
      width: '48px',
      render: (r) => (r.duplicateOf ? <Badge tone="warning">exact</Badge> : r.nearDuplicateOf ? <Badge tone="neutral">near</Badge> : null),
    },
  ];
  return (
    <Card title="Records">
      <div className="filters">
        <SelectField
          label="Data set"
          value={datasetId}
          options={[{ value: '', label: 'All data sets' }, ...datasets.map((d) => ({ value: String(d.id), label: `${d.name} (${DATASET_ROLE_LABELS[d.role]})` }))]}
          onChange={setDatasetId}
        />
        <SelectField
          label="Harm category"
          value={category}
          options={[{ value: '', label: 'Any category' }, ...(taxonomy.data?.categories ?? []).map((c) => ({ value: c.id, label: c.name }))]}
          onChange={setCategory}
        />
        <SelectField label="Behaviour" value={behaviour} options={BEHAVIOUR_OPTIONS} onChange={setBehaviour} />
        <SelectField
          label="Duplicates"
          value={duplicates}
          options={[
            { value: 'all', label: 'Show all' },
            { value: 'only', label: 'Only duplicates' },
            { value: 'hide', label: 'Hide duplicates' },
          ]}
          onChange={setDuplicates}
        />
        <TextField label="Search" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="words in prompt or response" />
      </div>
      <p className="muted" aria-live="polite">
        {total === null ? 'Counting…' : `${total.toLocaleString()} record${total === 1 ? '' : 's'}`}
      </p>
      <VirtualTable label="Records" columns={columns} total={total ?? 0} loadPage={loadPage} resetKey={key} onRowClick={setOpen} />
      {open && (
        <RecordDialog
          record={open}
          categories={taxonomy.data?.categories ?? []}
          onClose={() => setOpen(null)}
          onSaved={() => {
            setOpen(null);
            setVersion((v) => v + 1);
          }}
        />
      )}
    </Card>
  );
}

function RecordDialog({
  record,
  categories,
  onClose,
  onSaved,
}: {
  record: DataRecord;
  categories: { id: string; name: string }[];
  onClose: () => void;
  onSaved: () => void;
}) {
  const [behaviour, setBehaviour] = useState<string>(record.behaviour ?? '');
  const [cats, setCats] = useState<string[]>(record.categories);
  const save = useAction(async () => {
    await api.call('data.correctRecord', {
      id: record.id,
      categories: cats,
      behaviour: behaviour === '' ? null : (behaviour as 'T1' | 'T2' | 'T3' | 'T4'),
    });
    onSaved();
  });
  return (
    <Dialog
      open
      title={`Record ${record.id} (line ${record.sourceLine ?? record.sourceRow + 1})`}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Close</Button>
          <Button variant="primary" busy={save.pending} onClick={() => void save.run()}>
            Save corrections
          </Button>
        </>
      }
    >
      <div className="two-col">
        <div>
          <h3>Prompt</h3>
          <div className="record-detail">{record.prompt}</div>
        </div>
        <div>
          <h3>Response</h3>
          <div className="record-detail">{record.response || '—'}</div>
        </div>
      </div>
      <p className="muted">
        Categories from: {record.categorySource} · behaviour from: {record.behaviourSource}
        {record.behaviourConfidence !== null && ` (confidence ${record.behaviourConfidence.toFixed(2)})`}
      </p>
      <SelectField
        label="Behaviour type"
        value={behaviour}
        options={BEHAVIOUR_OPTIONS.filter((o) => o.value !== 'untyped').map((o) => (o.value === '' ? { value: '', label: 'Not typed' } : o))}
        onChange={setBehaviour}
      />
      <CheckboxGroup legend="Harm categories" options={categories.map((c) => ({ value: c.id, label: c.name }))} value={cats} onChange={setCats} />
      <ErrorBanner error={save.error} />
    </Dialog>
  );
}

function FingerprintCard({ projectId }: { projectId: number }) {
  const [path, setPath] = useState('');
  const [job, setJob] = useState<Job | null>(null);
  const start = useAction(async (p: string) => {
    setJob(await api.call('jobs.start', { projectId, spec: { type: 'file.checksum', params: { path: p } } }));
  });
  useEvent('job.updated', (j) => j.id === job?.id && setJob(j));
  const result = job?.state === 'succeeded' ? (job.result as FileChecksumResult) : null;
  return (
    <Card title="Fingerprint a file">
      <p className="muted">The SHA-256 of any file (as sha256sum prints it), as a resumable background job.</p>
      <form
        className="inline-form"
        onSubmit={(e) => {
          e.preventDefault();
          void start.run(path.trim());
        }}
      >
        <PathField
          kinds={['file']}
          onPick={setPath}
          label="Path to fingerprint"
          placeholder="/data/model.safetensors"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          error={start.error?.message ?? job?.error ?? undefined}
          hint={job && !result ? `Job #${job.id}: ${job.state}` : undefined}
        />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!path.trim()}>
          Start fingerprint
        </Button>
      </form>
      {result && (
        <dl className="checksum-result" aria-label="Checksum result">
          <dt>SHA-256</dt>
          <dd>
            <code data-testid="sha256">{result.sha256}</code>
          </dd>
          <dt>File</dt>
          <dd>
            {result.path} ({result.sizeBytes.toLocaleString()} bytes, job #{job!.id})
          </dd>
        </dl>
      )}
    </Card>
  );
}
