/**
 * "Try the miniature replication": what it shows and how long each preset takes, the preset
 * choice, and a start that sets up the project "Miniature replication" (shipped data and aligned
 * model) and its experiment grid through `replicate.start`, then opens the grid in Compare.
 */
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { REPLICATION_PRESETS, type ReplicationPreset } from '../../../shared/replication';
import { api } from '../api/client';
import { useAction } from '../api/hooks';
import { Button, Card, ErrorBanner, SelectField } from '../components/ui';

const PRESET_OPTIONS = (Object.keys(REPLICATION_PRESETS) as ReplicationPreset[]).map((value) => ({ value, label: REPLICATION_PRESETS[value].label }));

export function ReplicationCard({ prominent }: { prominent: boolean }) {
  const navigate = useNavigate();
  const [preset, setPreset] = useState<ReplicationPreset>('quick');
  const start = useAction(async () => {
    const started = await api.call('replicate.start', { preset });
    navigate(`/projects/${started.projectId}/compare`);
  });
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
        <Button variant={prominent ? 'primary' : 'secondary'} busy={start.pending} onClick={() => void start.run()}>
          Try the miniature replication
        </Button>
      </Card>
    </div>
  );
}
