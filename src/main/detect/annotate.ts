/**
 * One call for a curation job: embed a pool's prompts, type every pair T1–T4, and infer harm
 * categories for records that have none (unlabelled pools: the shipped prompt detector's category
 * outputs, refined by reference prompts when given), reporting progress.
 */
import type { Embedder } from '../embed/types';
import { embedAll } from '../embed/types';
import { type BehaviourResult, classifyBehaviour } from './behaviour';
import { type EmbeddedReferences, type InferOptions, detectCategories } from './categories';

export interface AnnotateOptions {
  /** Embedder for selection (PSS/Cossim) and category inference. */
  embedder: Embedder;
  /** Embedder the shipped detectors were trained with (the default static one); default: `embedder`. */
  detectorEmbedder?: Embedder;
  /** Embedded BeaverTails references (same embedder as `embedder`), blended into the detector's categories. */
  references?: EmbeddedReferences;
  /** kNN options for the references. */
  inferOptions?: InferOptions;
  /** Infer categories at all (default true). */
  inferCategories?: boolean;
  /** Known prompt harmfulness (e.g. true for a safety pool); default: detect. */
  knownHarmful?: boolean | ReadonlyArray<boolean | null>;
  /** Infer categories also for records that already have some (default false). */
  reinferLabelled?: boolean;
  batchSize?: number;
  onProgress?: (stage: 'embed' | 'behaviour' | 'categories', done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface Annotation {
  embedderId: string;
  dim: number;
  /** n × dim, unit rows, prompts only. */
  embeddings: Float32Array;
  behaviour: BehaviourResult[];
  /** Final categories per record: given ones, or inferred. */
  categories: string[][];
  /** Whether each record's categories were inferred. */
  inferred: boolean[];
  /** Per-category scores (n × 14) for inferred rows (zero rows elsewhere); null if no inference ran. */
  categoryScores: Float32Array | null;
}

export async function annotateRecords(
  records: ReadonlyArray<{ prompt: string; response: string; categories?: readonly string[] }>,
  o: AnnotateOptions,
): Promise<Annotation> {
  const n = records.length;
  const embeddings = await embedAll(
    o.embedder,
    records.map((r) => r.prompt),
    {
      ...(o.batchSize ? { batchSize: o.batchSize } : {}),
      onProgress: (d, t) => o.onProgress?.('embed', d, t),
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  const det = o.detectorEmbedder ?? o.embedder;
  const behaviour: BehaviourResult[] = [];
  const bs = o.batchSize ?? 512;
  for (let s = 0; s < n; s += bs) {
    o.signal?.throwIfAborted();
    const part = records.slice(s, s + bs);
    const known = o.knownHarmful === undefined || typeof o.knownHarmful === 'boolean' ? o.knownHarmful : o.knownHarmful.slice(s, s + bs);
    const d = o.embedder.dimension;
    const reuse = det.id === o.embedder.id ? { promptEmbeddings: embeddings.subarray(s * d, (s + part.length) * d) } : {};
    behaviour.push(...(await classifyBehaviour(part, { embedder: det, ...reuse, ...(known !== undefined ? { knownHarmful: known } : {}) })));
    o.onProgress?.('behaviour', Math.min(n, s + bs), n);
  }
  const categories = records.map((r) => [...(r.categories ?? [])]);
  const inferred = new Array<boolean>(n).fill(false);
  let categoryScores: Float32Array | null = null;
  const todo = records.map((r, i) => (o.reinferLabelled || !r.categories?.length ? i : -1)).filter((i) => i >= 0);
  if (o.inferCategories !== false && todo.length) {
    if (o.references && o.references.embedderId !== o.embedder.id)
      throw new Error(`references were embedded with "${o.references.embedderId}", not "${o.embedder.id}"`);
    const d = o.embedder.dimension;
    const sub = new Float32Array(todo.length * d);
    todo.forEach((i, k) => sub.set(embeddings.subarray(i * d, (i + 1) * d), k * d));
    const res = await detectCategories(
      todo.map((i) => records[i]!.prompt),
      {
        embedder: det,
        ...(o.references ? { references: o.references, referenceEmbedder: o.embedder, promptEmbeddings: sub } : {}),
        ...(o.inferOptions ? { knn: o.inferOptions } : {}),
      },
    );
    const C = res.categories.length;
    categoryScores = new Float32Array(n * C);
    todo.forEach((i, k) => {
      categories[i] = res.labels[k]!;
      inferred[i] = true;
      categoryScores!.set(res.scores.subarray(k * C, (k + 1) * C), i * C);
    });
    o.onProgress?.('categories', todo.length, todo.length);
  }
  return { embedderId: o.embedder.id, dim: o.embedder.dimension, embeddings, behaviour, categories, inferred, categoryScores };
}
