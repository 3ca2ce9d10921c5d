/**
 * Harm-category inference for unlabelled pools.
 *
 * Without any files (detectCategories): the shipped prompt detector's 14 calibrated category
 * outputs (multi-label: the best category and every other at or above its validation-chosen
 * threshold). Given reference prompts, their kNN vote is blended in (weight chosen on validation).
 *
 * From reference prompts alone (inferCategories): multi-label nearest-category by embedding
 * similarity to per-category reference prompts (BeaverTails' unsafe prompts, one file per
 * category; a prompt listed in several files has several categories).
 *
 * Methods:
 *  - 'knn' (default): the k most similar reference prompts vote, each with its similarity, for
 *    every category it carries; score_c = similarity mass voting for c / total mass (0..1).
 *  - 'centroid': score_c = mean cosine similarity to category c's references (= dot with the
 *    unnormalised mean of its unit-length embeddings), the quantity Cossim uses.
 * A record gets its best category and (knn) every category scoring at least `minShare` of the
 * best, or (centroid) within `margin` of it: multi-label, with a score per category.
 */
import { readFile } from 'node:fs/promises';
import shippedCentroidsJson from '../../../resources/taxonomy/reference-centroids.v1.json';
import { join } from 'node:path';
import { getHarmTaxonomy } from '../data/taxonomy';
import { embedAll, type Embedder } from '../embed/types';
import { dotRowsMulti, matmulTopK, meanRows } from '../embed/vecmath';
import type { SeqDetector } from './seqDetector';

export interface ReferencePrompts {
  /** Canonical category ids (taxonomy order); index = category index below. */
  categories: string[];
  /** Unique prompts. */
  prompts: string[];
  /** For each prompt, a bitmask of its category indices (14 categories fit in 16 bits). */
  labels: Uint16Array;
}

/** Read the 14 BeaverTails reference files (one prompt a line) from a folder. */
export async function loadReferencePrompts(dir: string): Promise<ReferencePrompts> {
  const tax = getHarmTaxonomy();
  const byPrompt = new Map<string, number>();
  for (let c = 0; c < tax.categories.length; c++) {
    const text = await readFile(join(dir, tax.categories[c]!.referenceFile), 'utf8');
    for (const line of text.split('\n')) {
      const p = line.trim();
      if (!p) continue;
      byPrompt.set(p, (byPrompt.get(p) ?? 0) | (1 << c));
    }
  }
  return { categories: [...tax.ids], prompts: [...byPrompt.keys()], labels: Uint16Array.from(byPrompt.values()) };
}

/** Only the prompts with exactly one category (what Cossim's reference sets use). */
export function singleCategoryOnly(refs: ReferencePrompts): ReferencePrompts {
  const keep: number[] = [];
  refs.labels.forEach((m, i) => {
    if (m && (m & (m - 1)) === 0) keep.push(i);
  });
  return { categories: refs.categories, prompts: keep.map((i) => refs.prompts[i]!), labels: Uint16Array.from(keep.map((i) => refs.labels[i]!)) };
}

export interface EmbeddedReferences extends ReferencePrompts {
  embedderId: string;
  dim: number;
  /** prompts.length × dim, unit rows. */
  embeddings: Float32Array;
  /** categories.length × dim: unnormalised mean of each category's reference embeddings. */
  centroids: Float32Array;
  /** Reference count per category. */
  counts: Int32Array;
}

export async function embedReferences(
  refs: ReferencePrompts,
  embedder: Embedder,
  onProgress?: (done: number, total: number) => void,
): Promise<EmbeddedReferences> {
  const embeddings = await embedAll(embedder, refs.prompts, onProgress ? { onProgress } : {});
  return withCentroids({ ...refs, embedderId: embedder.id, dim: embedder.dimension, embeddings });
}

/** Build references from already-computed embeddings (e.g. from the embedding cache). */
export function withCentroids(r: ReferencePrompts & { embedderId: string; dim: number; embeddings: Float32Array }): EmbeddedReferences {
  const C = r.categories.length;
  const centroids = new Float32Array(C * r.dim);
  const counts = new Int32Array(C);
  for (let c = 0; c < C; c++) {
    const idx: number[] = [];
    r.labels.forEach((m, i) => {
      if (m & (1 << c)) idx.push(i);
    });
    counts[c] = idx.length;
    centroids.set(meanRows(r.embeddings, r.dim, idx), c * r.dim);
  }
  return { ...r, centroids, counts };
}

