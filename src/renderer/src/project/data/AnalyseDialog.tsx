import { useState, type ChangeEvent } from 'react';
import type { Dataset } from '../../../../shared/data';
import { ANALYSE_DEFAULTS, analyseSettings, type AnalyseSettings } from '../../../../shared/select';
import { Button, Dialog } from '../../components/ui';

/** Analyse's options for one data set, preset to its role's defaults. */
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
  onStart: (s: AnalyseSettings) => void;
  onClose: () => void;
}) {
  const defaults = ANALYSE_DEFAULTS[dataset.role];
  const [settings, setSettings] = useState<AnalyseSettings>(() => analyseSettings(dataset.role, {}));
  const toggle = (key: keyof AnalyseSettings) => (e: ChangeEvent<HTMLInputElement>) => setSettings((s) => ({ ...s, [key]: e.target.checked }));
  const byDefault = (key: keyof AnalyseSettings) => (settings[key] === defaults[key] ? ' (default for this role)' : '');
  return (
    <Dialog
      open
      title={`Analyse ${dataset.name}`}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" busy={busy} onClick={() => onStart(settings)}>
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
    </Dialog>
  );
}
