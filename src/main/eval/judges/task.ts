/**
 * Task scoring as a judge (needs the suite's scorer and the item's reference): GSM8K number, SST-2
 * label, exact / contains / regex, or a code task's tests run in the sandbox (two at a time).
 * score = 1/0.
 */
import { SandboxUnavailableError } from '../codeSandbox';
import { scoreCodeTask } from '../codeTasks';
import { type TaskScore, scoreTask } from '../scoring';
import type { Judge, JudgeInput, SuiteKind, Verdict } from '../types';
import { EMPTY_REASON, isEmpty } from './empty';
import type { JudgeFactory } from './types';

/** Code tasks run at once (child processes). */
const CODE_TESTS_AT_ONCE = 2;

export class TaskJudge implements Judge {
  readonly id = 'task';
  readonly version = 'task-scorer@1';
  readonly kind = 'task' as const;

  appliesTo(kind: SuiteKind): boolean {
    return kind === 'task';
  }

  async judge(inputs: readonly JudgeInput[]): Promise<Verdict[]> {
    const out: Verdict[] = new Array(inputs.length);
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const i = next++;
        out[i] = await this.judgeOne(inputs[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CODE_TESTS_AT_ONCE, inputs.length) }, worker));
    return out;
  }

  private async judgeOne(inp: JudgeInput): Promise<Verdict> {
    const base = { judgeId: this.id, judgeVersion: `${this.version}|${inp.scorer ? JSON.stringify(inp.scorer) : 'none'}`, kind: this.kind };
    if (!inp.scorer) return { ...base, label: 'error', score: null, reason: 'suite has no scorer' };
    if (inp.item.reference === null) return { ...base, label: 'error', score: null, reason: 'item has no reference answer' };
    if (isEmpty(inp.response)) return { ...base, label: 'empty', score: 0, reason: EMPTY_REASON, extracted: null };
    try {
      const s: TaskScore =
        inp.scorer.kind === 'python-tests'
          ? await scoreCodeTask(inp.response, inp.item.reference, inp.scorer.timeoutMs ? { timeoutMs: inp.scorer.timeoutMs } : {})
          : scoreTask(inp.response, inp.item.reference, inp.scorer);
      return { ...base, label: s.correct ? 'correct' : 'incorrect', score: s.correct ? 1 : 0, reason: s.reason, extracted: s.extracted };
    } catch (e) {
      if (e instanceof SandboxUnavailableError) throw e; // no Python: the whole run cannot score, not this item
      return { ...base, label: 'error', score: null, reason: (e as Error).message };
    }
  }
}

export const task: JudgeFactory<Record<string, never>> = () => new TaskJudge();
