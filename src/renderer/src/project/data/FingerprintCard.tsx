/** A file's SHA-256 as a resumable background job. */
import { useState } from 'react';
import type { Job } from '../../../../shared/domain';
import type { FileChecksumResult } from '../../../../shared/jobs';
import { api } from '../../api/client';
import { useAction, useEvent } from '../../api/hooks';
import { PathField } from '../../components/PathField';
import { Button, Card } from '../../components/ui';

export function FingerprintCard({ projectId }: { projectId: number }) {
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
