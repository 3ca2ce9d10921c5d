/**
 * Trains the shipped detector weights from the shared labelled data (run: npx tsx bench/select/train-detectors.ts):
 *  - resources/refusal-phrases/refusal-classifier.v1.json: XSTest completions of GPT-4 + Mistral-Instruct
 *  - resources/taxonomy/prompt-harm-classifier.v1.json: harmful vs benign prompts (see labelled-data.ts)
 *  - resources/taxonomy/reference-centroids.v1.json: Cossim's per-category reference centroids
 * with the default static embedder. Deterministic: rerunning gives the same files.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { embedReferences, loadReferencePrompts, singleCategoryOnly } from '../../src/main/detect/categories';
import { trainPromptHarmClassifier, trainRefusalClassifier } from '../../src/main/detect/classifiers';
import { loadPromptHarmExamples, loadXstestCompletions } from '../../src/main/detect/labelled-data';
import { createDefaultEmbedder } from '../../src/main/embed/static-vectors';
import { sharedDir, repoRoot } from '../../test/helpers/shared';

export const REFUSAL_L2 = 1e-2;
export const HARM_L2 = 1e-3;

export async function trainShippedDetectors(shared: string, cacheDir: string) {
  const emb = await createDefaultEmbedder({ cacheDir });
  const d = join(shared, 'data');
  const gpt4 = await loadXstestCompletions(join(d, 'refusal-labels', 'xstest_completions_gpt4.csv'), 'gpt4');
  const mistral = await loadXstestCompletions(join(d, 'refusal-labels', 'xstest_completions_mistralinstruct.csv'), 'mistralinstruct');
  const refusal = await trainRefusalClassifier(emb, [...gpt4, ...mistral], {
    l2: REFUSAL_L2,
    trainedOn: ['xstest_completions_gpt4.csv (450)', 'xstest_completions_mistralinstruct.csv (450)'],
    note: 'Labels: XSTest human final_label; 2_full_refusal and 3_partial_refusal = refusal. Features: default static embedding of the first 48 words + phrase-rule flags.',
  });
  const harmEx = await loadPromptHarmExamples(d);
  const harm = await trainPromptHarmClassifier(emb, harmEx, {
    l2: HARM_L2,
    trainedOn: [...new Set(harmEx.map((e) => e.source.replace(/:.*/, '')))].map((s) => `${s} (${harmEx.filter((e) => e.source.replace(/:.*/, '') === s).length})`),
    note: 'Harmful: AdvBench, Safety-Tuned LLaMAs malicious/CoNa/controversial/physical-unsafe, XSTest unsafe contrast, BeaverTails unsafe prompts (40 per category). Benign: XSTest safe, physical-safe, Alpaca, GSM8K.',
  });
  // Cossim's per-category reference centroids (BeaverTails single-category prompts), so Cossim
  // works without the reference files. Only means of embeddings are shipped, no text.
  const single = await embedReferences(singleCategoryOnly(await loadReferencePrompts(join(d, 'reference', 'beavertails-unsafe-prompts'))), emb);
  const centroids = {
    id: 'safetune-beavertails-reference-centroids',
    version: '1.0.0',
    embedderId: emb.id,
    note: 'Per-category means of the default static embeddings of BeaverTails (30k_train) unsafe prompts that carry exactly one category; the prompts themselves (CC-BY-NC-4.0, PKU-Alignment) are not shipped. Mean cosine similarity of a unit vector to a category = dot product with its centroid (Cossim).',
    categories: single.categories,
    counts: Array.from(single.counts),
    dim: single.dim,
    centroids: single.categories.map((_, c) => Array.from(single.centroids.subarray(c * single.dim, (c + 1) * single.dim), (v) => Number(v.toPrecision(7)))),
  };
  return { refusal, harm, centroids };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const shared = sharedDir();
  if (!shared) {
    console.error('../shared is not present: cannot train the detectors');
    process.exit(1);
  }
  const { refusal, harm, centroids } = await trainShippedDetectors(shared, join(repoRoot, 'bench', '.cache', 'embed'));
  const out3 = join(repoRoot, 'resources', 'taxonomy', 'reference-centroids.v1.json');
  writeFileSync(out3, JSON.stringify(centroids) + '\n');
  const out1 = join(repoRoot, 'resources', 'refusal-phrases', 'refusal-classifier.v1.json');
  const out2 = join(repoRoot, 'resources', 'taxonomy', 'prompt-harm-classifier.v1.json');
  writeFileSync(out1, JSON.stringify(refusal.file, null, 1) + '\n');
  writeFileSync(out2, JSON.stringify(harm.file, null, 1) + '\n');
  console.log(`wrote ${out1}\nwrote ${out2}\nwrote ${out3}`);
}
