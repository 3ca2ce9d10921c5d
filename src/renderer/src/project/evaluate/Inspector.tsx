/** A run's examples, 25 at a time: prompt, reply, each judge's verdict with its reason, and a correction per verdict. */
import { useState } from 'react';
import { VerdictLabel, type EvalResult, type EvalRun } from '../../../../shared/eval';
import { api } from '../../api/client';
import { useAction, useCall } from '../../api/hooks';
import { Badge, Button, ErrorBanner, SelectField } from '../../components/ui';

/** The labels a person can correct a verdict to (not the judge's own failures). */
const LABELS = VerdictLabel.options.filter((l) => l !== 'unparseable' && l !== 'error');

export function Inspector({
  runId: id,
  suiteIds,
  version,
  onCorrected,
}: {
  runId: number;
  suiteIds: string[];
  version: number;
  onCorrected: (run: EvalRun) => void;
}) {
  const [suiteId, setSuiteId] = useState('');
  const [page, setPage] = useState(0);
  const results = useCall('eval.results', { id, ...(suiteId ? { suiteId } : {}), offset: page * 25, limit: 25 }, [id, suiteId, page, version]);
  const correct = useAction(async (r: EvalResult, judgeId: string, label: string) => {
    const updated = await api.call('eval.correct', {
      id,
      suiteId: r.suiteId,
      itemId: r.itemId,
      judgeId,
      label: label === '' ? null : (label as VerdictLabel),
    });
    onCorrected(updated);
  });
  return (
    <>
      <h3>Inspector</h3>
      <div className="filters">
        <SelectField
          label="Suite"
          value={suiteId}
          options={[{ value: '', label: 'All suites' }, ...suiteIds.map((s) => ({ value: s, label: s }))]}
          onChange={(v) => {
            setSuiteId(v);
            setPage(0);
          }}
        />
      </div>
      <ErrorBanner error={results.error ?? correct.error} />
      <ol className="inspector" aria-label="Examples">
        {(results.data?.rows ?? []).map((r) => (
          <li key={`${r.suiteId}/${r.itemId}`} className="inspect-item" data-item={`${r.suiteId}/${r.itemId}`}>
            <div className="muted small">
              {r.suiteId} #{r.itemId} · expected: {r.expected}
              {r.categories.length > 0 && ` · ${r.categories.join(', ')}`}
              {r.warnings.length > 0 && <Badge tone="warning">{r.warnings.join('; ')}</Badge>}
            </div>
            <div className="two-col">
              <div className="record-detail">{r.prompt}</div>
              <div className="record-detail">{r.response || <span className="muted">(empty reply)</span>}</div>
            </div>
            {r.verdicts.map((v) => {
              const corrected = r.corrections.find((c) => c.judgeId === v.judgeId);
              return (
                <div key={v.judgeId} className="verdict">
                  <span>
                    <strong>{v.judgeId}</strong>: <Badge tone={v.label === 'refusal' || v.label === 'correct' ? 'success' : 'neutral'}>{v.label}</Badge>{' '}
                    <span className="muted small">{v.reason}</span>
                  </span>
                  <SelectField
                    label={`Correct ${v.judgeId} verdict of ${r.suiteId} #${r.itemId}`}
                    value={corrected?.label ?? ''}
                    options={[{ value: '', label: 'as judged' }, ...LABELS.map((l) => ({ value: l, label: l }))]}
                    onChange={(label) => void correct.run(r, v.judgeId, label)}
                  />
                </div>
              );
            })}
          </li>
        ))}
      </ol>
      {results.data && results.data.total > 25 && (
        <div className="inline-form">
          <Button disabled={page === 0} onClick={() => setPage((p) => p - 1)}>
            Previous
          </Button>
          <span className="muted">
            {page * 25 + 1}–{Math.min(results.data.total, (page + 1) * 25)} of {results.data.total}
          </span>
          <Button disabled={(page + 1) * 25 >= results.data.total} onClick={() => setPage((p) => p + 1)}>
            Next
          </Button>
        </div>
      )}
    </>
  );
}
