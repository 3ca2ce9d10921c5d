/**
 * "Try the miniature replication": what it shows and how long each preset takes, the preset
 * choice, and a start through `replicate.start`, which returns at once. While the project's set-up
 * runs as jobs (the two imports, the model added to the Models list) the card lists each step with
 * its progress or error; once the grid is queued it opens the grid in Compare.
 */
import { useState } from 'react';
import { useNavigate } from 'react-router';
import type { Job } from '../../../shared/domain';
import { REPLICATION_PRESETS, type ReplicationPreset, type ReplicationStarted, type ReplicationStep } from '../../../shared/replication';
import { api } from '../api/client';
import { useAction, useEvent } from '../api/hooks';
import { Button, Card, ErrorBanner, SelectField } from '../components/ui';

const PRESET_OPTIONS = (Object.keys(REPLICATION_PRESETS) as ReplicationPreset[]).map((value) => ({ value, label: REPLICATION_PRESETS[value].label }));

/**
 * The preset, a start and its set-up as the card shows them; held by the page, so the card keeps
 * them when the page moves it (the first project appearing moves it below the list).
 */
export function useReplicationStart() {
  const navigate = useNavigate();
  const [preset, setPreset] = useState<ReplicationPreset>('quick');
  const [started, setStarted] = useState<ReplicationStarted | null>(null);
  const [live, setLive] = useState<Record<number, Job>>({});
  const show = (r: ReplicationStarted) => {
    setStarted(r);
    if (r.state === 'started') navigate(`/projects/${r.projectId}/compare`);
  };
  const refresh = async (id: number) => show(await api.call('replicate.get', { id }));
  useEvent('replication.changed', (e) => {
    if (started && e.replicationId === started.id) void refresh(started.id);
  });
  useEvent('job.updated', (j) => {
    if (!started?.steps.some((x) => x.jobId === j.id)) return;
    setLive((m) => ({ ...m, [j.id]: j }));
    if (j.state !== 'queued' && j.state !== 'running') void refresh(started.id); // a step ended (or was resumed)
  });
  const start = useAction(async (preset: ReplicationPreset) => {
    setLive({});
    show(await api.call('replicate.start', { preset }));
  });
  return { preset, setPreset, started, live, start };
}

export function ReplicationCard({ prominent, replication }: { prominent: boolean; replication: ReturnType<typeof useReplicationStart> }) {
  const { preset, setPreset, started, live, start } = replication;
  return (
    <div className={prominent ? 'replication-card prominent' : 'replication-card'}>
      <Card title="Try the miniature replication">
        <p>
          See the problem and its cure on this machine: a small aligned model (shipped with the app) that refuses harmful requests loses its refusals when it is
          fine-tuned on a task (SST-2); safety examples chosen by the project’s samplers (Random, SSS-B) or Dark Experience Replay keep them. Every arm runs as
          ordinary jobs — selection, full-parameter training, evaluation on AdvBench, XSTest’s safe prompts and SST-2 — in a project “Miniature replication”,
          summarised per arm in Compare.
        </p>
        <SelectField label="Preset" value={preset} options={PRESET_OPTIONS} onChange={setPreset} />
        <p className="muted small">{REPLICATION_PRESETS[preset].description}</p>
        <ErrorBanner error={start.error} />
        {started && started.state !== 'started' && <SetupSteps started={started} live={live} />}
        <Button variant={prominent ? 'primary' : 'secondary'} busy={start.pending} onClick={() => void start.run(preset)}>
          Try the miniature replication
        </Button>
      </Card>
    </div>
  );
}

/** The set-up steps of a start: each done, or its job's state with its progress or error. */
function SetupSteps({ started, live }: { started: ReplicationStarted; live: Record<number, Job> }) {
  return (
    <div className="replication-setup" data-state={started.state}>
      <p className="small">
        {started.state === 'stopped'
          ? 'A set-up step did not finish: resume its job from the Jobs panel (the grid starts when every step has succeeded), or start again.'
          : 'Setting up the project “Miniature replication”; the grid starts when these jobs finish.'}
      </p>
      <ol className="small" aria-label="Set-up steps">
        {started.steps.map((x) => (
          <li key={x.step} data-step={x.step} data-state={x.state}>
            {x.label}: {stepText(x, x.jobId !== null ? live[x.jobId] : undefined)}
          </li>
        ))}
      </ol>
    </div>
  );
}

function stepText(x: ReplicationStep, job: Job | undefined): string {
  if (x.state === 'done') return 'already there';
  const state = job?.state ?? x.state;
  const at = `job #${x.jobId}`;
  if (state === 'running') {
    const p = job?.progress;
    return `running (${at}${p?.fraction != null ? `, ${Math.round(100 * p.fraction)}%` : ''}${p?.message ? ` · ${p.message}` : ''})`;
  }
  if (state === 'failed' || state === 'cancelled') return `${state} (${at})${(job?.error ?? x.error) ? `: ${job?.error ?? x.error}` : ''}`;
  return `${state} (${at})`;
}
