/**
 * The miniature's data: how evaluation prompts are kept out of training (normalised-text and
 * near-duplicate matching), how refusals are shortened for a small model, and the shipped files
 * under resources/replication/data (JSONL rows read with a size bound and errors naming file and
 * line).
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { findNearDuplicates, words } from '../data/dedupe';
import { loadSst2 } from '../eval/suites';
import type { BehaviourType } from '../detect/behaviour';

/** A training pair. */
export interface Pair {
  prompt: string;
  response: string;
}

/** A selection-pool record as shipped: the pair, its behaviour type and harm categories (from the project's detectors). */
export interface PoolRecord extends Pair {
  behaviour: BehaviourType;
  categories: string[];
}

/** The text as compared for overlap: lower-cased letter/digit words joined by one space. */
export function normalisedKey(text: string): string {
  return words(text).join(' ');
}

export interface OverlapResult<T> {
  kept: T[];
  /** candidates equal to an evaluation prompt after normalisation */
  exact: T[];
  /** candidates whose word-shingle Jaccard similarity with an evaluation prompt is ≥ the threshold */
  near: T[];
}

/**
 * Remove every candidate that equals an evaluation prompt after normalisation or is a near
 * duplicate of one (MinHash estimate of word-3-shingle Jaccard ≥ threshold, default 0.8, the
 * project's duplicate threshold). Duplicates among the candidates themselves are removed too (the
 * first one is kept).
 */
export function excludeOverlap<T>(
  candidates: readonly T[],
  text: (t: T) => string,
  evalPrompts: readonly string[],
  opts: { threshold?: number } = {},
): OverlapResult<T> {
  const evalKeys = new Set(evalPrompts.map(normalisedKey));
  const seen = new Set<string>();
  const exact: T[] = [];
  const rest: T[] = [];
  for (const c of candidates) {
    const k = normalisedKey(text(c));
    if (evalKeys.has(k)) exact.push(c);
    else if (k && !seen.has(k)) {
      seen.add(k);
      rest.push(c);
    }
  }
  const all = [...evalPrompts, ...rest.map(text)];
  const nd = findNearDuplicates(all, { threshold: opts.threshold ?? 0.8 });
  const evalCluster = new Set<number>();
  for (let i = 0; i < evalPrompts.length; i++) evalCluster.add(nd.representative[i]!);
  const kept: T[] = [];
  const near: T[] = [];
  rest.forEach((c, i) => (evalCluster.has(nd.representative[evalPrompts.length + i]!) ? near : kept).push(c));
  return { kept, exact, near };
}

/**
 * A reply shortened for a small model: its first sentence (or the first `maxWords` words, ending
 * with "."), whitespace collapsed. The refusal judge reads only the start of a reply.
 */
export function firstSentence(text: string, maxWords = 24): string {
  const t = text.replace(/\s+/g, ' ').trim();
  const m = /^.*?[.!?](?=\s|$)/.exec(t);
  const s = m ? m[0] : t;
  const w = s.split(' ');
  return w.length <= maxWords
    ? s
    : `${w
        .slice(0, maxWords)
        .join(' ')
        .replace(/[,;:]$/, '')}.`;
}

/** Largest shipped data file read (they are a few hundred KB). */
const MAX_FILE_BYTES = 16 * 2 ** 20;

/** Read a JSONL file of objects; each row is checked by `row`, which throws with the field name. */
export function readJsonl<T>(file: string, row: (o: Record<string, unknown>, where: string) => T): T[] {
  const size = statSync(file).size;
  if (size > MAX_FILE_BYTES) throw new Error(`${file}: ${size} bytes, more than the ${MAX_FILE_BYTES} a replication data file may have`);
  const out: T[] = [];
  readFileSync(file, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (!line.trim()) return;
      const where = `${file}:${i + 1}`;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch (e) {
        throw new Error(`${where}: not valid JSON (${(e as Error).message})`);
      }
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error(`${where}: expected a JSON object`);
      out.push(row(o as Record<string, unknown>, where));
    });
  return out;
}

function str(o: Record<string, unknown>, field: string, where: string): string {
  const v = o[field];
  if (typeof v !== 'string' || !v.trim()) throw new Error(`${where}: field "${field}" must be a non-empty string`);
  return v;
}

export const pairRow = (o: Record<string, unknown>, where: string): Pair => ({ prompt: str(o, 'prompt', where), response: str(o, 'response', where) });

export const poolRow = (o: Record<string, unknown>, where: string): PoolRecord => {
  const b = o['behaviour'];
  if (b !== 'T1' && b !== 'T2' && b !== 'T3' && b !== 'T4') throw new Error(`${where}: field "behaviour" must be T1, T2, T3 or T4`);
  const c = o['categories'];
  if (!Array.isArray(c) || !c.every((x) => typeof x === 'string')) throw new Error(`${where}: field "categories" must be a list of category ids`);
  return { ...pairRow(o, where), behaviour: b, categories: c as string[] };
};

/** The shipped files (resources/replication/data), relative to the data folder. */
export const DATA_FILES = {
  alignHarmful: 'train/align_harmful.jsonl',
  alignBenign: 'train/align_benign.jsonl',
  alignTask: 'train/align_task.jsonl',
  pool: 'train/safety_pool.jsonl',
  task: 'task/sst2_train_subset.tsv',
  advbench: 'harmful/advbench_harmful_behaviors.csv',
  xstest: 'benign/xstest_prompts.csv',
  sst2Dev: 'task/sst2_glue_dev.tsv',
} as const;

export interface ReplicationData {
  dir: string;
  alignHarmful: Pair[];
  alignBenign: Pair[];
  /** task-prior pairs (SST-2 train sentences in the task-prior template, label word as the reply) */
  alignTask: Pair[];
  pool: PoolRecord[];
}

/** Read the training files of a replication data folder (the evaluation files are read by the eval suites). */
export function loadReplicationData(dir: string): ReplicationData {
  return {
    dir,
    alignHarmful: readJsonl(join(dir, DATA_FILES.alignHarmful), pairRow),
    alignBenign: readJsonl(join(dir, DATA_FILES.alignBenign), pairRow),
    alignTask: readJsonl(join(dir, DATA_FILES.alignTask), pairRow),
    pool: readJsonl(join(dir, DATA_FILES.pool), poolRow),
  };
}

/**
 * The task pairs: the shipped SST-2 train subset read by the eval core's SST-2 loader, so a training
 * prompt is exactly what the SST-2 suite asks (its template) and the reply is the label word the
 * task judge scores ("positive" / "negative").
 */
export async function loadTaskPairs(dir: string): Promise<Pair[]> {
  const file = join(dir, DATA_FILES.task);
  const suite = await loadSst2(file);
  if (suite.issues.length)
    throw new Error(`${file}: ${suite.issues.length} rows could not be read (first: line ${suite.issues[0]!.line}: ${suite.issues[0]!.reason})`);
  return suite.items.map((i) => ({ prompt: i.prompt, response: i.reference! }));
}
