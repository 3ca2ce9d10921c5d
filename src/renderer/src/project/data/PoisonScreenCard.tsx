/**
 * Screening task data for poisoned rows before training (what a fine-tuning provider runs on an
 * upload): the data.screen job lists rows that look like harmful requests answered compliantly and
 * unlike the rest of the data, most suspicious first; the user unticks any false alarm and drops
 * the rest (asked first).
 */
import { useEffect, useState } from 'react';
import type { Dataset, DataScreenResult } from '../../../../shared/data';
import type { Job } from '../../../../shared/domain';
import { api } from '../../api/client';
import { useAction, useEvent } from '../../api/hooks';
import { ConfirmDialog } from '../../components/ConfirmDialog';
import { Button, Card, ErrorBanner, ProgressBar, SelectField } from '../../components/ui';

const clip = (t: string, n: number) => (t.length > n ? `${t.slice(0, n - 1)}…` : t);

export function PoisonScreenCard({ projectId, datasets }: { projectId: number; datasets: readonly Dataset[] }) {
  const task = datasets.filter((d) => d.role === 'task' && d.state === 'ready');
  const [datasetId, setDatasetId] = useState('');
  const [job, setJob] = useState<Job | null>(null);
  const [dropIds, setDropIds] = useState<Set<number>>(new Set());
  const [confirming, setConfirming] = useState(false);
  const [dropped, setDropped] = useState<number | null>(null);
  useEffect(() => {
    if (!task.some((d) => String(d.id) === datasetId) && task[0]) setDatasetId(String(task[0].id));
  }, [task, datasetId]);
  useEvent('job.updated', (j) => {
    if (job && j.id === job.id) setJob(j);
  });
  const result = job?.state === 'succeeded' ? (job.result as DataScreenResult) : null;
  useEffect(() => {
    if (result) setDropIds(new Set(result.flagged.map((f) => f.recordId)));
  }, [result]);
  const start = useAction(async () => {
    setDropped(null);
    setJob(await api.call('jobs.start', { spec: { type: 'data.screen', params: { projectId, datasetId: Number(datasetId), typicality: true } } }));
  });
  const drop = useAction(async () => {
    const r = await api.call('data.dropRecords', { datasetId: result!.datasetId, recordIds: [...dropIds] });
    setDropped(r.dropped);
    setConfirming(false);
    setJob(null);
  });
  if (task.length === 0) return null;
  const running = job !== null && (job.state === 'queued' || job.state === 'running');
  return (
    <Card title="Screen task data for poisoned rows">
      <p className="small muted">
        Rows that pair a harmful request with a compliant answer teach a model to comply. The screen types every row with the safety detectors and lists the
        ones that look harmful-and-answered and unlike the rest of your data; untick false alarms, then drop the rest before training.
      </p>
      <div className="filters">
        <SelectField
          label="Task data set"
          value={datasetId}
          options={task.map((d) => ({ value: String(d.id), label: `${d.name} (${d.accepted})` }))}
          onChange={setDatasetId}
        />
        <Button onClick={() => void start.run()} busy={start.pending || running} disabled={!datasetId || running}>
          Screen for poisoned rows
        </Button>
      </div>
      <ErrorBanner error={start.error ?? drop.error} />
      {running && <ProgressBar fraction={job.progress.fraction} label={job.progress.message || 'queued'} />}
      {job?.state === 'failed' && <p className="field-error">{job.error}</p>}
      {dropped !== null && (
        <p className="small" role="status">
          Dropped {dropped} rows.
        </p>
      )}
      {result && (
        <div data-testid="poison-screen">
          <p className="small" role="status">
            {result.flagged.length === 0
              ? `None of ${result.total} rows looks poisoned.`
              : `${result.flagged.length} of ${result.total} rows look poisoned (most suspicious first).`}
          </p>
          {result.flagged.length > 0 && (
            <>
              <table className="data-table" aria-label="Rows that look poisoned">
                <thead>
                  <tr>
                    <th>Drop</th>
                    <th>Score</th>
                    <th>Prompt</th>
                    <th>Response</th>
                  </tr>
                </thead>
                <tbody>
                  {result.flagged.map((f) => (
                    <tr key={f.recordId}>
                      <td>
                        <input
                          type="checkbox"
                          aria-label={`Drop record ${f.recordId}`}
                          checked={dropIds.has(f.recordId)}
                          onChange={(e) =>
                            setDropIds((s) => {
                              const n = new Set(s);
                              if (e.target.checked) n.add(f.recordId);
                              else n.delete(f.recordId);
                              return n;
                            })
                          }
                        />
                      </td>
                      <td
                        title={`P(harmful) ${f.harmProbability.toFixed(2)} · P(refusal) ${f.refusalProbability.toFixed(2)}${f.atypicality !== null ? ` · less typical than ${Math.round(100 * f.atypicality)}% of rows` : ''}`}
                      >
                        {f.score.toFixed(2)}
                      </td>
                      <td>{clip(f.prompt, 160)}</td>
                      <td>{clip(f.response, 100)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <Button variant="primary" onClick={() => setConfirming(true)} disabled={dropIds.size === 0}>
                Drop {dropIds.size} rows
              </Button>
            </>
          )}
        </div>
      )}
      {confirming && result && (
        <ConfirmDialog
          title={`Drop ${dropIds.size} rows?`}
          action="Drop rows"
          busy={drop.pending}
          onConfirm={() => void drop.run()}
          onClose={() => setConfirming(false)}
        >
          <p>{dropIds.size} rows are removed from the data set (import the file again to get them back); finished runs are not changed.</p>
        </ConfirmDialog>
      )}
    </Card>
  );
}
