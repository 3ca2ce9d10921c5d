import { useRef, useState } from 'react';
import { api } from '../../api/client';
import { useCall, useEvent } from '../../api/hooks';
import { presetTrainSelection } from '../trainRuns';
import type { TabProps } from '../types';
import { SavedSelections } from './SavedSelections';
import { SelectForm } from './SelectForm';
import { SelectionPreview, type SelectionDetail } from './SelectionPreview';

/** Select: choose safety examples under a budget, preview them with histograms, save, export. */
export function SelectTab({ project }: TabProps) {
  const taxonomy = useCall('data.taxonomy', {});
  const saved = useCall('select.list', { projectId: project.id }, [project.id]);
  const [jobId, setJobId] = useState<number | null>(null);
  const jobRef = useRef<number | null>(null);
  jobRef.current = jobId;
  const [jobError, setJobError] = useState<string | null>(null);
  const [detail, setDetail] = useState<SelectionDetail | null>(null);

  const open = async (id: number) => setDetail(await api.call('select.get', { id }));
  useEvent('job.updated', (j) => {
    if (j.id !== jobRef.current || ['queued', 'running'].includes(j.state)) return;
    setJobId(null);
    if (j.state === 'succeeded') void open((j.result as { selectionId: number }).selectionId);
    else setJobError(j.error ?? j.state);
  });
  const allCats = taxonomy.data?.categories ?? [];

  return (
    <>
      <SelectForm
        projectId={project.id}
        busy={jobId !== null}
        error={jobError}
        onStarted={(id) => {
          setJobError(null);
          setJobId(id);
        }}
      />
      {detail && (
        <SelectionPreview
          // a new preview starts with its own suggested name
          key={detail.selection.id}
          detail={detail}
          taxonomy={allCats.map((c) => c.id)}
          categoryName={(id) => allCats.find((c) => c.id === id)?.name ?? id}
          onSaved={(s) => {
            setDetail((d) => (d ? { ...d, selection: s } : d));
            // the Train tab opens with it chosen under Safety examples
            presetTrainSelection(project.id, s.id);
            saved.reload();
          }}
        />
      )}
      <SavedSelections saved={saved} onOpen={(id) => void open(id)} />
    </>
  );
}
