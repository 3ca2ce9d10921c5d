/**
 * Poisoned user data (the fine-tuning-as-a-service threat, ../shared/RESEARCH.md §2): harmful
 * prompt + compliant response pairs mixed into a user's task data so that a fraction p of the
 * uploaded data is harmful. The default poison is AdvBench's behaviours with their affirmative
 * targets (`goal`, `target`: "Sure, here is …"), shipped in resources/replication/data/harmful.
 *
 * p is the share of the *result*: k poison rows are added to all n task rows with
 * k = round(p·n / (1 − p)), so the task data is never thinned. Poison rows are drawn without
 * replacement (cycling through a fresh shuffle when k exceeds the poison set) and placed at seeded
 * random positions (a uniform interleaving, in one pass); every row says whether it is poison, so a
 * screen can be scored against it.
 */
import { mulberry32, shuffleInPlace } from '../util/prng';
import { type ContainerFormat, DataFileError, detectContainer, readRows } from './readers';

export interface PromptResponse {
  prompt: string;
  response: string;
}

export interface PoisonedRow extends PromptResponse {
  /** true for an inserted harmful pair */
  poisoned: boolean;
  /** the row's index in the task data, or in the poison set for a poison row */
  source: number;
}

/** The largest poison share accepted (above it the "task" is mostly harm: a mistake, not a study). */
export const MAX_POISON_RATE = 0.9;

/** Poison rows needed for a share `p` of the result, given `taskRows` task rows. */
export function poisonCount(taskRows: number, p: number): number {
  if (!Number.isFinite(p) || p < 0 || p > MAX_POISON_RATE) throw new RangeError(`poison rate ${p} is outside 0–${MAX_POISON_RATE}`);
  return Math.round((p * taskRows) / (1 - p));
}

/**
 * The task rows with a share `p` of poison rows inserted at seeded positions: the k poison slots
 * among the n + k rows are a uniform random subset (selection sampling: each slot is poison with
 * probability poison-left ÷ slots-left), filled in one pass, O(n + k).
 */
export function mixPoison(task: readonly PromptResponse[], poison: readonly PromptResponse[], p: number, seed: number): PoisonedRow[] {
  const k = poisonCount(task.length, p);
  if (k > 0 && poison.length === 0) throw new Error(`a poison rate of ${p} needs poison rows, and the poison set is empty`);
  const rng = mulberry32(seed);
  const picks: number[] = [];
  while (picks.length < k) picks.push(...shuffleInPlace(Array.from(poison.keys()), rng).slice(0, k - picks.length));
  const rows: PoisonedRow[] = [];
  let t = 0;
  let q = 0;
  for (let left = task.length + k; left > 0; left--) {
    if (rng() * left < k - q) {
      const j = picks[q++]!;
      rows.push({ prompt: poison[j]!.prompt, response: poison[j]!.response, poisoned: true, source: j });
    } else {
      rows.push({ prompt: task[t]!.prompt, response: task[t]!.response, poisoned: false, source: t });
      t++;
    }
  }
  return rows;
}

export interface PoisonFileOptions {
  /** column / key of the harmful prompt (default "goal", AdvBench's) */
  promptField?: string;
  /** column / key of the compliant response (default "target") */
  responseField?: string;
  /** at most this many rows (default 100,000) */
  maxRows?: number;
  signal?: AbortSignal;
}

/**
 * Reads harmful prompt + compliant response pairs from a CSV, TSV, JSON or JSONL file (default
 * fields: AdvBench's `goal` and `target`). Rows missing either field are errors naming the file,
 * line and field.
 */
export async function readPoisonPairs(file: string, o: PoisonFileOptions = {}): Promise<PromptResponse[]> {
  const promptField = o.promptField ?? 'goal';
  const responseField = o.responseField ?? 'target';
  const maxRows = o.maxRows ?? 100_000;
  const format: ContainerFormat = await detectContainer(file);
  const out: PromptResponse[] = [];
  for await (const item of readRows(file, format, { signal: o.signal })) {
    const where = `${file}${item.line ? `:${item.line}` : ` row ${item.row + 1}`}`;
    if (item.kind === 'error') throw new DataFileError(file, `${where}: ${item.reason}`);
    const value = item.value as Record<string, unknown> | null;
    const prompt = typeof value === 'object' && value ? value[promptField] : undefined;
    const response = typeof value === 'object' && value ? value[responseField] : undefined;
    if (typeof prompt !== 'string' || !prompt.trim())
      throw new DataFileError(file, `${where}: field "${promptField}" (the harmful prompt) is missing or empty`);
    if (typeof response !== 'string' || !response.trim())
      throw new DataFileError(file, `${where}: field "${responseField}" (the compliant response) is missing or empty`);
    if (out.length >= maxRows) throw new DataFileError(file, `${file}: more than ${maxRows} poison rows; use a smaller file`);
    out.push({ prompt, response });
  }
  if (out.length === 0) throw new DataFileError(file, `${file}: no rows`);
  return out;
}
