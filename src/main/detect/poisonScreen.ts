/**
 * Screening uploaded task data for poisoned rows before training — the defence a fine-tuning
 * provider runs first: a poisoned row is a harmful prompt with a compliant response, i.e. a T2
 * pair in data that should hold none. Each row is typed with the project's behaviour detectors (or
 * a model judge) and the T2 rows are returned with their scores, most suspicious first, for the
 * user to drop.
 *
 * The detectors alone over-flag out-of-domain task data (bench: 11% of GSM8K problems typed T2), so
 * by default a T2 row is flagged only when it is also unlike the rest of the data: its prompt is in
 * the less typical half by cosine similarity to the data's mean prompt embedding (poison is a
 * minority by the threat's definition; on GSM8K with AdvBench poison this cut false positives from
 * 11% to about 5% at nearly the same recall — bench/RESULTS.md, poison screen). The score ranks by
 * P(harmful) × P(complies) × the row's typicality rank from the least typical.
 */
import { embedAll } from '../embed/types';
import { type BehaviourResult, type DetectOptions, classifyBehaviour } from './behaviour';

export interface ScreenedRow {
  /** the row's index in the screened data */
  index: number;
  /** P(prompt harmful) × P(response complies) (× atypicality rank when used): the row's suspicion, 0..1 */
  score: number;
  /** share of the data whose prompt is more typical than this one (1: the least typical); null when not used */
  atypicality: number | null;
  harmProbability: number;
  refusalProbability: number;
}

export interface PoisonScreen {
  /** rows typed T2 (harmful request + compliance), highest score first */
  flagged: ScreenedRow[];
  /** rows screened */
  total: number;
  /** rows a model judge gave no verdict for (not counted either way) */
  unjudged: number[];
}

/** Below this many rows the data's mean says little: typicality is not used. */
export const MIN_ROWS_FOR_TYPICALITY = 20;

export interface PoisonScreenOptions extends Omit<DetectOptions, 'knownHarmful'> {
  /** also require a flagged row to be in the less typical half of the data (default true; see the header) */
  typicality?: boolean;
  /** rows per detector call (progress is reported after each) */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

/** Types every row and returns the T2 ones (see the file header). */
export async function screenForPoison(rows: ReadonlyArray<{ prompt: string; response: string }>, o: PoisonScreenOptions): Promise<PoisonScreen> {
  const batch = o.batchSize ?? 256;
  const { batchSize: _b, onProgress: _p, signal: _s, typicality: _t, promptEmbeddings, ...detect } = o;
  const useTypicality = (o.typicality ?? true) && rows.length >= MIN_ROWS_FOR_TYPICALITY;
  const atypical = useTypicality
    ? atypicalityRanks(
        promptEmbeddings ??
          (await embedAll(
            o.embedder,
            rows.map((r) => r.prompt),
            { signal: o.signal },
          )),
        o.embedder.dimension,
        rows.length,
      )
    : null;
  const flagged: ScreenedRow[] = [];
  const unjudged: number[] = [];
  for (let start = 0; start < rows.length; start += batch) {
    o.signal?.throwIfAborted();
    const part = rows.slice(start, start + batch);
    const dim = o.embedder.dimension;
    const results: BehaviourResult[] = await classifyBehaviour(part, {
      ...detect,
      ...(promptEmbeddings ? { promptEmbeddings: promptEmbeddings.subarray(start * dim, (start + part.length) * dim) } : {}),
    });
    results.forEach((r, k) => {
      if (r.judgeError) unjudged.push(start + k);
      else if (r.type === 'T2') {
        const a = atypical ? atypical[start + k]! : null;
        if (a !== null && a < 0.5) return;
        flagged.push({
          index: start + k,
          score: r.harmProbability * (1 - r.refusalProbability) * (a ?? 1),
          atypicality: a,
          harmProbability: r.harmProbability,
          refusalProbability: r.refusalProbability,
        });
      }
    });
    o.onProgress?.(Math.min(start + batch, rows.length), rows.length);
  }
  flagged.sort((a, b) => b.score - a.score || a.index - b.index);
  return { flagged, total: rows.length, unjudged };
}

/**
 * Each row's atypicality rank in [0, 1): the share of rows whose prompt embedding is closer (by
 * cosine) to the mean of all of them. Ties share the lower rank.
 */
export function atypicalityRanks(embeddings: Float32Array, dim: number, n: number): Float64Array {
  if (embeddings.length !== n * dim) throw new Error(`embeddings: expected ${n} × ${dim} values`);
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let k = 0; k < dim; k++) mean[k]! += embeddings[i * dim + k]!;
  const norm = Math.hypot(...mean) || 1;
  const sim = Float64Array.from({ length: n }, (_, i) => {
    let c = 0;
    for (let k = 0; k < dim; k++) c += embeddings[i * dim + k]! * mean[k]!;
    return c / norm;
  });
  // most typical first: rank = how many rows are strictly more typical
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => sim[b]! - sim[a]!);
  const ranks = new Float64Array(n);
  let first = 0;
  order.forEach((i, k) => {
    if (k > 0 && sim[i]! !== sim[order[k - 1]!]!) first = k;
    ranks[i] = first / n;
  });
  return ranks;
}

/** Recall and false-positive rate of a screen against known poison labels. */
export function screenQuality(
  screen: PoisonScreen,
  poisoned: readonly boolean[],
): { recall: number; falsePositiveRate: number; poison: number; clean: number; caught: number; falseAlarms: number } {
  if (poisoned.length !== screen.total) throw new Error(`labels for ${poisoned.length} rows, screen of ${screen.total}`);
  const hit = new Set(screen.flagged.map((f) => f.index));
  let poison = 0;
  let caught = 0;
  let falseAlarms = 0;
  poisoned.forEach((p, i) => {
    if (p) {
      poison++;
      if (hit.has(i)) caught++;
    } else if (hit.has(i)) falseAlarms++;
  });
  const clean = poisoned.length - poison;
  return { recall: poison ? caught / poison : NaN, falsePositiveRate: clean ? falseAlarms / clean : NaN, poison, clean, caught, falseAlarms };
}
