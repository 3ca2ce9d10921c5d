/** The project's records: filtered, searched, paged in a virtual table; a click opens one for correction. */
import { useCallback, useEffect, useState } from 'react';
import { DATASET_ROLE_LABELS, type DataRecord, type Dataset } from '../../../../shared/data';
import { api } from '../../api/client';
import { useCall } from '../../api/hooks';
import { Badge, Card, SelectField, TextField } from '../../components/ui';
import { VirtualTable, type Column } from '../../components/VirtualTable';
import { BEHAVIOUR_OPTIONS } from './behaviours';
import { RecordDialog } from './RecordDialog';

export function RecordsCard({ projectId, datasets, refresh }: { projectId: number; datasets: Dataset[]; refresh: number }) {
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
    // fixed widths only for the short columns: at 1024 px the prompt and response keep most of the row
    { key: 'row', header: 'Line', width: '52px', render: (r) => r.sourceLine ?? r.sourceRow + 1 },
    { key: 'ds', header: 'Data set', width: 'minmax(64px, 0.7fr)', render: (r) => name(r.datasetId) },
    { key: 'prompt', header: 'Prompt', width: 'minmax(0, 2fr)', render: (r) => r.prompt },
    { key: 'response', header: 'Response', width: 'minmax(0, 1.5fr)', render: (r) => r.response || <span className="muted">—</span> },
    { key: 'cat', header: 'Categories', width: 'minmax(72px, 0.8fr)', render: (r) => r.categories.map(catName).join(', ') || <span className="muted">—</span> },
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
          options={[
            { value: '', label: 'All data sets' },
            ...datasets.map((d) => ({ value: String(d.id), label: `${d.name} (${DATASET_ROLE_LABELS[d.role]})` })),
          ]}
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
