import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { Job } from '../../../shared/domain';
import {
  combineProfiles,
  runBlockedReason,
  suggestMaxLength,
  TRAIN_METHOD_LABELS,
  truncationAt,
  type TokenLengthProfile,
  type TrainMemoryInput,
  type TrainMethod,
  type TrainMetric,
  type TrainPreflightResult,
} from '../../../shared/train';
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
  const maxTokens = /^[1-9][0-9]*$/.test(maxLength) && Number(maxLength) >= 8 ? Number(maxLength) : null;
  const preflight = usePreflight(projectId, modelPath, selectionId ? Number(selectionId) : undefined, template);
  const blocked = preflight.result && maxTokens !== null ? runBlockedReason(preflight.result, method, maxTokens) : null;
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
        <Preflight state={preflight} method={method} maxLength={maxTokens} onUse={(n) => setMaxLength(String(n))} />
        <ErrorBanner error={start.error} />
        <Button type="submit" variant="primary" busy={start.pending} disabled={!modelId || targets.length === 0 || (needsSelection && !selectionId) || blocked !== null}>
          Start fine-tuning
        </Button>
        {blocked && (
          <p className="field-error" role="alert" data-testid="start-blocked">
            Cannot start: {blocked}.
          </p>
        )}
      </form>
    </Card>
  );
}

interface PreflightState {
  job: Job | null;
  result: TrainPreflightResult | null;
}

/**
 * Runs the training pre-flight (a light job: the model's tokenizer over the task data and the
 * selection) whenever the model, selection or template changes; max tokens are applied here.
 */
