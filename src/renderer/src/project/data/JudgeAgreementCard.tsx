/**
 * Judge agreement: a model judge's verdicts on a data set (Analyse with WildGuard or Llama Guard 3)
 * against the built-in detectors' — the T1–T4 and prompt-harm confusion tables with agreement and
 * kappa, the answers the judge wrote out of format, the disagreeing records — and the actions that
 * keep the judge's types (for the disagreeing records or all) or the built-in ones, as corrections.
 */
import { useState } from 'react';
import type { Dataset, JudgeAgreementView, JudgeConfusion } from '../../../../shared/data';
import { CURATION_JUDGES, type ModelJudgeId } from '../../../../shared/methods/curationJudges';
import { api } from '../../api/client';
import { useAction, useCall } from '../../api/hooks';
import { Badge, Button, Card, ErrorBanner, SelectField } from '../../components/ui';

const NO_VERDICT = 'no verdict';
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

/** Judge labels down, built-in labels across; the diagonal is agreement. */
function ConfusionTable({ title, c }: { title: string; c: JudgeConfusion }) {
  const rows = [...c.labels.filter((l) => c.counts[l]), ...(c.counts[NO_VERDICT] ? [NO_VERDICT] : [])];
  return (
    <figure className="confusion">
      <table className="table" aria-label={title}>
        <caption>
          {title}: {c.agree} of {c.compared} agree ({pct(c.rate)}), kappa {c.kappa === null ? '–' : c.kappa.toFixed(2)}
        </caption>
        <thead>
          <tr>
            <th scope="col">judge ↓ / built-in →</th>
            {c.labels.map((l) => (
              <th key={l} scope="col">
                {l}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r}>
              <th scope="row">{r}</th>
              {c.labels.map((l) => (
                <td key={l} className={r === l ? 'agree' : undefined}>
                  {c.counts[r]?.[l] ?? 0}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** Shown once a data set was analysed (`analysed` must not be empty). */
export function JudgeAgreementCard({ analysed, refresh }: { analysed: Dataset[]; refresh: number }) {
  const [chosen, setChosen] = useState('');
  const [judge, setJudge] = useState<ModelJudgeId | ''>('');
  const [changed, setChanged] = useState<string | null>(null);
  // the chosen data set, or the first analysed one (when none was chosen or it was deleted)
  const datasetId = String((analysed.find((d) => String(d.id) === chosen) ?? analysed[0]!).id);
  const setDatasetId = (id: string) => {
    setChosen(id);
    setJudge('');
    setChanged(null);
  };
  const view = useCall('data.judgeAgreement', { datasetId: Number(datasetId), ...(judge ? { judge } : {}) }, [datasetId, judge, refresh]);
  const keep = useAction(async (take: 'judge' | 'builtin', scope: 'all' | 'disagreeing') => {
    const v = view.data!;
    const r = await api.call('data.keepJudgeLabels', { datasetId: v.datasetId, judge: v.judge!, take, scope });
    setChanged(
      `${r.changed} record${r.changed === 1 ? '' : 's'} now carry ${take === 'judge' ? `${CURATION_JUDGES[v.judge!].label}'s` : "the built-in detectors'"} types.`,
    );
    view.reload();
  });
  const v: JudgeAgreementView | undefined = view.data;
  return (
    <Card title="Judge agreement">
      <ErrorBanner error={view.error ?? keep.error} />
      <div className="filters">
        <SelectField
          label="Judged data set"
          value={datasetId}
          options={analysed.map((d) => ({ value: String(d.id), label: d.name }))}
          onChange={setDatasetId}
        />
        {v && v.judges.length > 1 && (
          <SelectField
            label="Judge"
            value={v.judge ?? ''}
            options={v.judges.map((j) => ({ value: j, label: CURATION_JUDGES[j].label }))}
            onChange={(j) => setJudge(j as ModelJudgeId)}
          />
        )}
      </div>
      {v && !v.judge && <p className="muted">No model judge has judged this data set: choose WildGuard or Llama Guard 3 as the judge in Analyse.</p>}
      {v?.judge && (
        <>
          <p data-testid="judge-summary">
            <strong>{CURATION_JUDGES[v.judge].label}</strong> judged {v.records} records{' '}
            <span className="muted small">
              (<code>{v.judgeModel}</code>)
            </span>
            .{' '}
            <Badge tone={v.parseErrors + v.failures + v.noVerdict ? 'warning' : 'success'}>
              {v.parseErrors} answers not in its format · {v.failures} failed calls · {v.noVerdict} without a verdict
            </Badge>
          </p>
          <div className="confusion-pair">
            <ConfusionTable title="Behaviour T1–T4" c={v.behaviour} />
            <ConfusionTable title="Prompt harm" c={v.promptHarm} />
          </div>
          {v.errors.length > 0 && (
            <details>
              <summary>Answers the judge gave no verdict in ({v.parseErrors + v.failures + v.noVerdict})</summary>
              <ul className="small">
                {v.errors.map((e) => (
                  <li key={e.recordId}>
                    record {e.recordId}: {e.message}
                    {e.raw !== null && (
                      <>
                        {' '}
                        — answer: <code>{e.raw.slice(0, 160)}</code>
                      </>
                    )}
                  </li>
                ))}
              </ul>
            </details>
          )}
          <div className="row-actions">
            <Button onClick={() => void keep.run('judge', 'disagreeing')} busy={keep.pending} disabled={!v.disagreeing}>
              Keep the judge's types where they disagree
            </Button>
            <Button onClick={() => void keep.run('judge', 'all')} busy={keep.pending}>
              Keep the judge's types for all
            </Button>
            <Button onClick={() => void keep.run('builtin', 'all')} busy={keep.pending}>
              Keep the built-in types for all
            </Button>
          </div>
          <p className="muted small">A kept type is stored as a correction: a later Analyse keeps it. {changed && <strong role="status">{changed}</strong>}</p>
          <table className="table" aria-label="Disagreeing records">
            <caption>
              {v.disagreeing} record{v.disagreeing === 1 ? '' : 's'} where the judge and the built-in detectors disagree or the judge gave no verdict
              {v.disagreeing > v.disagreements.length ? ` (the first ${v.disagreements.length})` : ''}
            </caption>
            <thead>
              <tr>
                <th scope="col">Record</th>
                <th scope="col">Prompt</th>
                <th scope="col">Built-in</th>
                <th scope="col">Judge</th>
                <th scope="col">Now</th>
              </tr>
            </thead>
            <tbody>
              {v.disagreements.map((d) => (
                <tr key={d.recordId}>
                  <td>{d.recordId}</td>
                  <td className="cell-name" title={`${d.prompt}\n→ ${d.response}`}>
                    {d.prompt}
                  </td>
                  <td>{d.builtin ?? '–'}</td>
                  <td title={d.error ?? undefined}>{d.judge ?? NO_VERDICT}</td>
                  <td>{d.current ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Card>
  );
}
