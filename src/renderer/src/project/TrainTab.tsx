import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Job } from '../../../shared/domain';
import { TRAIN_METHOD_LABELS, type TrainMemoryInput, type TrainMethod, type TrainMetric } from '../../../shared/train';
import { api } from '../api/client';
import { useAction, useCall, useEvent } from '../api/hooks';
import { Badge, Button, CheckboxGroup, Card, EmptyState, ErrorBanner, ProgressBar, SelectField, TextField } from '../components/ui';
import type { TabProps } from './tabs';

const METHODS = (Object.keys(TRAIN_METHOD_LABELS) as TrainMethod[]).map((value) => ({ value, label: TRAIN_METHOD_LABELS[value] }));
const TARGETS = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as const;
/** PEFT's usual LoRA dropout, used for every run started here */
const LORA_DROPOUT = 0.05;

/** Train: LoRA fine-tuning with a safety-preserving method, live loss, resumable, adapter at the end. */
export function TrainTab({ project }: TabProps) {
  const jobs = useCall('jobs.list', { projectId: project.id, limit: 50 }, [project.id]);
  // training runs and the merged-model exports started from them
  const [runs, setRuns] = useState<Job[]>([]);
  useEffect(() => setRuns((jobs.data ?? []).filter((j) => j.type === 'train.run' || j.type === 'model.merge')), [jobs.data]);
  useEvent('job.updated', (j) => {
    if ((j.type !== 'train.run' && j.type !== 'model.merge') || j.projectId !== project.id) return;
    setRuns((l) => (l.some((x) => x.id === j.id) ? l.map((x) => (x.id === j.id ? j : x)) : [j, ...l]));
  });
  const merges = runs.filter((j) => j.type === 'model.merge');
  return (
    <>
      <NewTraining projectId={project.id} />
      <Card title="Training runs">
        <ErrorBanner error={jobs.error} />
        {runs.every((j) => j.type !== 'train.run') ? (
          <EmptyState title="No training runs yet">Start one above; its loss curve appears here live.</EmptyState>
        ) : (
          runs
            .filter((j) => j.type === 'train.run')
            .map((j) => <TrainRun key={j.id} job={j} merge={latestMergeOf(j, merges)} />)
        )}
      </Card>
    </>
  );
}

