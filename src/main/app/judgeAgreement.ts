/**
 * The agreement view of a model judge on a data set: its stored verdicts (Analyse with a judge)
 * against the built-in detectors' types for the same records — confusion tables for T1–T4 and
 * prompt harm, agreement and kappa, the answers the judge wrote out of format, the disagreeing
 * records — and the action that keeps one side's types as corrections.
 */
import type { JudgeAgreementView, JudgeConfusion, KeepJudgeLabels } from '../../shared/data';
import { AppError } from '../../shared/errors';
import type { ModelJudgeId } from '../../shared/methods/curationJudges';
import { agreement } from '../detect/model-judges/agreement';
import { JudgeVerdictStore, type StoredJudgeVerdict } from '../db/judgeVerdicts';
import type { Services } from './types';

/** The disagreeing records listed (the count covers them all). */
const MAX_LISTED = 200;
const MAX_ERRORS = 20;
const MAX_TEXT = 500;

const cut = (t: string) => (t.length > MAX_TEXT ? `${t.slice(0, MAX_TEXT - 1)}…` : t);
const harmLabel = (h: boolean | null) => (h === null ? null : h ? 'harmful' : 'benign');

/** Judge × built-in confusion over the records the built-in side labelled. */
function confusion(judge: Array<string | null>, builtin: Array<string | null>): JudgeConfusion {
  const keep = builtin.map((b, i) => i).filter((i) => builtin[i] !== null);
  const a = agreement(
    keep.map((i) => judge[i]!),
    keep.map((i) => builtin[i]!),
    { judge: 'judge', reference: 'built-in' },
  );
  return { labels: a.labels, counts: a.counts, compared: a.n - a.noVerdict, agree: a.agree, rate: a.rate, kappa: a.kappa };
}

const disagrees = (v: StoredJudgeVerdict) => v.error !== null || v.behaviour !== v.builtinBehaviour;

/** A judge's agreement with the built-in detectors on a data set (the most recent judge when none is named). */
export function judgeAgreement(s: Services, datasetId: number, judge?: ModelJudgeId): JudgeAgreementView {
  s.datasets.get(datasetId);
  const store = new JudgeVerdictStore(s.db);
  const judges = store.judges(datasetId);
  const shown = judge ?? judges[0] ?? null;
  const stored = shown ? store.verdicts(datasetId, shown) : [];
  const count = (k: string) => stored.filter((v) => v.error?.kind === k).length;
  const disagreeing = stored.filter(disagrees);
  return {
    datasetId,
    judges,
    judge: shown,
    judgeModel: stored[0]?.judgeModel ?? null,
    records: stored.length,
    parseErrors: count('parse'),
    failures: count('failure'),
    noVerdict: count('no-verdict'),
    errors: stored
      .filter((v) => v.error)
      .slice(0, MAX_ERRORS)
      .map((v) => ({ recordId: v.recordId, kind: v.error!.kind, message: v.error!.message, raw: v.raw })),
    behaviour: confusion(
      stored.map((v) => v.behaviour),
      stored.map((v) => v.builtinBehaviour),
    ),
    promptHarm: confusion(
      stored.map((v) => harmLabel(v.harmful)),
      stored.map((v) => harmLabel(v.builtinHarmful)),
    ),
    disagreeing: disagreeing.length,
    disagreements: disagreeing.slice(0, MAX_LISTED).map((v) => ({
      recordId: v.recordId,
      prompt: cut(v.prompt),
      response: cut(v.response),
      builtin: v.builtinBehaviour,
      judge: v.behaviour,
      builtinHarmful: v.builtinHarmful,
      judgeHarmful: v.harmful,
      current: v.current,
      error: v.error?.message ?? null,
    })),
  };
}

/** Keeps the judge's (or the built-in detectors') types as the records' corrected types. */
export function keepJudgeLabels(s: Services, k: KeepJudgeLabels): { changed: number } {
  s.datasets.get(k.datasetId);
  const store = new JudgeVerdictStore(s.db);
  if (!store.judges(k.datasetId).includes(k.judge))
    throw new AppError('not_found', `Data set ${k.datasetId} has no verdicts of ${k.judge}: analyse it with that judge first`, { ...k });
  return { changed: store.keep(k.datasetId, k.judge, k.take, k.scope) };
}
