import { computeMetrics, rate } from '../eval';
import type { EvalRecord } from '../eval/types';
import type { Services } from './services';

/** A run with its metrics recomputed from the stored records and the corrections. */
export function runWithMetrics(s: Services, id: number) {
  const run = s.evaluations.run(id);
  const records = s.evaluations.records(id);
  const corrections = s.evaluations.corrections(id);
  return { ...run, results: records.length, metrics: records.length ? computeMetrics(records, { corrections }) : [] };
}

/** Per-example results with their corrections, for the inspector. */
export function runResults(s: Services, id: number, suiteId: string | undefined, offset: number, limit: number) {
  const all = s.evaluations.records(id, suiteId);
  const corrections = s.evaluations.corrections(id);
  return {
    total: all.length,
    rows: all.slice(offset, offset + limit).map((r: EvalRecord) => ({
      suiteId: r.suiteId,
      suiteKind: r.suiteKind,
      itemId: r.itemId,
      prompt: r.prompt,
      response: r.response,
      expected: r.expected,
      categories: r.categories,
      sourceCategories: r.sourceCategories,
      reference: r.reference,
      finishReason: r.finishReason,
      warnings: r.warnings,
      verdicts: r.verdicts.map((v) => ({ judgeId: v.judgeId, judgeVersion: v.judgeVersion, kind: v.kind, label: v.label, score: v.score, reason: v.reason })),
      corrections: corrections.filter((c) => c.suiteId === r.suiteId && c.itemId === r.itemId).map((c) => ({ judgeId: c.judgeId, label: c.label })),
    })),
  };
}

type RateT = ReturnType<typeof rate>;

/**
 * One comparable row per run: attack success on harmful suites, over-refusal on benign-looking
 * suites and task score, each pooled over the run's suites of that kind, for its primary judge
 * (the first refusal judge it ran; the task judge for task suites).
 */
export function compareRuns(s: Services, ids: readonly number[]) {
  return ids.map((id) => {
    const run = runWithMetrics(s, id);
    const refusalJudges = run.metrics.filter((m) => m.judgeKind === 'refusal').map((m) => m.judgeId);
    const primary = refusalJudges[0] ?? null;
    const pool = (pick: (m: (typeof run.metrics)[number]) => RateT | null, judge: string | null) => {
      let k = 0;
      let n = 0;
      for (const m of run.metrics) {
        if (judge !== null && m.judgeId !== judge) continue;
        const r = pick(m);
        if (r) {
          k += r.k;
          n += r.n;
        }
      }
      return rate(k, n);
    };
    return {
      runId: id,
      name: run.name,
      generator: run.generator,
      judge: primary,
      examples: run.results,
      attackSuccess: pool((m) => (m.suiteKind === 'harmful' ? m.attackSuccess : null), primary),
      refusal: pool((m) => (m.suiteKind === 'harmful' ? m.refusal : null), primary),
      overRefusal: pool((m) => m.overRefusal, primary),
      task: pool((m) => m.task, null),
    };
  });
}
