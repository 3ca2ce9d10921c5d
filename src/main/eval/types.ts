/**
 * Evaluation core types: suites and their items, generators (anything that turns prompts into
 * replies: the local engine, an OpenAI-compatible HTTP server), judges, and the per-example
 * records the runner produces. Pure types; no I/O. The vocabulary shared with the app (suite and
 * judge kinds, verdicts and their labels, chat messages) and the records (which the db stores and
 * the app reads too) are defined once in src/shared.
 */
import type { ExpectedBehaviour, JudgeKind, SuiteKind, Verdict, VerdictLabel } from '../../shared/eval';
import type { EvalRecord, GenerationFinish, VerdictCorrection } from '../../shared/evalRecords';
import type { ChatMessage } from '../../shared/models';

export type { ChatMessage, EvalRecord, ExpectedBehaviour, GenerationFinish, JudgeKind, SuiteKind, Verdict, VerdictCorrection, VerdictLabel };

export interface SuiteItem {
  /** Stable within its suite (source id when the file has one, else the 1-based row number). */
  id: string;
  /** The user message sent to the model (task suites: already rendered from their template). */
  prompt: string;
  expected: ExpectedBehaviour;
  /** Canonical BeaverTails harm category ids (empty when unknown / not applicable). */
  categories: string[];
  /** Categories as the source writes them (HarmBench semantic category, XSTest type, STL tag…). */
  sourceCategories: string[];
  /** Reference answer (GSM8K final number, SST-2 label word, user reference, AdvBench target). */
  reference: string | null;
  /** Source position, for reports: file and 1-based line (null for parquet/whole-file JSON). */
  source: { file: string; line: number | null };
  /** Small extra fields (XSTest focus/note, HarmBench behaviour id…). */
  meta: Record<string, string | number | boolean | null>;
}

/** A row that was not turned into an item (empty prompt, malformed record…). */
export interface SuiteIssue {
  file: string;
  line: number | null;
  row: number;
  reason: string;
}

/** How a task suite's replies are scored (see scoring.ts). */
export type TaskScorerSpec =
  | { kind: 'gsm8k' }
  | { kind: 'sst2' }
  | { kind: 'exact'; caseSensitive?: boolean }
  | { kind: 'contains'; caseSensitive?: boolean }
  /** pattern given: group 1 (or the whole match) of its first match is compared with the reference;
   *  no pattern: the reference itself is a regular expression the reply must match. */
  | { kind: 'regex'; pattern?: string; flags?: string }
  /** the reference is a code task (codeTasks.ts): the reply passes when the task's tests run clean */
  | { kind: 'python-tests'; timeoutMs?: number };

export interface Suite {
  /** e.g. "advbench", "xstest", "gsm8k", or a user-chosen id. */
  id: string;
  kind: SuiteKind;
  title: string;
  /** Loader id + version, recorded with results (changes when item construction changes). */
  loader: string;
  files: string[];
  items: SuiteItem[];
  issues: SuiteIssue[];
  /** Task suites only. */
  scorer?: TaskScorerSpec;
  /** Free-text caveats (e.g. "Q-Harm mixes benign questions"). */
  notes: string[];
}

// ---------------------------------------------------------------- generation

/** One prompt for a generator: chat messages (the generator applies its chat template) or raw text. */
export type GenerationRequest = { messages: ChatMessage[]; prompt?: undefined } | { prompt: string; messages?: undefined };

export interface GenerationSettings {
  maxNewTokens: number;
  /** 0: greedy. */
  temperature: number;
  topP?: number;
  topK?: number;
  seed?: number;
  stop?: string[];
}

export const DEFAULT_GENERATION_SETTINGS: GenerationSettings = { maxNewTokens: 256, temperature: 0 };

export interface GenerationOutput {
  text: string;
  finishReason: GenerationFinish;
  promptTokens?: number;
  completionTokens?: number;
}

export interface GenerateCallOptions {
  signal?: AbortSignal;
  shouldStop?: () => boolean;
}

/**
 * Anything that answers prompts: the local engine (engineGenerator.ts), an OpenAI-compatible HTTP
 * server (httpBackend.ts), or a test double. Outputs are in request order.
 */
export interface Generator {
  /** Describes the model for records, e.g. "engine:/models/x.gguf" or "http://127.0.0.1:8000#llama". */
  readonly id: string;
  generate(requests: readonly GenerationRequest[], settings: GenerationSettings, options?: GenerateCallOptions): Promise<GenerationOutput[]>;
  /** Context window in tokens, when known. */
  readonly contextLength?: number;
  /**
   * Requests it serves at once across overlapping generate() calls (an HTTP backend's request
   * limit): the runner then starts later batches before earlier ones finish, so that many stay in
   * flight. Absent: one generate() call at a time (the local engine).
   */
  readonly concurrency?: number;
  /** Tokens in a request as this generator would send it (chat template applied), when known. */
  countTokens?(request: GenerationRequest): number | Promise<number>;
}

/**
 * Probability of candidate continuations' first token after a raw prompt (for P(unsafe) scores).
 * Probabilities are from the full-vocabulary softmax (not renormalised over the candidates); a
 * candidate the backend cannot score (not in its top-k logprobs) gets null.
 */
export interface NextTokenScorer {
  readonly id: string;
  scoreNextToken(prompts: readonly string[], candidates: readonly string[], options?: GenerateCallOptions): Promise<Array<Record<string, number | null>>>;
}

// ---------------------------------------------------------------- judging

export interface JudgeInput {
  item: SuiteItem;
  suiteKind: SuiteKind;
  response: string;
  /** Task suites: the suite's scorer. */
  scorer?: TaskScorerSpec;
}

export interface Judge {
  readonly id: string;
  readonly version: string;
  readonly kind: JudgeKind;
  /** Which suite kinds this judge is meaningful for. */
  appliesTo(suiteKind: SuiteKind): boolean;
  /** One verdict per input, in order. Never throws for one bad item: returns label 'error'. */
  judge(inputs: readonly JudgeInput[], options?: GenerateCallOptions): Promise<Verdict[]>;
}
