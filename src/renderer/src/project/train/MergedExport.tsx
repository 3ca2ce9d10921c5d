import type { Job } from '../../../../shared/domain';
import { api } from '../../api/client';
import { useAction } from '../../api/hooks';
import { Button, ErrorBanner, ProgressBar } from '../../components/ui';

/**
 * Export the fine-tuned model as a standalone model (adapter merged into the weights): a Hugging
 * Face folder for a Hugging Face base, a GGUF for a GGUF base, written by the app to a new folder
 * in the workspace's models/ (every export gets its own); then add it to the Models list.
 */
export function MergedExport({ run, adapterPath, merge }: { run: Job; adapterPath: string; merge: Job | null }) {
  const modelPath = (run.params as { modelPath: string }).modelPath;
  const start = useAction(async () => {
    await api.call('jobs.start', { projectId: run.projectId, spec: { type: 'model.merge', params: { modelPath, adapterPath } } });
  });
  const add = useAction(async (path: string) => {
    await api.call('jobs.start', { spec: { type: 'model.inspect', params: { path } } });
  });
  const done = merge?.state === 'succeeded' ? (merge.result as { modelPath: string; bytes: number }) : null;
  const active = merge && (merge.state === 'queued' || merge.state === 'running');
  return (
    <div className="merge-export" data-testid="merge-export">
      {active && <ProgressBar fraction={merge.progress.fraction} label={merge.progress.message || 'merging'} />}
      {merge?.state === 'failed' && <p className="field-error">Merging failed: {merge.error}</p>}
      {done ? (
        <p className="muted small">
          Merged model: <code>{done.modelPath}</code> ({(done.bytes / 2 ** 20).toFixed(1)} MiB of weights){' '}
          <Button onClick={() => void add.run(done.modelPath)} busy={add.pending}>
            Add to Models
          </Button>
        </p>
      ) : (
        !active && (
          <Button onClick={() => void start.run()} busy={start.pending} title="Merge the adapter into the base weights and write a standalone model">
            Export merged model
          </Button>
        )
      )}
      <ErrorBanner error={start.error ?? add.error} />
    </div>
  );
}