function NewTraining({ projectId }: { projectId: number }) {
  const models = useCall('models.list', {});
  const selections = useCall('select.list', { projectId }, [projectId]);
  const [modelId, setModelId] = useState('');
  const [selectionId, setSelectionId] = useState('');
  const [method, setMethod] = useState<TrainMethod>('replay');
  const [template, setTemplate] = useState<'alpaca' | 'chat' | 'plain'>('alpaca');
  const [rank, setRank] = useState('8');
  const [alpha, setAlpha] = useState('16');
  const [targets, setTargets] = useState<string[]>(['q', 'v']);
  const [lr, setLr] = useState('0.0003');
  const [steps, setSteps] = useState('100');
  const [batch, setBatch] = useState('4');
  const [maxLength, setMaxLength] = useState('256');
  const [recompute, setRecompute] = useState(false);
  const [fp16Weights, setFp16Weights] = useState(false);
  useEffect(() => {
    if (!modelId && models.data?.[0]) setModelId(String(models.data[0].id));
  }, [models.data, modelId]);
  const start = useAction(async () => {
    const model = models.data!.find((m) => String(m.id) === modelId)!;
    await api.call('jobs.start', {
      spec: {
        type: 'train.run',
        params: {
          projectId,
          modelPath: model.path,
          method,
          template,
          ...(selectionId ? { selectionId: Number(selectionId) } : {}),
          lora: { rank: Number(rank), alpha: Number(alpha), dropout: LORA_DROPOUT, targetModules: targets as (typeof TARGETS)[number][] },
          lr: Number(lr),
          maxSteps: Number(steps),
          batchSize: Number(batch),
          maxLength: Number(maxLength),
          recompute: recompute || fp16Weights,
          frozenWeightDtype: fp16Weights ? 'float16' : 'float32',
        },
      },
    });
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void start.run();
  };
  const needsSelection = ['replay', 'der', 'der++', 'ewc', 'agem'].includes(method);
  const modelPath = models.data?.find((m) => String(m.id) === modelId)?.path;
  return (
    <Card title="New fine-tuning run">
      <form onSubmit={onSubmit} className="select-form">
        <div className="filters">
          <SelectField label="Base model" value={modelId} options={(models.data ?? []).map((m) => ({ value: String(m.id), label: m.info.name }))} onChange={setModelId} />
          <SelectField label="Method" value={method} options={METHODS} onChange={setMethod} />
          <SelectField
            label="Safety examples"
            value={selectionId}
            options={[{ value: '', label: 'none' }, ...(selections.data ?? []).map((s) => ({ value: String(s.id), label: `${s.name} (${s.summary.selected})` }))]}
            onChange={setSelectionId}
          />
          <SelectField
            label="Prompt template"
            value={template}
            options={[
              { value: 'alpaca', label: 'Alpaca' },
              { value: 'chat', label: "the model's chat template" },
              { value: 'plain', label: 'none' },
            ]}
            onChange={setTemplate}
          />
        </div>
        {needsSelection && !selectionId && <p className="muted">This method needs a saved selection of safety examples (Select tab).</p>}
        <div className="filters">
          <TextField label="LoRA rank" value={rank} onChange={(e) => setRank(e.target.value)} inputMode="numeric" />
          <TextField label="LoRA alpha" value={alpha} onChange={(e) => setAlpha(e.target.value)} inputMode="decimal" />
          <TextField label="Learning rate" value={lr} onChange={(e) => setLr(e.target.value)} inputMode="decimal" />
          <TextField label="Steps" value={steps} onChange={(e) => setSteps(e.target.value)} inputMode="numeric" />
          <TextField label="Batch size" value={batch} onChange={(e) => setBatch(e.target.value)} inputMode="numeric" />
          <TextField label="Max tokens per example" value={maxLength} onChange={(e) => setMaxLength(e.target.value)} inputMode="numeric" />
        </div>
        <CheckboxGroup legend="LoRA target modules" options={TARGETS.map((t) => ({ value: t, label: `${t}_proj` }))} value={targets} onChange={setTargets} />
        <label className="small">
          <input type="checkbox" checked={recompute || fp16Weights} disabled={fp16Weights} onChange={(e) => setRecompute(e.target.checked)} /> Recompute activations in the backward pass (activation
          checkpointing: less memory, about a quarter more compute per step)
        </label>
        <label className="small">
          <input type="checkbox" checked={fp16Weights} onChange={(e) => setFp16Weights(e.target.checked)} /> Keep the frozen weights in fp16 (half their
          memory; trains on fp16-rounded weights; recomputes activations)
        </label>
        {modelPath && targets.length > 0 && [batch, maxLength, rank].every((v) => /^[1-9][0-9]*$/.test(v)) && Number(maxLength) >= 8 && (
          <MemoryEstimate input={{ modelPath, batchSize: Number(batch), maxLength: Number(maxLength), rank: Number(rank), targetModules: targets as (typeof TARGETS)[number][], dropout: LORA_DROPOUT, recompute, frozenWeightDtype: fp16Weights ? 'float16' : 'float32' }} />
        )}
        <ErrorBanner error={start.error} />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!modelId || targets.length === 0 || (needsSelection && !selectionId)}>
          Start fine-tuning
        </Button>
      </form>
    </Card>
  );
}

/** Estimated peak memory of the run as configured, before it starts. */
function MemoryEstimate({ input }: { input: TrainMemoryInput }) {
  const est = useCall('train.estimateMemory', input, [input.modelPath, input.batchSize, input.maxLength, input.rank, input.targetModules.join(), input.dropout, input.recompute, input.frozenWeightDtype]);
  const gib = (b: number) => (b < 2 ** 30 ? `${(b / 2 ** 20).toFixed(1)} MiB` : `${(b / 2 ** 30).toFixed(2)} GiB`);
  if (est.error) return <ErrorBanner error={est.error} />;
  if (!est.data) return null;
  const e = est.data;
  return (
    <p className="muted small" data-testid="memory-estimate">
      Estimated peak memory: <strong>{gib(e.totalBytes)}</strong> (frozen weights {gib(e.weightsBytes)}, activations kept for the backward pass{' '}
      {gib(e.activationsBytes)}, logits {gib(e.logitsBytes)}, adapter and optimiser {gib(e.adapterBytes)}; ±25%). Lower the batch size or max tokens per example if this is more than the machine has free.
    </p>
  );
}

