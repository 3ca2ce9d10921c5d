/**
 * The judge implementations, one per row of the shared judge table (src/shared/methods/judges.ts);
 * `satisfies` makes a missing implementation a compile error. Each judge has an id and a version
 * recorded with every verdict. Empty replies get label 'empty' from every judge (never an error).
 * Judges throw only for infrastructure failures (e.g. a judge server that cannot be reached);
 * content problems become verdict labels.
 */
import { JUDGE_ALIASES, JUDGES, type JudgeId, type JudgeTable } from '../../../shared/eval';
import type { Judge } from '../types';
import { refusalClassifier } from './classifier';
import { keywordAnywhere, keywordStart } from './keyword';
import { llamaGuard3, llamaGuard3Prompt } from './llamaGuard3';
import { task } from './task';
import type { JudgeDeps, JudgeFactory } from './types';

export { ClassifierRefusalJudge } from './classifier';
export { KeywordRefusalJudge, type KeywordJudgeOptions } from './keyword';
export { TaskJudge } from './task';
export type { JudgeDeps, JudgeFactory } from './types';

export const JUDGE_IMPLS = {
  'keyword-start': keywordStart,
  'keyword-anywhere': keywordAnywhere,
  'refusal-classifier': refusalClassifier,
  task,
  'llama-guard-3': llamaGuard3,
  'llama-guard-3-prompt': llamaGuard3Prompt,
} satisfies Record<JudgeId, JudgeFactory<Record<string, never>>>;

/** A judge table and the factories of its rows (tests extend both). */
export interface JudgeRegistry {
  judges: JudgeTable;
  impls: Readonly<Record<string, JudgeFactory<never>>>;
}

export const SHIPPED_JUDGES: JudgeRegistry = { judges: JUDGES, impls: JUDGE_IMPLS };

/** Every id a judge can be asked for: the table's, then the aliases. */
export function judgeIdsText(judges: JudgeTable = JUDGES): string {
  const aliases = Object.entries(JUDGE_ALIASES).filter(([, to]) => to in judges);
  return [...Object.keys(judges), ...aliases.map(([a, to]) => `${a} (= ${to})`)].join(', ');
}

/**
 * A judge by id (or alias), with what its row says it needs: `embedder` (the default static word
 * vectors, for "refusal-classifier") or `guard` (the generator serving a Llama Guard 3 model, and
 * its scorer for P(unsafe)). `params` are its parsed parameters (see EvalRunParams.judgeParams).
 */
export function createJudge(id: string, deps: JudgeDeps = {}, params: Record<string, unknown> = {}, registry: JudgeRegistry = SHIPPED_JUDGES): Judge {
  const resolved = JUDGE_ALIASES[id] ?? id;
  const row = registry.judges[resolved];
  const factory = registry.impls[resolved] as JudgeFactory<Record<string, unknown>> | undefined;
  if (!row || !factory) throw new Error(`unknown judge "${id}" (have: ${judgeIdsText(registry.judges)})`);
  if (row.embedder && !deps.embedder)
    throw new Error(`judge "${resolved}" needs the default static embedder (createDefaultEmbedder from src/main/embed/staticVectors)`);
  if (row.guardModel && !deps.guard) throw new Error(`judge "${resolved}" needs a generator serving a Llama Guard 3 model`);
  return factory(deps, params);
}
