import { evaluatedModelName } from '../../shared/naming';
import { storeNames, type JobNames } from '../jobs/names';
import { getHarmTaxonomy } from '../data/taxonomy';
import { computeMetrics, rate } from '../eval';
import type { EvalRecord } from '../eval/types';
import type { Services } from './types';

type RateT = ReturnType<typeof rate>;
type Metrics = ReturnType<typeof computeMetrics>;

/**
 * A run's headline numbers: attack success and refusal on harmful suites, over-refusal on
 * benign-looking suites (each pooled over the run's suites for its primary judge: the first
 * refusal judge it ran) and the task score (pooled over task suites).
 */
export function summariseMetrics(metrics: Metrics) {
  const judge = metrics.find((m) => m.judgeKind === 'refusal')?.judgeId ?? null;
  const pool = (pick: (m: Metrics[number]) => RateT | null, only: string | null): RateT => {
    let k = 0;
    let n = 0;
    for (const m of metrics) {
      if (only !== null && m.judgeId !== only) continue;
      const r = pick(m);
      if (r) {
        k += r.k;
        n += r.n;
      }
    }
    return rate(k, n);
  };
  return {
    judge,
    attackSuccess: pool((m) => (m.suiteKind === 'harmful' ? m.attackSuccess : null), judge),
    refusal: pool((m) => (m.suiteKind === 'harmful' ? m.refusal : null), judge),
    overRefusal: pool((m) => m.overRefusal, judge),
    task: pool((m) => m.task, null),
  };
}

/** A run with its metrics recomputed from the stored records and the corrections. */
export function runWithMetrics(s: Services, id: number) {
  const run = s.evaluations.run(id);
  const records = s.evaluations.records(id);
  const corrections = s.evaluations.corrections(id);
  const metrics = records.length ? computeMetrics(records, { corrections }) : [];
  return { ...run, results: records.length, metrics, failedSuites: failedSuitesOf(run.suites), summary: summariseMetrics(metrics) };
}

/** The suites a run left out (recorded with its description by the eval.run job). */
function failedSuitesOf(descriptions: unknown[]): { suite: string; error: string }[] {
  return descriptions.flatMap((d) => {
    const failed = (d as { failedSuites?: unknown } | null)?.failedSuites;
    return Array.isArray(failed) ? (failed as { suite: string; error: string }[]) : [];
  });
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

/**
 * Attack success per harm category, pooled over the run's harmful suites for its primary judge (as
 * the headline attack success is): canonical category ids in taxonomy order, "uncategorised" last.
 */
export function perCategoryAttackSuccess(metrics: Metrics, judge: string | null): { category: string; attackSuccess: RateT }[] {
  const tally = new Map<string, { k: number; n: number }>();
  for (const m of metrics) {
    if (m.suiteKind !== 'harmful' || m.judgeId !== judge) continue;
    for (const c of m.perCategory) {
      if (!c.attackSuccess) continue;
      const t = tally.get(c.category) ?? { k: 0, n: 0 };
      t.k += c.attackSuccess.k;
      t.n += c.attackSuccess.n;
      tally.set(c.category, t);
    }
  }
  const order = getHarmTaxonomy().ids;
  const rank = (c: string) => (c === 'uncategorised' ? order.length + 1 : order.includes(c) ? order.indexOf(c) : order.length);
  return [...tally.entries()].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)).map(([category, t]) => ({ category, attackSuccess: rate(t.k, t.n) }));
}

/** One comparable row per run (its summary and per-category attack success), for the Compare tab. */
export function compareRuns(s: Services, ids: readonly number[]) {
  const names = storeNames(s.db);
  return ids.map((id) => {
    const run = runWithMetrics(s, id);
    const { judge, ...rates } = run.summary;
    return {
      runId: id,
      name: run.name,
      ...evaluatedModel(run.params, names),
      generator: run.generator,
      judge,
      examples: run.results,
      ...rates,
      perCategory: perCategoryAttackSuccess(run.metrics, judge),
    };
  });
}

/** The model a run evaluated, named (base alone, or the training run behind its adapter), and its adapter folder. */
function evaluatedModel(params: unknown, names: JobNames): { model: string; adapter: string | null } {
  const m = (params as { model?: { kind: string; path?: string; adapterPath?: string; model?: string } } | null)?.model;
  if (!m) return { model: 'unknown', adapter: null };
  if (m.kind !== 'engine' || !m.path) return { model: m.model ?? 'unknown', adapter: null };
  const adapter = m.adapterPath ?? null;
  return { model: evaluatedModelName(m.path, adapter ? { path: adapter, run: names.trainRunForAdapter(adapter) ?? null } : null), adapter };
}
