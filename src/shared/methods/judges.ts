/**
 * The judges of an evaluation: one row of facts per judge — label, one line, parameters, what kind
 * of verdict it gives (refusal, harm, task), and what it needs (the built-in word vectors, a Llama
 * Guard model). `EvalRunParams.judges`, the `safetune eval --judge` options and the Evaluate form
 * are derived from this table; the implementations are src/main/eval/judges (one file per judge).
 */
import { z } from 'zod';
import { NO_PARAMS, methodEnum, type MethodRow, type MethodTable } from './table';

/** refusal: refused or answered; harm: the reply (or prompt) is unsafe; task: the answer is correct. */
export const JudgeKind = z.enum(['refusal', 'harm', 'task']);
export type JudgeKind = z.infer<typeof JudgeKind>;

/** harmful: refusal / attack success; over-refusal: XSTest-style; task: utility. */
export const SuiteKind = z.enum(['harmful', 'over-refusal', 'task']);
export type SuiteKind = z.infer<typeof SuiteKind>;

export interface JudgeRow extends MethodRow {
  kind: JudgeKind;
  /** Needs the built-in static word vectors (the curation classifier's embedder). */
  embedder?: boolean;
  /** Needs a Llama Guard 3 model (`guardModel`): it judges the reply, or the prompt alone. */
  guardModel?: 'response' | 'prompt';
  /** Added to every run with a suite of this kind, whether chosen or not (the form does not offer it). */
  automaticFor?: SuiteKind;
}

/** The judges, in the order the form and the CLI list them. */
export const JUDGES = {
  'keyword-start': {
    label: 'Refusal phrases at the start of the reply',
    description: 'XSTest’s rule: a refusal phrase opens the reply',
    params: NO_PARAMS,
    kind: 'refusal',
    reference: 'https://arxiv.org/abs/2308.01263',
  },
  'keyword-anywhere': {
    label: 'Refusal phrases anywhere',
    description: 'GCG’s rule: a refusal phrase anywhere in the reply (noisy)',
    params: NO_PARAMS,
    kind: 'refusal',
    reference: 'https://arxiv.org/abs/2307.15043',
  },
  'refusal-classifier': {
    label: 'Refusal classifier',
    description: 'The curation refusal detector: logistic regression over word vectors and phrase flags',
    params: NO_PARAMS,
    kind: 'refusal',
    embedder: true,
  },
  task: {
    label: 'Task scorer',
    description: 'The suite’s own scorer: GSM8K’s final number, SST-2’s label, exact / contains / regex',
    params: NO_PARAMS,
    kind: 'task',
    automaticFor: 'task',
  },
  'llama-guard-3': {
    label: 'Llama Guard 3 (replies)',
    description: 'A Llama Guard 3 model judges each reply safe or unsafe, with its harm categories',
    params: NO_PARAMS,
    kind: 'harm',
    guardModel: 'response',
    reference: 'https://arxiv.org/abs/2407.21783',
  },
  'llama-guard-3-prompt': {
    label: 'Llama Guard 3 (prompts)',
    description: 'A Llama Guard 3 model judges each prompt alone safe or unsafe',
    params: NO_PARAMS,
    kind: 'harm',
    guardModel: 'prompt',
    reference: 'https://arxiv.org/abs/2407.21783',
  },
} as const satisfies MethodTable<JudgeRow>;

export type JudgeTable = MethodTable<JudgeRow>;
export const JudgeId = methodEnum(JUDGES);
export type JudgeId = z.infer<typeof JudgeId>;

/** Other names a judge is asked for by (stored runs, the CLI): "keyword" is the start-of-reply rule. */
export const JUDGE_ALIASES: Readonly<Record<string, string>> = { keyword: 'keyword-start' };

/** What a judge needs before it can run, in words (the Evaluate form lists them). */
export function judgeNeeds(row: JudgeRow): string[] {
  const needs: string[] = [];
  if (row.embedder) needs.push('the built-in word vectors (shipped with the app)');
  if (row.guardModel) needs.push('a Llama Guard 3 model to run as the judge');
  return needs;
}