export interface CategoryInference {
  categories: string[];
  /** n × categories.length scores (knn: vote share 0..1; centroid: mean cosine; model: calibrated probability; model+knn: their blend). */
  scores: Float32Array;
  /** Assigned categories per record (best first). */
  labels: string[][];
  method: 'knn' | 'centroid' | 'model' | 'model+knn';
}

export interface InferOptions {
  method?: 'knn' | 'centroid';
  /** Neighbours for knn (default 15). */
  k?: number;
  /** knn: keep categories scoring at least this share of the record's best score (default 0.6). */
  minShare?: number;
  /** centroid: keep categories within this much mean cosine of the best (default 0.01). */
  margin?: number;
  backend?: 'auto' | 'onnxruntime' | 'js';
  /**
   * knn: divide each category's vote by (its share of the references)^alpha, so categories that
   * dominate the references (violence: a quarter of BeaverTails) win fewer ties; 0 (default) is
   * plain kNN. 0.3 gave small categories several times more members on the real safety pool for
   * ~1 point less micro-F1 on held-out BeaverTails prompts (bench/RESULTS.md).
   */
  priorCorrection?: number;
}

/** Infer categories for n embedded texts (n × dim, unit rows, same embedder as the references). */
export async function inferCategories(emb: Float32Array, refs: EmbeddedReferences, options: InferOptions = {}): Promise<CategoryInference> {
  const method = options.method ?? 'knn';
  const C = refs.categories.length;
  const d = refs.dim;
  const n = emb.length / d;
  let scores: Float32Array;
  if (method === 'centroid') {
    scores = dotRowsMulti(emb, d, refs.centroids);
  } else {
    const k = options.k ?? 15;
    const top = await matmulTopK(emb, refs.embeddings, d, k, options.backend ? { backend: options.backend } : {});
    const alpha = options.priorCorrection ?? 0;
    const R = refs.prompts.length || 1;
    const priorPow = Array.from(refs.counts, (cnt) => Math.pow(Math.max(cnt, 1) / R, alpha));
    scores = new Float32Array(n * C);
    for (let i = 0; i < n; i++) {
      let mass = 0;
      for (let t = 0; t < top.k; t++) {
        const s = Math.max(0, top.values[i * top.k + t]!);
        const lab = refs.labels[top.indices[i * top.k + t]!]!;
        mass += s;
        for (let c = 0; c < C; c++) if (lab & (1 << c)) scores[i * C + c]! += s;
      }
      if (mass > 0) for (let c = 0; c < C; c++) scores[i * C + c]! /= mass;
      if (alpha > 0) {
        let before = 0;
        let after = 0;
        for (let c = 0; c < C; c++) {
          before += scores[i * C + c]!;
          scores[i * C + c]! /= priorPow[c]!;
          after += scores[i * C + c]!;
        }
        if (after > 0) for (let c = 0; c < C; c++) scores[i * C + c]! *= before / after;
      }
    }
  }
  const minShare = options.minShare ?? 0.6;
  const margin = options.margin ?? 0.01;
  const labels: string[][] = [];
  for (let i = 0; i < n; i++) {
    const row = scores.subarray(i * C, (i + 1) * C);
    let best = -Infinity;
    for (let c = 0; c < C; c++) best = Math.max(best, row[c]!);
    const order = [...row.keys()].sort((a, b) => row[b]! - row[a]!);
    const keep = order.filter((c, rank) => rank === 0 || (method === 'knn' ? best > 0 && row[c]! >= minShare * best : row[c]! >= best - margin));
    labels.push(keep.map((c) => refs.categories[c]!));
  }
  return { categories: refs.categories, scores, labels, method };
}

/**
 * Cossim's reference for a pool: per-category centroids aligned with the pool's category order
 * (categories missing from the references get a zero centroid, i.e. score 0).
 */
