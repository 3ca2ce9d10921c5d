/** The project's data sets: analyse (with the reference and encoder folders), see rejected rows, delete. */
import { useState } from 'react';
import { DATASET_ROLE_LABELS, type Dataset, type DatasetRole } from '../../../../shared/data';
import { ANALYSE_DEFAULTS, type AnalyseSettings } from '../../../../shared/select';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { PathField } from '../../components/PathField';
import { Badge, Button, Card, ErrorBanner, ListState } from '../../components/ui';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { type AnalyseJudge, AnalyseDialog } from './AnalyseDialog';
import { RejectionsDialog } from './RejectionsDialog';

export function DatasetsCard({
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
  const [deleting, setDeleting] = useState<Dataset | null>(null);
  const remove = useAction(async (id: number) => {
    await api.call('data.deleteDataset', { id });
    setDeleting(null);
    onChanged();
  });
  const analyse = useAction(async (d: Dataset, settings: AnalyseSettings, judge: AnalyseJudge) => {
    const dir = referenceDir.trim();
    const enc = embedderPath.trim();
    localStorage.setItem('safetune.referenceDir', dir);
    localStorage.setItem('safetune.embedderPath', enc);
    await api.call('jobs.start', {
      spec: {
        type: 'data.analyse',
        params: {
          projectId: d.projectId,
          datasetId: d.id,
          ...settings,
          ...(dir ? { referenceDir: dir } : {}),
          ...(enc ? { embedderPath: enc } : {}),
          ...(judge.judge !== 'builtin' ? judge : {}),
        },
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
      <ListState
        loading={loading}
        items={datasets}
        loadingLabel="Loading data sets"
        emptyTitle="No data imported yet"
        empty="Import task data and a safety pool to start."
      >
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
                  <td className="cell-name" title={d.sourcePath}>
                    {d.name}
                  </td>
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
                    <Button variant="ghost" onClick={() => setDeleting(d)} aria-label={`Delete data set ${d.name}`}>
                      Delete
                    </Button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </ListState>
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.name}?`}
          action="Delete data set"
          busy={remove.pending}
          onConfirm={() => void remove.run(deleting.id)}
          onClose={() => setDeleting(null)}
        >
          <p>
            Its {deleting.accepted} records go with it, with their analysis and corrections. The file itself stays where it is: import it again to get them
            back.
          </p>
        </ConfirmDialog>
      )}
      {showRejected && <RejectionsDialog dataset={showRejected} onClose={() => setShowRejected(null)} />}
      {analysing && (
        <AnalyseDialog
          key={analysing.id}
          dataset={analysing}
          hasReferences={referenceDir.trim() !== ''}
          busy={analyse.pending}
          onStart={(settings, judge) => void analyse.run(analysing, settings, judge)}
          onClose={() => setAnalysing(null)}
        />
      )}
    </Card>
  );
}
