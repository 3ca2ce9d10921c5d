/**
 * Trains the shipped detectors on ../shared with the project's engine (npm run train:detectors;
 * `-- --prompt-only` retrains the prompt detector alone):
 *  - resources/taxonomy/prompt-detector.v2.json: prompt harm + the 14 harm categories;
 *  - resources/refusal-phrases/refusal-detector.v2.json: reply refusal;
 *  - resources/taxonomy/reference-centroids.v1.json: Cossim's per-category reference centroids.
 * Splits, calibration and thresholds: src/main/detect/labelledData.ts and trainDetectors.ts. The
 * prompt detector never sees the test split (held-out benchmarks: bench/detect/heldout.ts); the
 * refusal detector trains on both labelled models' replies (its held-out figures come from
 * leave-one-model-out runs in the held-out bench). Deterministic: a rerun writes the same files
 * (up to onnxruntime's floating-point summation order).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { embedReferences, inferCategories, loadReferencePrompts, singleCategoryOnly, withCentroids } from '../../src/main/detect/categories';
import { type CorpusPrompt, loadDetectorCorpus, loadRefusalCorpus } from '../../src/main/detect/labelledData';
import { SeqDetector, assignCategories } from '../../src/main/detect/seqDetector';
import { PROMPT_DETECTOR_DEFAULTS, REFUSAL_DETECTOR_DEFAULTS, trainPromptDetector, trainRefusalDetector } from '../../src/main/detect/trainDetectors';
import { getHarmTaxonomy } from '../../src/main/data/taxonomy';
import { type StaticWordEmbedder, createDefaultEmbedder } from '../../src/main/embed/staticVectors';
import { repoRoot, sharedDir } from '../../test/helpers/shared';

/** Versions of the shipped detectors (the prompt detector was retrained in 2.1.0; the refusal detector is unchanged since 2.0.0). */
export const PROMPT_DETECTOR_VERSION = '2.1.0';
export const REFUSAL_DETECTOR_VERSION = '2.0.0';
export const EMBED_CACHE = join(repoRoot, 'bench', '.cache', 'embed');

const log = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);

/**
 * The kNN blend weight for category inference with reference prompts: the weight (0, 0.1, … 1)
 * with the best top-1 on the validation BeaverTails prompts, the references being the training ones
 * (the largest such weight when several tie).
 */
export async function chooseReferenceBlend(
  det: SeqDetector,
  emb: StaticWordEmbedder,
  corpus: readonly CorpusPrompt[],
): Promise<{ blend: number; top1: number[] }> {
  const cats = getHarmTaxonomy().ids;
  const C = cats.length;
  const ref = corpus.filter((p) => p.split === 'train' && p.categories !== null);
  const val = corpus.filter((p) => p.split === 'validation' && p.categories !== null);
  const refs = withCentroids({
    categories: [...cats],
    prompts: ref.map((p) => p.text),
    labels: Uint16Array.from(ref.map((p) => p.categories!)),
    embedderId: emb.id,
    dim: emb.dimension,
    embeddings: emb.embedSync(ref.map((p) => p.text)),
  });
  const knn = await inferCategories(emb.embedSync(val.map((p) => p.text)), refs, { k: 15 });
  const model = await det.probabilities(
    emb,
    val.map((p) => p.text),
  );
  const top1: number[] = [];
  for (let k = 0; k <= 10; k++) {
    const w = k / 10;
    let hit = 0;
    val.forEach((p, i) => {
      const row = cats.map((_, c) => (1 - w) * model[i * (C + 1) + 1 + c]! + w * knn.scores[i * C + c]!);
      if ((p.categories! >> assignCategories(row, 1)[0]!) & 1) hit++;
    });
    top1.push(hit / val.length);
  }
  // ties go to the larger weight: references a user passes should refine the result, not be ignored
  const best = top1.lastIndexOf(Math.max(...top1));
  return { blend: best / 10, top1 };
}