export function cossimCategoryReference(refs: EmbeddedReferences, poolCategories: readonly string[]): { kind: 'categories'; centroids: Float32Array } {
  const centroids = new Float32Array(poolCategories.length * refs.dim);
  poolCategories.forEach((id, k) => {
    const c = refs.categories.indexOf(id);
    if (c >= 0) centroids.set(refs.centroids.subarray(c * refs.dim, (c + 1) * refs.dim), k * refs.dim);
  });
  return { kind: 'categories', centroids };
}

/**
 * Cossim's category reference without the BeaverTails files: the shipped per-category centroids
 * (resources/taxonomy/reference-centroids.v1.json, default static embedder only), aligned with the
 * pool's category order.
 */
export function shippedCossimReference(embedderId: string, poolCategories: readonly string[]): { kind: 'categories'; centroids: Float32Array } {
  const f = shippedCentroidsJson as { embedderId: string; categories: string[]; counts: number[]; dim: number; centroids: number[][] };
  if (f.embedderId !== embedderId) {
    throw new Error(
      `the shipped reference centroids are for embedder "${f.embedderId}", not "${embedderId}": embed the BeaverTails reference prompts with this embedder instead`,
    );
  }
  const dim = f.dim;
  const refs = {
    categories: f.categories,
    prompts: [],
    labels: new Uint16Array(0),
    embedderId: f.embedderId,
    dim,
    embeddings: new Float32Array(0),
    centroids: Float32Array.from(f.centroids.flat()),
    counts: Int32Array.from(f.counts),
  };
  return cossimCategoryReference(refs, poolCategories);
}

export interface DetectCategoriesOptions {
  /** The default static embedder (the detector's word vectors). */
  embedder: Embedder;
  /** Default: the shipped prompt detector. */
  detector?: SeqDetector;
  /** Reference prompts to blend in (embedded with `referenceEmbedder`). */
  references?: EmbeddedReferences;
  /** The embedder the references were embedded with (default `embedder`). */
  referenceEmbedder?: Embedder;
  /** The prompts' embeddings by the reference embedder, when already computed (n × dim). */
  promptEmbeddings?: Float32Array;
  /** Weight of the kNN vote share in the blend (default: the detector's validation-chosen referenceBlend). */
  blend?: number;
  /** kNN options for the references (default k = 15). */
  knn?: InferOptions;
}

/**
 * Harm categories of prompts from the prompt detector, refined by reference prompts when given:
 * score_c = (1 − blend) · P_model(c) + blend · knnShare(c). Labels: the best category, then every
 * other scoring at least the detector's category threshold.
 */
export async function detectCategories(prompts: readonly string[], o: DetectCategoriesOptions): Promise<CategoryInference> {
  const { shippedPromptDetector, promptJudgements } = await import('./behaviour');
  const { assignCategories } = await import('./seqDetector');
  const det = o.detector ?? shippedPromptDetector();
  const cats = getHarmTaxonomy().ids;
  const C = cats.length;
  const judged = await promptJudgements(det, o.embedder, prompts);
  const scores = new Float32Array(prompts.length * C);
  judged.forEach((j, i) => cats.forEach((c, k) => (scores[i * C + k] = j.categoryScores[c]!)));
  let method: CategoryInference['method'] = 'model';
  if (o.references) {
    const re = o.referenceEmbedder ?? o.embedder;
    if (o.references.embedderId !== re.id) throw new Error(`references were embedded with "${o.references.embedderId}", not "${re.id}"`);
    if (o.references.categories.join('|') !== cats.join('|')) throw new Error('references: their categories are not the taxonomy categories in taxonomy order');
    const emb = o.promptEmbeddings ?? (await embedAll(re, prompts));
    const knn = await inferCategories(emb, o.references, { k: 15, ...o.knn, method: 'knn' });
    const w = o.blend ?? det.file.referenceBlend ?? 0.5;
    for (let i = 0; i < scores.length; i++) scores[i] = (1 - w) * scores[i]! + w * knn.scores[i]!;
    method = 'model+knn';
  }
  const t = det.file.categoryThreshold ?? 0.5;
  const labels = prompts.map((_, i) => assignCategories(scores.subarray(i * C, (i + 1) * C), t).map((k) => cats[k]!));
  return { categories: [...cats], scores, labels, method };
}
