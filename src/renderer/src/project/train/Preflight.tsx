/**
 * The training pre-flight: a light job counts, with the model's tokenizer, how many task and
 * safety examples keep their response at the chosen max tokens; shown as counts, a warning, a
 * suggested max tokens and a length histogram.
 */
import { useEffect, useState } from 'react';
import type { Job } from '../../../../shared/domain';
import {
  combineProfiles,
  suggestMaxLength,
  truncationAt,
  type TokenLengthProfile,
  type TrainMethodRow,
  type TrainPreflightResult,
  type TrainTemplate,
} from '../../../../shared/train';
import { api } from '../../api/client';
import { useEvent } from '../../api/hooks';
import { Button } from '../../components/ui';

export interface PreflightState {
  job: Job | null;
  result: TrainPreflightResult | null;
}

/**
 * Runs the training pre-flight (a light job: the model's tokenizer over the task data and the
 * selection) whenever the model, selection or template changes; max tokens are applied here.
 */
export function usePreflight(projectId: number, modelPath: string | undefined, selectionId: number | undefined, template: TrainTemplate): PreflightState {
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
        .call('jobs.start', {
          projectId,
          spec: { type: 'train.preflight', params: { projectId, modelPath, template, ...(selectionId ? { selectionId } : {}) } },
        })
        .then(
          (j) => live && setJob(j),
          () => {},
        );
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
export function Preflight({
  state,
  method,
  maxLength,
  onUse,
}: {
  state: PreflightState;
  method: Pick<TrainMethodRow, 'safety'>;
  maxLength: number | null;
  onUse: (n: number) => void;
}) {
  const replay = method.safety === 'replay';
  const { job, result } = state;
  if (!job) return null;
  if (job.state === 'failed') return <p className="field-error">Could not check the training data: {job.error}</p>;
  if (!result) return <p className="muted small">Counting the response tokens that survive truncation…</p>;
  if (maxLength === null) return null;
  const sets = [
    { label: 'Task data', profile: result.task },
    ...(result.safety ? [{ label: replay ? 'Safety examples (replayed)' : 'Safety examples', profile: result.safety }] : []),
  ];
  const suggestion = suggestMaxLength(replay && result.safety ? combineProfiles(result.task, result.safety) : result.task, 0.95, result.contextLength);
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
        <rect
          key={i}
          x={x(i * width) + 1}
          width={Math.max(1, x(width) - x(0) - 2)}
          y={H - 20 - ((H - 34) * c) / top}
          height={((H - 34) * c) / top}
          fill={(i + 1) * width <= maxLength ? '#2457c5' : '#c0392b'}
        >
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
