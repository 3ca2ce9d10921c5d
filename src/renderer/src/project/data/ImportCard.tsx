/** Import a file into the project under a role, with an optional column mapping. */
import { useState, type FormEvent } from 'react';
import { DATASET_ROLE_LABELS, type DataImportParams, type DataImportResult, type DatasetRole } from '../../../../shared/data';
import { api } from '../../api/client';
import { useAction, useEvent } from '../../api/hooks';
import { PathField } from '../../components/PathField';
import { Button, Card, SelectField, TextField } from '../../components/ui';
import { formKey, usePersistentFields } from '../../forms/persist';
import { importNotice } from './importNotice';

const ROLE_OPTIONS = (Object.keys(DATASET_ROLE_LABELS) as DatasetRole[]).map((value) => ({ value, label: DATASET_ROLE_LABELS[value] }));

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

export function ImportCard({ projectId }: { projectId: number }) {
  // kept across tab switches, like every project form
  const [form, set] = usePersistentFields(formKey('import', projectId), {
    path: '',
    role: 'safety_pool' as DatasetRole,
    format: 'auto' as FormatChoice,
    behaviourField: '',
    columns: { prompt: '', input: '', response: '', turns: '', categories: '' },
  });
  const { path, role, format, behaviourField, columns } = form;
  const setPath = (v: string) => set('path', v);
  const setRole = (v: DatasetRole) => set('role', v);
  const setFormat = (v: FormatChoice) => set('format', v);
  const setColumns = (f: (c: typeof columns) => typeof columns) => set('columns', f(columns));
  const [started, setStarted] = useState<number | null>(null);
  const [failure, setFailure] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  useEvent('job.updated', (j) => {
    if (j.id !== started) return;
    if (j.state === 'failed') setFailure(j.error);
    if (j.state === 'succeeded') {
      setFailure(null);
      setNotice(importNotice(j.params as DataImportParams, j.result as DataImportResult));
    }
  });
  const start = useAction(async () => {
    setFailure(null);
    setNotice(null);
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
      spec: {
        type: 'data.import',
        params: {
          projectId,
          path: path.trim(),
          role,
          ...(mapping ? { mapping: mapping as { format: Exclude<FormatChoice, 'auto'> } } : {}),
          ...(col(behaviourField) ? { behaviourField: col(behaviourField) } : {}),
        },
      },
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
        JSONL, JSON arrays, CSV/TSV and Parquet; Alpaca, chat (messages / ShareGPT), prompt/response and BeaverTails-style records are recognised. Rows that
        cannot be read are listed with their line and reason; importing the same file again does nothing.
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
          <TextField
            label="Recorded T1–T4 column (optional)"
            value={behaviourField}
            onChange={(e) => set('behaviourField', e.target.value)}
            placeholder="e.g. behaviour"
            title="A column or key holding each record's type (T1–T4) as recorded in the file: taken as the record's type, which Analyse keeps"
          />
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
        {notice && (
          <p className="muted" role="status" data-testid="import-notice">
            {notice}
          </p>
        )}
      </form>
    </Card>
  );
}
