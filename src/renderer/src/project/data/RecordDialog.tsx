/** One record in full, with its behaviour type and harm categories to correct. */
import { useState } from 'react';
import { BEHAVIOUR_SOURCE_LABELS, type DataRecord } from '../../../../shared/data';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { Button, CheckboxGroup, Dialog, ErrorBanner, SelectField } from '../../components/ui';
import { BEHAVIOUR_OPTIONS } from './behaviours';

export function RecordDialog({
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
        Categories from: {record.categorySource} · behaviour: {BEHAVIOUR_SOURCE_LABELS[record.behaviourSource]}
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
