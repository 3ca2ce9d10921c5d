/**
 * Training of the shipped sequence detectors from the labelled corpora (labelledData.ts), with
 * calibration and thresholds fitted on the validation split only:
 *  - the prompt detector: "harmful" (scored per token, soft maximum) + the 14 BeaverTails
 *    categories (pooled), trained on original and rephrased prompts (augment.ts) with the harm loss
 *    balanced over (harmful × phrasing) cells, benign prompts with harm key words (the hard
 *    negatives) weighted up and BeaverTails' noisy harm labels down, and the category loss on
 *    BeaverTails rows only;
 *  - the refusal detector: "refusal" over a reply's head with the phrase-rule flags.
 * bench/detect/train.ts runs these on ../shared and writes the resource files.
 */
import { getHarmTaxonomy } from '../data/taxonomy';
import type { StaticVectorTable } from '../embed/staticVectors';
import { Rng } from '../engine/train/rng';
import { phrasing, rephrase } from './augment';
import { chooseThreshold, fitPlatt, type Platt } from './calibration';
import { refusalExtraFeatureNames } from './classifiers';
import type { CorpusPrompt, CorpusResponse } from './labelledData';
import { SeqNetRunner, type SeqNetConfig } from './seqnet';
import { type SeqDetectorFile, assignCategories, encodeParams, refusalInputs } from './seqDetector';
import { type SeqExample, type SeqNetTrainOptions, trainSeqNet } from './seqnetTrain';
import { meanVectorNormInverse, tableId, tokenIds } from './wordseq';
import { wordTokens } from '../embed/staticVectors';

/** What training either shipped detector takes: the network's shape, the optimiser, input length, the id it is stored under. */
interface DetectorTrainingOptions {
  config: Omit<SeqNetConfig, 'inputChannels' | 'outputs' | 'extraFeatures' | 'tokenOutputs'>;
  train: Omit<SeqNetTrainOptions, 'validation' | 'onEpoch'>;
  maxTokens: number;
  embedderId: string;
  version: string;
  onEpoch?: SeqNetTrainOptions['onEpoch'];
}

export interface PromptDetectorOptions extends DetectorTrainingOptions {
  /** Share of training prompts given one rephrased copy. */
  rephraseShare: number;
  /** Weight of the category loss (per category) relative to the harm loss. */
  categoryWeight: number;
  /**
   * Harm-loss weight multiplier of the hard negatives: benign training prompts that contain one of
   * the harm key words (harmKeyWords), such as Alpaca's "kill the process" or "shoot a photo".
   */
  hardNegativeWeight: number;
  /** Harm-loss weight multiplier of the BeaverTails prompts (their harm labels are noisy: a prompt is listed when a reply to it was unsafe). */
  beavertailsHarmWeight: number;
  /** "harmful" scored per token with a soft maximum (one harmful span decides), or from the pooled vector like the categories. */
  harmScoring: 'token' | 'pooled';
  log?: (line: string) => void;
}

export const PROMPT_DETECTOR_DEFAULTS: Omit<PromptDetectorOptions, 'embedderId' | 'version'> = {
  config: { kernel: 3, layers: 2, attention: 0, hidden: 128, poolHeads: 4, prefixTokens: 0, mlpHidden: 0 },
  train: { epochs: 8, batchSize: 64, lr: 2e-3, weightDecay: 1e-4, seed: 1, dropout: 0.2, wordDropout: 0.1, threads: 1 },
  maxTokens: 64,
  rephraseShare: 1,
  categoryWeight: 1,
  // chosen on the held-out table (bench/RESULTS.md, "Detectors v3: candidate recipes"; 2.0.0 had 1 and 1)
  hardNegativeWeight: 3,
  beavertailsHarmWeight: 0.3,
  harmScoring: 'token',
};

/** Training prompts plus rephrased copies (same labels), deterministic for the seed. */
export function withRephrasings(rows: readonly CorpusPrompt[], share: number, seed: number): CorpusPrompt[] {
  const rng = new Rng(seed ^ 0xa5a5);
  const out = rows.slice();
  for (const p of rows) {
    if (rng.next() >= share) continue;
    const r = rephrase(p.text, rng);
    if (r) out.push({ ...p, text: r, source: `${p.source}+rephrased` });
  }
  return out;
}

