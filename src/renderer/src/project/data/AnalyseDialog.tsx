import { useEffect, useState, type ChangeEvent } from 'react';
import { Link } from 'react-router';
import type { Dataset } from '../../../../shared/data';
import type { ModelSpec } from '../../../../shared/eval';
import { CURATION_JUDGES, type CurationJudgeId } from '../../../../shared/methods/curationJudges';
import { ANALYSE_DEFAULTS, analyseSettings, type AnalyseSettings } from '../../../../shared/select';
import { useCall } from '../../api/hooks';
import { Button, Dialog, SelectField, TextField } from '../../components/ui';

/** Who types the records besides the built-in detectors, and the judge model (an engine model or a configured server). */
export interface AnalyseJudge {
  judge: CurationJudgeId;
  judgeModel?: ModelSpec;
}

const JUDGE_OPTIONS = (Object.entries(CURATION_JUDGES) as [CurationJudgeId, (typeof CURATION_JUDGES)[CurationJudgeId]][]).map(([value, row]) => ({
  value,
  label: row.label,
}));

/** Analyse's options for one data set, preset to its role's defaults, and the judge (from the curation judge table). */
export function AnalyseDialog({
  dataset,
  hasReferences,
  busy,
  onStart,
  onClose,
}: {
  dataset: Dataset;
  hasReferences: boolean;
  busy: boolean;
  onStart: (s: AnalyseSettings, judge: AnalyseJudge) => void;
  onClose: () => void;
}) {
  const defaults = ANALYSE_DEFAULTS[dataset.role];
  const [settings, setSettings] = useState<AnalyseSettings>(() => analyseSettings(dataset.role, {}));
  const toggle = (key: keyof AnalyseSettings) => (e: ChangeEvent<HTMLInputElement>) => setSettings((s) => ({ ...s, [key]: e.target.checked }));
  const byDefault = (key: keyof AnalyseSettings) => (settings[key] === defaults[key] ? ' (default for this role)' : '');
  const [judge, setJudge] = useState<CurationJudgeId>('builtin');
  const [backend, setBackend] = useState<'engine' | 'http'>('engine');
  const [modelId, setModelId] = useState('');
  const [serverId, setServerId] = useState('');
  const [remoteModel, setRemoteModel] = useState('');
  const models = useCall('models.list', {});
  const servers = useCall('access.endpoints', {});
  useEffect(() => {
    if (!modelId && models.data?.[0]) setModelId(String(models.data[0].id));
  }, [models.data, modelId]);
  useEffect(() => {
    if (!serverId && servers.data?.[0]) setServerId(String(servers.data[0].id));
  }, [servers.data, serverId]);
  const row = CURATION_JUDGES[judge];
  const model = models.data?.find((m) => String(m.id) === modelId);
  const server = servers.data?.find((e) => String(e.id) === serverId);
  const judgeModel: ModelSpec | undefined = !row.model
    ? undefined
    : backend === 'engine'
      ? model && { kind: 'engine', path: model.path }
      : server && remoteModel.trim()
        ? { kind: 'http', baseUrl: server.baseUrl, model: remoteModel.trim() }
        : undefined;
  const ready = !row.model || judgeModel !== undefined;
  return (
    <Dialog
      open
      title={`Analyse ${dataset.name}`}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={busy} disabled={!ready} onClick={() => onStart(settings, { judge, ...(judgeModel ? { judgeModel } : {}) })}>
            Start analysis
          </Button>
        </>
      }
    >
      <p className="muted">{defaults.summary} Prompts are always embedded (for the map and for selection).</p>
      <label className="checkbox">
        <input type="checkbox" checked={settings.typeBehaviour} onChange={toggle('typeBehaviour')} /> Type each pair T1–T4 by behaviour
        {byDefault('typeBehaviour')}
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={settings.promptsHarmful} disabled={!settings.typeBehaviour} onChange={toggle('promptsHarmful')} /> Every prompt is
        harmful: skip the prompt-harm detector, only the reply decides T1 vs T2{byDefault('promptsHarmful')}
      </label>
      <label className="checkbox">
        <input type="checkbox" checked={settings.inferCategories} onChange={toggle('inferCategories')} /> Infer harm categories of unlabelled records
        {byDefault('inferCategories')}
      </label>
      {settings.inferCategories && !hasReferences && (
        <p className="field-error">No reference prompts folder is set above: categories cannot be inferred until you give one.</p>
      )}
      <div className="filters">
        <SelectField label="Judge" value={judge} options={JUDGE_OPTIONS} onChange={setJudge} />
        {row.model && (
          <SelectField
            label="Judge model runs on"
            value={backend}
            options={[
              { value: 'engine', label: 'this machine (a model from the Models list)' },
              { value: 'http', label: 'an OpenAI-compatible server' },
            ]}
            onChange={setBackend}
          />
        )}
        {row.model && backend === 'engine' && (
          <SelectField
            label="Judge model"
            value={modelId}
            options={(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))}
            onChange={setModelId}
          />
        )}
        {row.model && backend === 'http' && (
          <>
            <SelectField
              label="Judge server"
              value={serverId}
              options={(servers.data ?? []).map((e) => ({ value: String(e.id), label: `${e.name} (${e.baseUrl})` }))}
              onChange={setServerId}
            />
            <TextField label="Judge model name" value={remoteModel} onChange={(e) => setRemoteModel(e.target.value)} placeholder="allenai/wildguard" />
          </>
        )}
      </div>
      <p className="muted small">
        {row.description}.{row.model && ' Its verdicts are stored beside the built-in types: compare them under Judge agreement and keep either label.'}
      </p>
      {row.model && backend === 'engine' && models.data?.length === 0 && (
        <p className="field-error">Add the judge model under Models &amp; Playground first.</p>
      )}
      {row.model && backend === 'http' && servers.data?.length === 0 && (
        <p className="field-error">
          Add the server under <Link to="/settings/folders">Folders &amp; servers</Link> first: Analyse calls only servers configured there.
        </p>
      )}
    </Dialog>
  );
}
