import { useState } from 'react';
import { useCall, useEvent } from '../../api/hooks';
import type { TabProps } from '../types';
import { DatasetsCard } from './DatasetsCard';
import { EmbeddingMap } from './EmbeddingMap';
import { FingerprintCard } from './FingerprintCard';
import { ImportCard } from './ImportCard';
import { JudgeAgreementCard } from './JudgeAgreementCard';
import { PoisonScreenCard } from './PoisonScreenCard';
import { RecordsCard } from './RecordsCard';

/** Data: import files by role, browse their records, see rejected rows, correct labels. */
export function DataTab({ project }: TabProps) {
  const datasets = useCall('data.datasets', { projectId: project.id }, [project.id]);
  const taxonomy = useCall('data.taxonomy', {});
  const reload = datasets.reload;
  const [analysed, setAnalysed] = useState(0);
  // labels changed outside the Records card (judge labels kept): its rows are read again
  const [changed, setChanged] = useState(0);
  useEvent('data.changed', (e) => {
    if (e.projectId !== project.id) return;
    reload();
    setChanged((n) => n + 1);
  });
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
      {datasets.data && datasets.data.length > 0 && <RecordsCard projectId={project.id} datasets={datasets.data} refresh={analysed + changed} />}
      {datasets.data?.some((d) => d.embedderId) && <JudgeAgreementCard analysed={datasets.data.filter((d) => d.embedderId)} refresh={analysed} />}
      {datasets.data && <PoisonScreenCard projectId={project.id} datasets={datasets.data} />}
      {datasets.data && datasets.data.some((d) => d.embedderId) && (
        <EmbeddingMap key={analysed} datasets={datasets.data.filter((d) => d.embedderId)} categories={taxonomy.data?.categories ?? []} />
      )}
      <FingerprintCard projectId={project.id} />
    </>
  );
}
