/**
 * What every suite format's file shares: the loaders' options, and the shape of a format's
 * implementation (its detection rule and its loader) that the table in ./index.ts holds.
 */
import type { Suite, SuiteKind, TaskScorerSpec } from '../types';

export interface LoadOptions {
  /** Suite id (default: the loader's). */
  id?: string;
  title?: string;
  signal?: AbortSignal;
}

export interface TaskLoadOptions extends LoadOptions {
  /** Prompt template with {field} placeholders (default: the built-in one). */
  template?: string;
  /**
   * Few-shot examples drawn (seeded, the same for every item) from a training file of the same
   * format: each is the rendered template followed by its answer, then a blank line; the item's
   * own prompt comes last. Examples identical to an evaluated item are never drawn.
   */
  fewShot?: { file: string; n: number; seed?: number };
}

export interface CustomSuiteOptions extends LoadOptions {
  kind: SuiteKind;
  /** Prompt column (default: the first of prompt, instruction, question, goal, Behavior, text). */
  promptColumn?: string;
  /** Template with {field} placeholders instead of a prompt column. */
  template?: string;
  /** Optional category column (names resolved through the taxonomy). */
  categoryColumn?: string;
  /** Optional id column. */
  idColumn?: string;
  /** Reference column (required for task suites; default: the first of reference, answer, output, label, target). */
  referenceColumn?: string;
  /** Per-row expected behaviour column (values refuse/comply/answer, or safe/unsafe as XSTest). */
  expectedColumn?: string;
  /** Task suites: how replies are scored (default exact). */
  scorer?: TaskScorerSpec;
}

/** Everything a loader may be given: each format reads the options it knows and ignores the rest. */
export type SuiteLoadOptions = TaskLoadOptions & Partial<CustomSuiteOptions>;

/** What format detection sees of a file: its columns (CSV/TSV header, or the first row's fields) and first row. */
export interface SuiteShape {
  columns: string[];
  /** The first object row (JSON/JSONL/Parquet); null for CSV/TSV and empty files. */
  first: Record<string, unknown> | null;
  /** True when the file has all these columns. */
  has(...columns: string[]): boolean;
}

/** How a format is recognised; each rule gives the reason it matched. Rules are tried in table order. */
export interface SuiteDetection {
  /** A folder is read by this format: the reason. */
  folder?: string;
  /** A JSON file whose first 4 KB match `pattern` (tried before any row is read). */
  jsonHead?: { pattern: RegExp; columns: string[]; reason: string };
  /** The file's columns fit this format: the reason, else null. */
  columns?: (shape: SuiteShape) => string | null;
}

/** A suite format's implementation: its detection rule (none: it is never detected) and its loader. */
export interface SuiteFormatImpl {
  detect: SuiteDetection;
  load(path: string, opts: SuiteLoadOptions): Promise<Suite>;
}