/** Harm-loss weights: every (harmful × phrasing) cell weighs the same in total. */
export function cellWeights(rows: readonly CorpusPrompt[]): number[] {
  const cell = (p: CorpusPrompt) => `${p.harmful ? 'h' : 'b'}:${phrasing(p.text)}`;
  const n = new Map<string, number>();
  for (const p of rows) n.set(cell(p), (n.get(cell(p)) ?? 0) + 1);
  return rows.map((p) => rows.length / (n.size * n.get(cell(p))!));
}

/**
 * The words the harmful class is keyed on: in at least `minCount` harmful prompts and at least
 * `ratio` times as common (share of prompts) among harmful prompts as among benign ones.
 */
export function harmKeyWords(rows: readonly CorpusPrompt[], ratio = 8, minCount = 20): Set<string> {
  const count = (harmful: boolean) => {
    const m = new Map<string, number>();
    for (const p of rows) if (p.harmful === harmful) for (const w of new Set(wordTokens(p.text))) m.set(w, (m.get(w) ?? 0) + 1);
    return m;
  };
  const h = count(true);
  const b = count(false);
  const nh = Math.max(1, rows.filter((p) => p.harmful).length);
  const nb = Math.max(1, rows.length - nh);
  const out = new Set<string>();
  for (const [w, c] of h) if (c >= minCount && c / nh >= (ratio * ((b.get(w) ?? 0) + 1)) / nb) out.add(w);
  return out;
}

/**
 * cellWeights with benign prompts that contain a harm key word weighted `hardNegativeWeight` times
 * more and BeaverTails prompts (and their rephrasings) `beavertailsHarmWeight` times.
 */
export function harmWeights(
  rows: readonly CorpusPrompt[],
  o: Pick<PromptDetectorOptions, 'hardNegativeWeight' | 'beavertailsHarmWeight'>,
  keyWords: ReadonlySet<string>,
): number[] {
  return cellWeights(rows).map((w, i) => {
    const p = rows[i]!;
    if (p.source.startsWith('beavertails')) return w * o.beavertailsHarmWeight;
    if (!p.harmful && o.hardNegativeWeight !== 1 && wordTokens(p.text).some((t) => keyWords.has(t))) return w * o.hardNegativeWeight;
    return w;
  });
}

function promptExamples(
  rows: readonly CorpusPrompt[],
  table: StaticVectorTable,
  maxTokens: number,
  categoryWeight: number,
  harmWeights?: number[],
): SeqExample[] {
  const C = getHarmTaxonomy().categories.length;
  return rows.map((p, i) => {
    const y = new Float32Array(1 + C);
    const w = new Float32Array(1 + C);
    y[0] = p.harmful ? 1 : 0;
    w[0] = harmWeights ? harmWeights[i]! : 1;
    if (p.categories !== null) {
      for (let c = 0; c < C; c++) {
        y[1 + c] = (p.categories >> c) & 1;
        w[1 + c] = categoryWeight;
      }
    }
    return { ids: tokenIds(table, p.text, maxTokens), y, w };
  });
}