function usePreflight(projectId: number, modelPath: string | undefined, selectionId: number | undefined, template: 'alpaca' | 'chat' | 'plain'): PreflightState {
  const [job, setJob] = useState<Job | null>(null);
  // imported or deleted task data changes what the run would train on
  const [dataVersion, setDataVersion] = useState(0);
  useEvent('data.changed', (e) => e.projectId === projectId && setDataVersion((v) => v + 1));
  useEffect(() => {
    setJob(null);
    if (!modelPath) return;
    let live = true;
    const t = setTimeout(() => {
      void api
        .call('jobs.start', { projectId, spec: { type: 'train.preflight', params: { projectId, modelPath, template, ...(selectionId ? { selectionId } : {}) } } })
        .then((j) => live && setJob(j), () => {});
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [projectId, modelPath, selectionId, template, dataVersion]);
  useEvent('job.updated', (j) => j.id === job?.id && setJob(j));
  return { job, result: job?.state === 'succeeded' ? (job.result as TrainPreflightResult) : null };
}

/** What truncation to max tokens does to the examples: counts, a warning, a suggestion and a histogram. */
function Preflight({ state, method, maxLength, onUse }: { state: PreflightState; method: TrainMethod; maxLength: number | null; onUse: (n: number) => void }) {
  const { job, result } = state;
  if (!job) return null;
  if (job.state === 'failed') return <p className="field-error">Could not check the training data: {job.error}</p>;
  if (!result) return <p className="muted small">Counting the response tokens that survive truncation…</p>;
  if (maxLength === null) return null;
  const sets = [
    { label: 'Task data', profile: result.task },
    ...(result.safety ? [{ label: method === 'replay' ? 'Safety examples (replayed)' : 'Safety examples', profile: result.safety }] : []),
  ];
  const suggestion = suggestMaxLength(method === 'replay' && result.safety ? combineProfiles(result.task, result.safety) : result.task, 0.95, result.contextLength);
  return (
    <div className="preflight" data-testid="preflight" aria-label="Training data at this max tokens">
      {sets.map(({ label, profile }) => {
        const t = truncationAt(profile, maxLength);
        const many = t.examples > 0 && t.loseAll > 0.25 * t.examples;
        return (
          <p key={label} className={many ? 'small preflight-warning' : 'small'} data-set={label}>
            <strong>{label}</strong> at {maxLength} max tokens: {t.keepAll} of {t.examples} examples keep their whole response, {t.losePart} lose part of it,{' '}
            {t.loseAll} lose all of it
            {many && ` — ${Math.round((100 * t.loseAll) / t.examples)}% would teach nothing`}.
          </p>
        );
      })}
      {suggestion !== null && suggestion !== maxLength && (
        <p className="small">
          {suggestion} max tokens keeps 95% of the responses whole.{' '}
          <Button variant="ghost" onClick={() => onUse(suggestion)}>
            Use {suggestion}
          </Button>
        </p>
      )}
      <LengthHistogram profile={result.task} maxLength={maxLength} />
    </div>
  );
}

/** Prompt + response token lengths of the task examples, with the max tokens marked. */
function LengthHistogram({ profile, maxLength }: { profile: TokenLengthProfile; maxLength: number }) {
  if (profile.totalTokens.length === 0) return null;
  const W = 520;
  const H = 110;
  const longest = Math.max(profile.totalTokens.at(-1)![0], maxLength);
  const bins = 32;
  const width = Math.max(1, Math.ceil((longest + 1) / bins));
  const counts = new Array<number>(bins).fill(0);
  for (const [len, c] of profile.totalTokens) counts[Math.min(bins - 1, Math.floor(len / width))]! += c;
  const top = Math.max(...counts);
  const x = (len: number) => 36 + ((W - 44) * len) / (bins * width);
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="loss-chart" role="img" aria-label="Token lengths of the task examples">
      {counts.map((c, i) => (
        <rect key={i} x={x(i * width) + 1} width={Math.max(1, x(width) - x(0) - 2)} y={H - 20 - ((H - 34) * c) / top} height={((H - 34) * c) / top} fill={(i + 1) * width <= maxLength ? '#2457c5' : '#c0392b'}>
          <title>{`${i * width}–${(i + 1) * width - 1} tokens: ${c} examples`}</title>
        </rect>
      ))}
      <line x1={x(maxLength)} x2={x(maxLength)} y1={8} y2={H - 20} stroke="#1c2430" strokeDasharray="3 2" />
      <text x={x(maxLength) + 3} y={16} fontSize={10} fill="#1c2430">
        max {maxLength}
      </text>
      <text x={4} y={H - 22} fontSize={10} fill="#5b6675">
        0
      </text>
      <text x={4} y={14} fontSize={10} fill="#5b6675">
        {top}
      </text>
      <text x={W - 4} y={H - 4} fontSize={10} textAnchor="end" fill="#5b6675">
        prompt + response tokens (up to {bins * width})
      </text>
    </svg>
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
          {Object.keys(last.terms ?? {}).length > 0 && <span>task {last.taskLoss.toFixed(4)}</span>}
          {Object.entries(last.terms ?? {}).map(([t, v]) => (
            <span key={t}>
              {t} {v.toFixed(4)}
            </span>
          ))}
          {last.tokens !== undefined && <span>{last.tokens} response tokens</span>}
          <span>lr {last.lr.toExponential(2)}</span>
          <span>grad norm {last.gradNorm.toFixed(3)}</span>
          <span>{last.tokensPerSecond.toFixed(0)} tokens/s</span>
        </p>
      )}
      {metrics.length > 1 && <LossCharts metrics={metrics} />}
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

/** The total loss, the task loss and each safety term, each on its own scale. */
function LossCharts({ metrics }: { metrics: TrainMetric[] }) {
  const terms = [...new Set(metrics.flatMap((m) => Object.keys(m.terms ?? {})))];
  const series = [
    { label: 'Total loss', values: metrics.map((m) => m.loss) },
    { label: 'Task loss (cross-entropy)', values: metrics.map((m) => m.taskLoss) },
    ...terms.map((t) => ({ label: `${t.toUpperCase()} term`, values: metrics.map((m) => m.terms?.[t] ?? 0) })),
  ];
  // with no safety term the total is the task loss: one chart says it
  const shown = terms.length ? series : series.slice(1);
  return (
    <div className="loss-charts">
      {shown.map((s) => (
        <LossChart key={s.label} label={s.label} steps={metrics.map((m) => m.step)} values={s.values} maxStep={metrics[0]!.maxSteps} />
      ))}
    </div>
  );
}

function LossChart({ label, steps, values, maxStep }: { label: string; steps: number[]; values: number[]; maxStep: number }) {
  const W = 520;
  const H = 140;
  const max = Math.max(...values);
  const min = Math.min(...values);
  const pts = values.map((v, i) => `${(steps[i]! / maxStep) * (W - 40) + 36},${H - 20 - ((v - min) / (max - min || 1)) * (H - 36)}`).join(' ');
  return (
    <svg viewBox={`0 0 ${W} ${H}`} className="loss-chart" role="img" aria-label={label}>
      <text x={36} y={12} fontSize={11} fontWeight={600} fill="#1c2430">
        {label}
      </text>
      <text x={4} y={24} fontSize={10} fill="#5b6675">
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
