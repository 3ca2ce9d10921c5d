import { useState, type FormEvent } from 'react';
import { api } from '../api/client';
import { useAction } from '../api/hooks';
import { Button, Card, TextField } from '../components/ui';
import type { TabProps } from './tabs';

/** Data: files the project works on. For now, fingerprinting a data file as a background job. */
export function DataTab({ project }: TabProps) {
  const [path, setPath] = useState('');
  const [started, setStarted] = useState<number | null>(null);
  const start = useAction(async (p: string) => {
    const job = await api.call('jobs.start', { projectId: project.id, spec: { type: 'file.checksum', params: { path: p } } });
    setStarted(job.id);
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run(path.trim());
  };
  return (
    <Card title="Fingerprint a data file">
      <p className="muted">
        Computes block-wise SHA-256 fingerprints of a file on this machine, so the workbench recognises it when it is
        imported again. Runs as a resumable background job: watch it in the Jobs panel.
      </p>
      <form className="inline-form" onSubmit={onSubmit}>
        <TextField
          label="File path"
          placeholder="/data/safety/pool.jsonl"
          value={path}
          onChange={(e) => setPath(e.target.value)}
          error={start.error?.message}
          hint={started ? `Started job #${started}` : 'An absolute path on the machine running the workbench'}
        />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!path.trim()}>
          Start fingerprint
        </Button>
      </form>
    </Card>
  );
}