/** Train, calibrate and package the prompt detector. Validation rows choose the epoch, the Platt scalings and the thresholds. */
export async function trainPromptDetector(corpus: readonly CorpusPrompt[], table: StaticVectorTable, o: PromptDetectorOptions): Promise<SeqDetectorFile> {
  const cats = getHarmTaxonomy().ids;
  const C = cats.length;
  const cfg: SeqNetConfig = {
    ...o.config,
    inputChannels: table.dimension + 1,
    outputs: ['harmful', ...cats],
    extraFeatures: 0,
    tokenOutputs: o.harmScoring === 'token' ? 1 : 0,
  };
  const inputScale = meanVectorNormInverse(table);
  const train = withRephrasings(
    corpus.filter((p) => p.split === 'train'),
    o.rephraseShare,
    o.train.seed,
  );
  const val = corpus.filter((p) => p.split === 'validation');
  const keyWords = harmKeyWords(train);
  const weights = harmWeights(train, o, keyWords);
  const hard = train.filter((p) => !p.harmful && !p.source.startsWith('beavertails') && wordTokens(p.text).some((t) => keyWords.has(t))).length;
  o.log?.(
    `prompt detector: ${train.length} training prompts (with rephrasings), ${val.length} validation; ${keyWords.size} harm key words, ${hard} hard negatives weighted ×${o.hardNegativeWeight}, BeaverTails harm ×${o.beavertailsHarmWeight}`,
  );
  const res = await trainSeqNet(cfg, table, inputScale, promptExamples(train, table, o.maxTokens, o.categoryWeight, weights), {
    ...o.train,
    validation: promptExamples(val, table, o.maxTokens, o.categoryWeight, cellWeights(val)),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
  });
  const runner = await SeqNetRunner.create(cfg, res.params, table, inputScale, o.train.threads);
  let z: Float32Array;
  try {
    z = await runner.logits(val.map((p) => tokenIds(table, p.text, o.maxTokens)));
  } finally {
    await runner.release();
  }
  const O = 1 + C;
  const harmZ = val.map((_, i) => z[i * O]!);
  const harmPlatt = fitPlatt(
    harmZ,
    val.map((p) => p.harmful),
    { balance: true },
  );
  const threshold = chooseThreshold(
    harmZ.map((v) => sigmoidPlatt(harmPlatt, v)),
    val.map((p) => p.harmful),
    'balanced',
  );
  const calibration: Record<string, Platt> = { harmful: harmPlatt };
  const labelled = val.map((p, i) => [p, i] as const).filter(([p]) => p.categories !== null);
  for (let c = 0; c < C; c++) {
    const y = labelled.map(([p]) => (p.categories! >> c) & 1);
    calibration[cats[c]!] =
      y.some((v) => v) && y.some((v) => !v)
        ? fitPlatt(
            labelled.map(([, i]) => z[i * O + 1 + c]!),
            y,
          )
        : { a: 1, b: 0 };
  }
  const catProbs = labelled.map(([, i]) => cats.map((id, c) => sigmoidPlatt(calibration[id]!, z[i * O + 1 + c]!)));
  const categoryThreshold = bestCategoryThreshold(
    catProbs,
    labelled.map(([p]) => p.categories!),
  );
  const sources = [...new Set(corpus.filter((p) => p.split !== 'test').map((p) => p.source))];
  return {
    id: 'safetune-prompt-detector',
    version: o.version,
    kind: 'prompt',
    vectors: tableId(table),
    embedderId: o.embedderId,
    inputScale,
    maxTokens: o.maxTokens,
    config: cfg,
    extraFeatures: [],
    params: encodeParams(res.params),
    calibration,
    threshold: round(threshold),
    categoryThreshold: round(categoryThreshold),
    trainedOn: sources.map(
      (s) =>
        `${s} (${corpus.filter((p) => p.source === s && p.split === 'train').length} train, ${corpus.filter((p) => p.source === s && p.split === 'validation').length} validation)`,
    ),
    note: `Epoch ${res.bestEpoch} of ${o.train.epochs} (lowest validation loss). Held out, never trained on: ${[...new Set(corpus.filter((p) => p.split === 'test').map((p) => p.source))].join(', ')} (test split).`,
  };
}

const round = (v: number) => Number(v.toFixed(6));
const sigmoidPlatt = (p: Platt, z: number) => 1 / (1 + Math.exp(-(p.a * z + p.b)));

/** The category threshold (0.05 … 0.95) with the best micro-F1 of assignCategories on labelled rows. */
function bestCategoryThreshold(probs: number[][], masks: number[]): number {
  let best = { f1: -1, t: 0.5 };
  for (let t = 0.05; t < 0.951; t += 0.05) {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    probs.forEach((row, i) => {
      const got = new Set(assignCategories(row, t));
      for (let c = 0; c < row.length; c++) {
        const truth = (masks[i]! >> c) & 1;
        if (got.has(c) && truth) tp++;
        else if (got.has(c)) fp++;
        else if (truth) fn++;
      }
    });
    const f1 = (2 * tp) / Math.max(1, 2 * tp + fp + fn);
    if (f1 > best.f1 + 1e-12) best = { f1, t };
  }
  return best.t;
}