/**
 * Cossim's per-category reference centroids (BeaverTails single-category prompts), so Cossim works
 * without the reference files. Only means of embeddings are shipped, no text.
 */
export async function referenceCentroids(dataDir: string, emb: StaticWordEmbedder) {
  const single = await embedReferences(singleCategoryOnly(await loadReferencePrompts(join(dataDir, 'reference', 'beavertails-unsafe-prompts'))), emb);
  return {
    id: 'safetune-beavertails-reference-centroids',
    version: '1.0.0',
    embedderId: emb.id,
    note: 'Per-category means of the default static embeddings of BeaverTails (30k_train) unsafe prompts that carry exactly one category; the prompts themselves (CC-BY-NC-4.0, PKU-Alignment) are not shipped. Mean cosine similarity of a unit vector to a category = dot product with its centroid (Cossim).',
    categories: single.categories,
    counts: Array.from(single.counts),
    dim: single.dim,
    centroids: single.categories.map((_, c) => Array.from(single.centroids.subarray(c * single.dim, (c + 1) * single.dim), (v) => Number(v.toPrecision(7)))),
  };
}

export async function trainShippedDetectors(shared: string, o: { promptOnly?: boolean } = {}) {
  const d = join(shared, 'data');
  const emb = await createDefaultEmbedder({ cacheDir: EMBED_CACHE });
  const corpus = await loadDetectorCorpus(d);
  log(
    `prompt corpus: ${corpus.prompts.length} prompts after deduplication (removed ${corpus.removed.exact} exact copies, ${corpus.removed.near} near copies of held-out prompts, ${corpus.removed.conflicts} with conflicting labels)`,
  );
  const prompt = await trainPromptDetector(corpus.prompts, emb.table, {
    ...PROMPT_DETECTOR_DEFAULTS,
    embedderId: emb.id,
    version: PROMPT_DETECTOR_VERSION,
    log,
    onEpoch: (e) =>
      log(
        `prompt detector epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, validation loss ${e.validationLoss?.toFixed(4)} (${e.seconds.toFixed(0)} s)`,
      ),
  });
  const det = new SeqDetector(prompt);
  const { blend, top1 } = await chooseReferenceBlend(det, emb, corpus.prompts);
  await det.dispose();
  prompt.referenceBlend = blend;
  log(`reference blend ${blend} (validation top-1 by blend weight 0…1: ${top1.map((v) => v.toFixed(3)).join(' ')})`);
  if (o.promptOnly) return { prompt, refusal: null, centroids: null };
  const replies = await loadRefusalCorpus(d, { testModel: null });
  const refusal = await trainRefusalDetector(replies, emb.table, {
    ...REFUSAL_DETECTOR_DEFAULTS,
    embedderId: emb.id,
    version: REFUSAL_DETECTOR_VERSION,
    onEpoch: (e) =>
      log(
        `refusal detector epoch ${e.epoch}: train loss ${e.trainLoss.toFixed(4)}, validation loss ${e.validationLoss?.toFixed(4)} (${e.seconds.toFixed(0)} s)`,
      ),
  });
  const centroids = await referenceCentroids(d, emb);
  return { prompt, refusal, centroids };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const shared = sharedDir();
  if (!shared) {
    console.error('../shared is not present: cannot train the detectors');
    process.exit(1);
  }
  const t0 = performance.now();
  const { prompt, refusal, centroids } = await trainShippedDetectors(shared, { promptOnly: process.argv.includes('--prompt-only') });
  const files: Array<[string, unknown]> = [
    [join(repoRoot, 'resources', 'taxonomy', 'prompt-detector.v2.json'), prompt],
    [join(repoRoot, 'resources', 'refusal-phrases', 'refusal-detector.v2.json'), refusal],
    [join(repoRoot, 'resources', 'taxonomy', 'reference-centroids.v1.json'), centroids],
  ];
  for (const [f, json] of files) {
    if (json === null) continue;
    writeFileSync(f, JSON.stringify(json) + '\n');
    log(`wrote ${f}`);
  }
  log(`done in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
}
