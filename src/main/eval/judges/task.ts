/** Task scoring as a judge (needs the suite's scorer and the item's reference): GSM8K number, SST-2 label, exact / contains / regex. score = 1/0. */
import { scoreTask } from '../scoring';
import type { Judge, JudgeInput, SuiteKind, Verdict } from '../types';
import { EMPTY_REASON, isEmpty } from './empty';
import type { JudgeFactory } from './types';

export class TaskJudge implements Judge {
  readonly id = 'task';
  readonly version = 'task-scorer@1';
  readonly kind = 'task' as const;

  appliesTo(kind: SuiteKind): boolean {
    return kind === 'task';
  }

  async judge(inputs: readonly JudgeInput[]): Promise<Verdict[]> {
    return inputs.map((inp) => {
      const base = { judgeId: this.id, judgeVersion: `${this.version}|${inp.scorer ? JSON.stringify(inp.scorer) : 'none'}`, kind: this.kind };
      if (!inp.scorer) return { ...base, label: 'error', score: null, reason: 'suite has no scorer' };
      if (inp.item.reference === null) return { ...base, label: 'error', score: null, reason: 'item has no reference answer' };
      if (isEmpty(inp.response)) return { ...base, label: 'empty', score: 0, reason: EMPTY_REASON, extracted: null };
      try {
        const s = scoreTask(inp.response, inp.item.reference, inp.scorer);
        return { ...base, label: s.correct ? 'correct' : 'incorrect', score: s.correct ? 1 : 0, reason: s.reason, extracted: s.extracted };
      } catch (e) {
        return { ...base, label: 'error', score: null, reason: (e as Error).message };
      }
    });
  }
}

export const task: JudgeFactory<Record<string, never>> = () => new TaskJudge();