export interface RefusalDetectorOptions extends DetectorTrainingOptions {
  /** Words of a reply read (its head). */
  headWords: number;
}

export const REFUSAL_DETECTOR_DEFAULTS: Omit<RefusalDetectorOptions, 'embedderId' | 'version'> = {
  config: { kernel: 3, layers: 2, attention: 0, hidden: 64, poolHeads: 2, prefixTokens: 8, mlpHidden: 0 },
  train: { epochs: 10, batchSize: 32, lr: 2e-3, weightDecay: 1e-4, seed: 1, dropout: 0.2, wordDropout: 0.1, threads: 2 },
  headWords: 48,
  maxTokens: 64,
};

export async function trainRefusalDetector(corpus: readonly CorpusResponse[], table: StaticVectorTable, o: RefusalDetectorOptions): Promise<SeqDetectorFile> {
  const names = refusalExtraFeatureNames();
  const cfg: SeqNetConfig = { ...o.config, inputChannels: table.dimension + 1, outputs: ['refusal'], extraFeatures: names.length, tokenOutputs: 0 };
  const inputScale = meanVectorNormInverse(table);
  const train = corpus.filter((r) => r.split === 'train');
  const val = corpus.filter((r) => r.split === 'validation');
  const pos = train.filter((r) => r.refusal).length;
  const balance = (r: CorpusResponse) => (r.refusal ? train.length / (2 * pos) : train.length / (2 * (train.length - pos)));
  const examples = (rows: readonly CorpusResponse[], weighted: boolean): SeqExample[] => {
    const inp = refusalInputs(
      table,
      rows.map((r) => r.response),
      o.headWords,
      o.maxTokens,
    );
    return rows.map((r, i) => ({ ids: inp.ids[i]!, extra: inp.extra[i]!, y: [r.refusal ? 1 : 0], w: [weighted ? r.weight * balance(r) : r.weight] }));
  };
  const res = await trainSeqNet(cfg, table, inputScale, examples(train, true), {
    ...o.train,
    validation: examples(val, false),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
  });
  // calibration and threshold on the human-labelled validation replies only
  const human = val.filter((r) => r.source.startsWith('xstest-'));
  const runner = await SeqNetRunner.create(cfg, res.params, table, inputScale, o.train.threads);
  let z: Float32Array;
  try {
    const inp = refusalInputs(
      table,
      human.map((r) => r.response),
      o.headWords,
      o.maxTokens,
    );
    z = await runner.logits(inp.ids, inp.extra);
  } finally {
    await runner.release();
  }
  const platt = fitPlatt(
    z,
    human.map((r) => r.refusal),
  );
  const threshold = chooseThreshold(
    Array.from(z, (v) => sigmoidPlatt(platt, v)),
    human.map((r) => r.refusal),
    'accuracy',
  );
  const sources = [...new Set(corpus.filter((r) => r.split !== 'test').map((r) => r.source))];
  return {
    id: 'safetune-refusal-detector',
    version: o.version,
    kind: 'refusal',
    vectors: tableId(table),
    embedderId: o.embedderId,
    inputScale,
    maxTokens: o.maxTokens,
    headWords: o.headWords,
    config: cfg,
    extraFeatures: names,
    params: encodeParams(res.params),
    calibration: { refusal: platt },
    threshold: round(threshold),
    trainedOn: sources.map(
      (s) =>
        `${s} (${corpus.filter((r) => r.source === s && r.split === 'train').length} train, ${corpus.filter((r) => r.source === s && r.split === 'validation').length} validation)`,
    ),
    note: `Epoch ${res.bestEpoch} of ${o.train.epochs} (lowest validation loss). Reads the first ${o.headWords} words of a reply (at most ${o.maxTokens} tokens) and the phrase-rule flags. Labels: XSTest human final_label (full or partial refusal = refusal).`,
  };
}
