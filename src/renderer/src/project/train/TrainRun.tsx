/**
 * One training run: its state, the last step's numbers, live loss curves, and what it produced with
 * the next steps: the adapter (LoRA: Evaluate this run; Export merged model) or the trained model (full).
 */
import { useEffect, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import type { Job } from '../../../../shared/domain';
import type { TrainMetric } from '../../../../shared/train';
import { api } from '../../api/client';
import { useEvent } from '../../api/hooks';
import { Badge, Button } from '../../components/ui';
import { presetEvaluateRun } from '../trainRuns';
import { LossCharts } from './LossCharts';
import { MergedExport } from './MergedExport';
import { MergeBack } from '../merge/MergeBack';

export function TrainRun({ job, merge, onDuplicate }: { job: Job; merge: Job | null; onDuplicate: () => void }) {
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
  const navigate = useNavigate();
  const result = job.result as { adapterPath?: string; modelPath?: string; taskExamples?: number; poisonExamples?: number; methodNote?: string } | null;
  const evaluate = () => {
    presetEvaluateRun(job.projectId!, job.id);
    void navigate(`/projects/${job.projectId}/evaluate`);
  };
  const last = metrics.at(-1);
  return (
    <section className="train-run" data-job-id={job.id}>
      <div className="job-top">
        <strong>
          #{job.id} {job.title}
        </strong>
        <Badge tone={job.state === 'succeeded' ? 'success' : job.state === 'failed' ? 'danger' : job.state === 'running' ? 'info' : 'neutral'}>
          {job.state}
        </Badge>
        <Button
          variant="ghost"
          onClick={onDuplicate}
          aria-label={`Duplicate the settings of run #${job.id}`}
          title="Fill the form above with this run's settings"
        >
          Duplicate settings
        </Button>
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
      {!!result?.poisonExamples && (
        <p className="small" data-testid="poisoned">
          Trained on {result.taskExamples} task examples, {result.poisonExamples} of them poisoned (harmful prompt + compliant response)
        </p>
      )}
      {job.error && <p className="field-error">{job.error}</p>}
      {result?.adapterPath && job.state === 'succeeded' && (
        <>
          <p className="muted small">
            Adapter (PEFT): <code>{result.adapterPath}</code>
          </p>
          {result.methodNote && (
            <p className="small" data-testid="method-note">
              {result.methodNote}
            </p>
          )}
          <div>
            <Button variant="primary" onClick={evaluate} title="Open Evaluate with this run's base model and adapter chosen">
              Evaluate this run
            </Button>
          </div>
          <MergedExport run={job} adapterPath={result.adapterPath} merge={merge} />
        </>
      )}
      {result?.modelPath && (
        <p className="muted small" data-testid="trained-model">
          Trained model: <code>{result.modelPath}</code> — added to the Models list: try it in the Playground, or evaluate it in the Evaluate tab.
        </p>
      )}
      {result?.adapterPath && job.state === 'succeeded' && <MergeBack run={job} />}
    </section>
  );
}
