/** A run's metrics: per suite and judge, per harm category (harmful suites), per prompt type (over-refusal suites), and the suites' notes. */
import type { EvalRun } from '../../../../shared/eval';
import { Badge } from '../../components/ui';
import { rateText } from '../format';

/** "suite: note" for every note the run recorded about its suites (subsets, inferred or missing categories). */
function suiteNotes(described: unknown[]): string[] {
  const out: string[] = [];
  for (const d of described as { suites?: { id: string; notes?: string[] }[] }[])
    for (const s of d.suites ?? []) for (const n of s.notes ?? []) out.push(`${s.id}: ${n}`);
  return [...new Set(out)];
}

export function MetricsTables({ run: data, categoryName: catName }: { run: EvalRun; categoryName: (id: string) => string }) {
  const notes = suiteNotes(data.suites);
  return (
    <>
      <table className="table metrics" aria-label="Metrics">
        <thead>
          <tr>
            <th scope="col">Suite</th>
            <th scope="col">Judge</th>
            <th scope="col">Refusal</th>
            <th scope="col">Attack success</th>
            <th scope="col">Over-refusal</th>
            <th scope="col">Unsafe-contrast refusal</th>
            <th scope="col">Task</th>
          </tr>
        </thead>
        <tbody>
          {data.metrics.map((m) => (
            <tr key={`${m.suiteId}/${m.judgeId}`} data-suite={m.suiteId} data-judge={m.judgeId}>
              <td>
                {m.suiteId} <span className="muted small">({m.records})</span>
                {m.corrected > 0 && <Badge tone="warning">{m.corrected} corrected</Badge>}
              </td>
              <td>{m.judgeId}</td>
              <td data-metric="refusal">{rateText(m.refusal)}</td>
              <td data-metric="attackSuccess">{rateText(m.attackSuccess)}</td>
              <td data-metric="overRefusal">{rateText(m.overRefusal)}</td>
              <td data-metric="unsafeContrastRefusal">{rateText(m.unsafeContrastRefusal)}</td>
              <td data-metric="task">{rateText(m.task)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {notes.length > 0 && (
        <ul className="notes" aria-label="Suite notes">
          {notes.map((n) => (
            <li key={n}>{n}</li>
          ))}
        </ul>
      )}
      {data.metrics.some((m) => m.perCategory.length > 0) && (
        <details className="preview-items" open>
          <summary>Per harm category</summary>
          <table className="table metrics" aria-label="Per-category metrics">
            <thead>
              <tr>
                <th scope="col">Suite · judge</th>
                <th scope="col">Harm category</th>
                <th scope="col">Items</th>
                <th scope="col">Refusal</th>
                <th scope="col">Attack success</th>
              </tr>
            </thead>
            <tbody>
              {data.metrics.flatMap((m) =>
                m.perCategory.map((c) => (
                  <tr key={`${m.suiteId}/${m.judgeId}/${c.category}`} data-suite={m.suiteId} data-category={c.category}>
                    <td>
                      {m.suiteId} · {m.judgeId}
                    </td>
                    <td>{catName(c.category)}</td>
                    <td>{c.items}</td>
                    <td>{rateText(c.refusal)}</td>
                    <td>{rateText(c.attackSuccess)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </details>
      )}
      {data.metrics.some((m) => m.perPromptType.length > 0) && (
        <details className="preview-items">
          <summary>Per prompt type (over-refusal suites)</summary>
          <p className="muted small">Prompt types as the suite names them (XSTest's), not harm categories.</p>
          <table className="table metrics" aria-label="Per-prompt-type metrics">
            <thead>
              <tr>
                <th scope="col">Suite · judge</th>
                <th scope="col">Prompt type</th>
                <th scope="col">Prompts</th>
                <th scope="col">Refused</th>
              </tr>
            </thead>
            <tbody>
              {data.metrics.flatMap((m) =>
                m.perPromptType.map((t) => (
                  <tr key={`${m.suiteId}/${m.judgeId}/${t.promptType}`} data-suite={m.suiteId} data-prompt-type={t.promptType}>
                    <td>
                      {m.suiteId} · {m.judgeId}
                    </td>
                    <td>{t.promptType}</td>
                    <td>
                      {t.items} {t.expected === 'comply' ? 'safe' : t.expected === 'refuse' ? 'unsafe' : 'safe and unsafe'}
                    </td>
                    <td>{rateText(t.refusal)}</td>
                  </tr>
                )),
              )}
            </tbody>
          </table>
        </details>
      )}
    </>
  );
}
