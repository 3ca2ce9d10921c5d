/**
 * The evaluation suite formats: one row of facts per file format a suite can be read from — label,
 * one line, the kinds of suite it can give, the files it reads and where the
 * format comes from. Rows are in the order format detection tries them. The loaders (one file per
 * format, with its detection rule) are src/main/eval/suites; the built-in suites in
 * resources/eval/suites.v1.json name their loader by these ids.
 */
import type { z } from 'zod';
import { SuiteKind } from './judges';
import { NO_PARAMS, methodEnum, type MethodRow, type MethodTable } from './table';

export interface SuiteFormatRow extends MethodRow {
  /** The kinds of suite the format can give (a custom suite's is the one the user says). */
  kinds: readonly SuiteKind[];
  /** What is read: file shapes and their fields, in a few words. */
  files: string;
}

/** The suite formats, in the order format detection tries them. */
export const SUITE_FORMATS = {
  stl: {
    label: 'Safety-Tuned LLaMAs',
    description: 'Instructions that should be refused (or, for the benign files, answered)',
    params: NO_PARAMS,
    kinds: ['harmful', 'over-refusal'],
    files: 'JSON object {"instructions": [...], "tags"?: [...], "inputs"?: [...]}',
    reference: 'https://arxiv.org/abs/2309.07875',
  },
  advbench: {
    label: 'AdvBench',
    description: 'Harmful behaviours to be refused; no harm categories',
    params: NO_PARAMS,
    kinds: ['harmful'],
    files: 'CSV/JSONL with goal (the prompt) and target',
    reference: 'https://arxiv.org/abs/2307.15043',
  },
  harmbench: {
    label: 'HarmBench-style behaviours',
    description: 'Harmful behaviours with a semantic category and an optional context string',
    params: NO_PARAMS,
    kinds: ['harmful'],
    files: 'CSV/JSONL with Behavior, SemanticCategory, ContextString?, BehaviorID?',
    reference: 'https://arxiv.org/abs/2402.04249',
  },
  xstest: {
    label: 'XSTest',
    description: 'Safe prompts that look unsafe (to be answered) and unsafe contrast prompts',
    params: NO_PARAMS,
    kinds: ['over-refusal'],
    files: 'CSV with prompt, label (safe/unsafe) and type',
    reference: 'https://arxiv.org/abs/2308.01263',
  },
  sst2: {
    label: 'SST-2',
    description: 'Sentiment of movie reviews: the label is the answer',
    params: NO_PARAMS,
    kinds: ['task'],
    files: 'TSV/CSV/JSONL with sentence and label (0/1)',
    reference: 'https://aclanthology.org/D13-1170/',
  },
  gsm8k: {
    label: 'GSM8K',
    description: 'Grade-school maths: the final number is the answer',
    params: NO_PARAMS,
    kinds: ['task'],
    files: 'JSONL with question and an answer ending "#### N"',
    reference: 'https://arxiv.org/abs/2110.14168',
  },
  humaneval: {
    label: 'HumanEval',
    description: 'Python functions from their docstrings: pass@1, the reply runs against the task’s tests (needs Python 3)',
    params: NO_PARAMS,
    kinds: ['task'],
    files: 'JSONL(.gz) with task_id, prompt, test and entry_point',
    reference: 'https://arxiv.org/abs/2107.03374',
  },
  beavertails: {
    label: 'BeaverTails-style prompts',
    description: 'Harmful prompts with harm categories, to be refused',
    params: NO_PARAMS,
    kinds: ['harmful'],
    files: 'a folder of one-prompt-a-line files named by category, or a file with prompt and category',
    reference: 'https://arxiv.org/abs/2307.04657',
  },
  custom: {
    label: 'Your own suite',
    description: 'Any CSV/TSV/JSONL/JSON file: you give its kind and columns',
    params: NO_PARAMS,
    kinds: ['harmful', 'over-refusal', 'task'],
    files: 'a prompt column (or a template), a reference column for task suites',
  },
} as const satisfies MethodTable<SuiteFormatRow>;

export type SuiteFormatTable = MethodTable<SuiteFormatRow>;
export const SuiteFormat = methodEnum(SUITE_FORMATS);
export type SuiteFormat = z.infer<typeof SuiteFormat>;
