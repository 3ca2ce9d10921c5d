/**
 * Model-judge verdicts per record (migration 11), kept beside the records' own labels: written by
 * Analyse with a judge, read by the agreement view, and turned into corrections when the user keeps
 * one side's behaviour types.
 */
import type { Behaviour } from '../../shared/data';
import type { ModelJudgeId } from '../../shared/methods/curationJudges';
import { nowIso, type Db } from './database';

/** The longest judge answer kept with a verdict (the rest is cut). */
const MAX_RAW = 2000;

export interface JudgeVerdict {
  recordId: number;
  /** null: the judge gave no verdict on it (see error). */
  harmful: boolean | null;
  refusal: boolean | null;
  behaviour: Behaviour | null;
  categories: string[];
  builtinBehaviour: Behaviour | null;
  builtinHarmful: boolean | null;
  error: { kind: 'parse' | 'failure' | 'no-verdict'; message: string } | null;
  raw: string | null;
}

export interface StoredJudgeVerdict extends JudgeVerdict {
  judgeModel: string;
  prompt: string;
  response: string;
  /** The record's behaviour type now. */
  current: Behaviour | null;
}

interface Row {
  record_id: number;
  judge_model: string;
  harmful: 0 | 1 | null;
  refusal: 0 | 1 | null;
  behaviour: Behaviour | null;
  categories: string;
  builtin_behaviour: Behaviour | null;
  builtin_harmful: 0 | 1 | null;
  error_kind: 'parse' | 'failure' | 'no-verdict' | null;
  error: string | null;
  raw: string | null;
  prompt: string;
  response: string;
  current: Behaviour | null;
}

const bool = (v: 0 | 1 | null) => (v === null ? null : v === 1);
const bit = (v: boolean | null) => (v === null ? null : v ? 1 : 0);

export class JudgeVerdictStore {
  constructor(private readonly db: Db) {}

  /** Drops a judge's verdicts on a data set (a new Analyse with that judge starts over). */
  clear(datasetId: number, judge: ModelJudgeId): number {
    return this.db.prepare('DELETE FROM judge_verdicts WHERE dataset_id = ? AND judge = ?').run(datasetId, judge).changes;
  }

  /** Stores verdicts (a record judged again by the same judge gets the new one). */
  put(datasetId: number, judge: ModelJudgeId, judgeModel: string, jobId: number | null, verdicts: readonly JudgeVerdict[]): void {
    const stmt = this.db.prepare(
      `INSERT OR REPLACE INTO judge_verdicts
         (record_id, judge, dataset_id, judge_model, job_id, harmful, refusal, behaviour, categories, builtin_behaviour, builtin_harmful, error_kind, error, raw, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const now = nowIso();
    for (const v of verdicts) {
      stmt.run(
        v.recordId,
        judge,
        datasetId,
        judgeModel,
        jobId,
        bit(v.harmful),
        bit(v.refusal),
        v.behaviour,
        JSON.stringify(v.categories),
        v.builtinBehaviour,
        bit(v.builtinHarmful),
        v.error?.kind ?? null,
        v.error?.message ?? null,
        v.raw === null ? null : v.raw.slice(0, MAX_RAW),
        now,
      );
    }
  }

  /** The model judges with verdicts on a data set, most recent first. */
  judges(datasetId: number): ModelJudgeId[] {
    return (
      this.db.prepare('SELECT judge, MAX(created_at) AS at FROM judge_verdicts WHERE dataset_id = ? GROUP BY judge ORDER BY at DESC, judge').all(datasetId) as {
        judge: ModelJudgeId;
      }[]
    ).map((r) => r.judge);
  }

  /** A judge's verdicts on a data set with their records, in record order. */
  verdicts(datasetId: number, judge: ModelJudgeId): StoredJudgeVerdict[] {
    const rows = this.db
      .prepare(
        `SELECT v.*, r.prompt, r.response, r.behaviour AS current FROM judge_verdicts v JOIN records r ON r.id = v.record_id
         WHERE v.dataset_id = ? AND v.judge = ? ORDER BY v.record_id`,
      )
      .all(datasetId, judge) as Row[];
    return rows.map((r) => ({
      recordId: r.record_id,
      judgeModel: r.judge_model,
      harmful: bool(r.harmful),
      refusal: bool(r.refusal),
      behaviour: r.behaviour,
      categories: JSON.parse(r.categories) as string[],
      builtinBehaviour: r.builtin_behaviour,
      builtinHarmful: bool(r.builtin_harmful),
      error: r.error_kind ? { kind: r.error_kind, message: r.error! } : null,
      raw: r.raw,
      prompt: r.prompt,
      response: r.response,
      current: r.current,
    }));
  }

  /**
   * Takes the judge's behaviour types (or the built-in detectors' from the same run) as the records'
   * types, for every judged record or only where the two disagree, like a person's correction
   * (source 'user', confidence 1): Analyse keeps them. Records the chosen side gave no type are left
   * alone. Returns how many records changed.
   */
  keep(datasetId: number, judge: ModelJudgeId, take: 'judge' | 'builtin', scope: 'all' | 'disagreeing'): number {
    const col = take === 'judge' ? 'v.behaviour' : 'v.builtin_behaviour';
    const disagreeing = scope === 'disagreeing' ? ' AND v.behaviour IS NOT NULL AND v.behaviour IS NOT v.builtin_behaviour' : '';
    return this.db
      .prepare(
        `UPDATE records SET behaviour = (SELECT ${col} FROM judge_verdicts v WHERE v.record_id = records.id AND v.judge = ?),
           behaviour_confidence = 1, behaviour_source = 'user'
         WHERE dataset_id = ? AND id IN (
           SELECT v.record_id FROM judge_verdicts v WHERE v.dataset_id = ? AND v.judge = ? AND ${col} IS NOT NULL${disagreeing}
         ) AND (behaviour IS NOT (SELECT ${col} FROM judge_verdicts v WHERE v.record_id = records.id AND v.judge = ?) OR behaviour_source != 'user')`,
      )
      .run(judge, datasetId, datasetId, judge, judge).changes;
  }
}