/** The newest merged-model export of a run's adapter, if any. */
function latestMergeOf(run: Job, merges: Job[]): Job | null {
  const adapter = (run.result as { adapterPath?: string } | null)?.adapterPath;
  if (!adapter) return null;
  return merges.filter((m) => (m.params as { adapterPath?: string }).adapterPath === adapter).sort((a, b) => b.id - a.id)[0] ?? null;
}

function TrainRun({ job, merge }: { job: Job; merge: Job | null }) {
  const [metrics, setMetrics] = useState<TrainMetric[]>([]);
  const loaded = useRef(false);
  useEffect(() => {
    if (loaded.current && job.state === 'running') return;
    loaded.current = true;
    void api.call('train.metrics', { jobId: job.id }).then(setMetrics, () => {});
  }, [job.id, job.state]);
  useEvent('job.stream', (e) => {
    if (e.jobId !== job.id) return;
    try {
      const m = JSON.parse(e.text) as TrainMetric;
      setMetrics((l) => [...l.filter((x) => x.step < m.step), m]);
    } catch {
      // not a metric line
    }
  });
  const result = job.result as { adapterPath?: string } | null;
  const last = metrics.at(-1);
  return (
    <section className="train-run" data-job-id={job.id}>
      <div className="job-top">
        <strong>
          #{job.id} {job.title}
        </strong>
        <Badge tone={job.state === 'succeeded' ? 'success' : job.state === 'failed' ? 'danger' : job.state === 'running' ? 'info' : 'neutral'}>{job.state}</Badge>
      </div>
      {last && (
        <p className="stat-row">
          <span>
            step {last.step}/{last.maxSteps}
          </span>
          <span>loss {last.loss.toFixed(4)}</span>
          <span>lr {last.lr.toExponential(2)}</span>
          <span>grad norm {last.gradNorm.toFixed(3)}</span>
          <span>{last.tokensPerSecond.toFixed(0)} tokens/s</span>
        </p>
      )}
      {metrics.length > 1 && <LossChart metrics={metrics} />}
      {job.error && <p className="field-error">{job.error}</p>}
      {result?.adapterPath && (
        <p className="muted small">
          Adapter (PEFT): <code>{result.adapterPath}</code> — evaluate it in the Evaluate tab as the LoRA adapter folder.
        </p>
      )}
      {result?.adapterPath && <MergedExport run={job} adapterPath={result.adapterPath} merge={merge} />}
    </section>
  );
}

/**
 * Export the fine-tuned model as a standalone model (adapter merged into the weights): a Hugging
 * Face folder for a Hugging Face base, a GGUF for a GGUF base, written by the app to a new folder
 * in the workspace's models/ (every export gets its own); then add it to the Models list.
 */
function MergedExport({ run, adapterPath, merge }: { run: Job; adapterPath: string; merge: Job | null }) {
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

function LossChart({ metrics }: { metrics: TrainMetric[] }) {
  const W = 520;
  const H = 160;
  const losses = metrics.map((m) => m.loss);
  const max = Math.max(...losses);
  const min = Math.min(...losses);
  const maxStep = metrics[0]!.maxSteps;
  const pts = metrics.map((m) => `${(m.step / maxStep) * (W - 40) + 36},${H - 20 - ((m.loss - min) / (max - min || 1)) * (H - 30)}`).join(' ');
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="loss-chart" role="img" aria-label="Training loss">
      <text x={4} y={14} fontSize={10} fill="#5b6675">
        {max.toFixed(3)}
      </text>
      <text x={4} y={H - 20} fontSize={10} fill="#5b6675">
        {min.toFixed(3)}
      </text>
      <text x={W - 4} y={H - 4} fontSize={10} textAnchor="end" fill="#5b6675">
        step {maxStep}
      </text>
      <line x1={36} x2={W - 4} y1={H - 20} y2={H - 20} stroke="#d9dde3" />
      <polyline points={pts} fill="none" stroke="#2457c5" strokeWidth={1.5} />
    </svg>
  );
}
