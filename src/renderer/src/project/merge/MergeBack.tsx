/**
 * "Merge back" on a finished training run: a coefficient sweep of aligned + α·(fine-tuned − aligned)
 * over a list of α (task arithmetic, TIES or MagMax), each merged model added to the Models list and
 * evaluated on the chosen suites (merge.startSweep); the Compare tab draws the sweep as a curve.
 */
import { useState } from 'react';
import type { Job } from '../../../../shared/domain';
import { MERGE_METHOD_INFO, MergeSweepMethod } from '../../../../shared/merge';
import { api } from '../../api/client';
import { useAction, useCall } from '../../api/hooks';
import { Button, CheckboxGroup, Dialog, ErrorBanner, SelectField, TextField } from '../../components/ui';
import { formKey, usePersistentFields } from '../../forms/persist';
import { parseAlphas } from './mergeForm';

export function MergeBack({ run }: { run: Job }) {
  const [open, setOpen] = useState(false);
  const [queued, setQueued] = useState<string | null>(null);
  return (
    <div className="merge-back">
      <Button onClick={() => setOpen(true)} title="Sweep aligned + α·(fine-tuned − aligned) over several α and evaluate each merged model">
        Merge back…
      </Button>
      {queued && (
        <p className="muted small" data-testid="sweep-queued">
          {queued}
        </p>
      )}
      {open && <MergeBackDialog run={run} onClose={() => setOpen(false)} onQueued={setQueued} />}
    </div>
  );
}

function MergeBackDialog({ run, onClose, onQueued }: { run: Job; onClose: () => void; onQueued: (text: string) => void }) {
  const builtins = useCall('eval.builtinSuites', {});
  const projectId = run.projectId!;
  const [f, set] = usePersistentFields(formKey('mergeBack', projectId), {
    alphas: '0, 0.25, 0.5, 0.75, 1',
    method: 'task_arithmetic' as MergeSweepMethod,
    density: '0.2',
    suites: ['advbench', 'xstest'],
    dataDir: '',
    limit: '20',
    maxTokens: '32',
  });
  const alphas = parseAlphas(f.alphas);
  const density = Number(f.density);
  const densityError = f.method === 'ties' && !(density > 0 && density <= 1) ? 'must be in (0, 1]' : null;
  const evaluates = f.suites.length > 0;
  const dataDirError = evaluates && !f.dataDir.trim() ? 'the folder holding the built-in suites’ data (e.g. shared/data)' : null;
  const start = useAction(async () => {
    if (!('alphas' in alphas)) return;
    const sweep = await api.call('merge.startSweep', {
      projectId,
      source: { trainJobId: run.id },
      method: f.method,
      alphas: alphas.alphas,
      ...(f.method === 'ties' ? { density } : {}),
      ...(evaluates
        ? {
            eval: {
              suites: f.suites.map((id) => ({ builtin: id, dataDir: f.dataDir.trim() })),
              ...(f.limit.trim() ? { limit: Number(f.limit) } : {}),
              sampling: { maxNewTokens: Number(f.maxTokens) || 32, temperature: 0 },
              promptFormat: 'raw' as const,
            },
          }
        : {}),
    });
    onQueued(
      `Queued sweep #${sweep.id} “${sweep.name}”: ${sweep.points.length} merges${evaluates ? ', each then evaluated' : ''}. Its curve is in the Compare tab.`,
    );
    onClose();
  });
  const blocked = !('alphas' in alphas) || !!densityError || !!dataDirError;
  return (
    <Dialog
      open
      title={`Merge back training run #${run.id}`}
      onClose={onClose}
      footer={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button variant="primary" disabled={blocked} busy={start.pending} onClick={() => void start.run()}>
            Queue sweep
          </Button>
        </>
      }
    >
      <p className="muted small">Each α merges aligned + α·(fine-tuned − aligned): α = 0 is the base model, α = 1 the fine-tuned one.</p>
      <TextField
        label="α values"
        value={f.alphas}
        onChange={(e) => set('alphas', e.target.value)}
        error={'error' in alphas ? alphas.error : null}
        hint="Separated by commas, each in [-10, 10]"
      />
      <SelectField
        label="Sweep method"
        value={f.method}
        options={MergeSweepMethod.options.map((m) => ({ value: m, label: `${MERGE_METHOD_INFO[m].label} — ${MERGE_METHOD_INFO[m].description}` }))}
        onChange={(v) => set('method', v)}
      />
      {f.method === 'ties' && (
        <TextField
          label="Density"
          value={f.density}
          onChange={(e) => set('density', e.target.value)}
          error={densityError}
          hint={MERGE_METHOD_INFO.ties.perModel['density']!.description}
        />
      )}
      <CheckboxGroup
        legend="Evaluate each merged model on"
        options={(builtins.data ?? []).map((b) => ({ value: b.id, label: `${b.title} (${b.kind})` }))}
        value={f.suites}
        onChange={(v) => set('suites', v)}
      />
      {evaluates && (
        <>
          <TextField label="Suite data folder" value={f.dataDir} onChange={(e) => set('dataDir', e.target.value)} error={dataDirError} />
          <TextField label="Examples per suite" value={f.limit} onChange={(e) => set('limit', e.target.value)} inputMode="numeric" />
          <TextField label="Max new tokens" value={f.maxTokens} onChange={(e) => set('maxTokens', e.target.value)} inputMode="numeric" />
        </>
      )}
      <ErrorBanner error={start.error ?? builtins.error} />
    </Dialog>
  );
}
