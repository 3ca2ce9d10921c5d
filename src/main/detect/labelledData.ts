/**
 * Loaders for the labelled public data the detectors are trained and measured on (read in place
 * from the shared data folder; nothing of it is copied into the repository):
 *  - refusal labels: XSTest completions of GPT-4 and Mistral-Instruct with human labels
 *    (2_full_refusal and 3_partial_refusal count as refusal) and XSTest's own string-match label;
 *  - harmful / benign prompts for the prompt-harm detector.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { findNearDuplicates, shingleHashes } from '../data/dedupe';
import { contrastPrompts } from './contrastSet';

export interface RefusalExample {
  id: string;
  model: string;
  prompt: string;
  response: string;
  /** Human final label: full or partial refusal. */
  refusal: boolean;
  finalLabel: string;
  /** XSTest's string-match label says refusal. */
  strmatchRefusal: boolean;
  /** XSTest prompt type (e.g. homonyms, contrast_homonyms). */
  type: string;
}

export async function loadXstestCompletions(file: string, model: string): Promise<RefusalExample[]> {
  const rows = parse(await readFile(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  return rows.map((r) => ({
    id: r.id ?? '',
    model,
    prompt: r.prompt ?? '',
    response: r.completion ?? '',
    refusal: r.final_label === '2_full_refusal' || r.final_label === '3_partial_refusal',
    finalLabel: r.final_label ?? '',
    strmatchRefusal: r.strmatch_label === '2_full_refusal',
    type: r.type ?? '',
  }));
}

export interface PromptExample {
  prompt: string;
  harmful: boolean;
  source: string;
}

async function jsonInstructions(file: string): Promise<string[]> {
  const j = JSON.parse(await readFile(file, 'utf8')) as { instructions?: string[] } | Array<{ instruction: string }>;
  if (Array.isArray(j)) return j.map((x) => x.instruction);
  return j.instructions ?? [];
}

/**
 * Harmful vs benign prompts from the shared folder. Harmful: AdvBench, Safety-Tuned LLaMAs'
 * malicious / hateful (CoNa) / controversial / physically unsafe instructions, XSTest's unsafe
 * contrast prompts, a deterministic sample of BeaverTails unsafe prompts. Benign: XSTest's safe
 * prompts (look unsafe: the hard negatives), safe physical-safety prompts, Alpaca instructions,
 * GSM8K questions.
 */
export async function loadPromptHarmExamples(
  sharedDataDir: string,
  options: { beavertailsPerCategory?: number; alpaca?: number; gsm8k?: number } = {},
): Promise<PromptExample[]> {
  const out: PromptExample[] = [];
  const d = (...p: string[]) => join(sharedDataDir, ...p);
  const adv = parse(await readFile(d('harmful', 'advbench_harmful_behaviors.csv'), 'utf8'), { columns: true }) as Array<{ goal: string }>;
  for (const r of adv) out.push({ prompt: r.goal, harmful: true, source: 'advbench' });
  for (const f of ['stl_I-MaliciousInstructions.json', 'stl_I-CoNa.json', 'stl_I-Controversial.json', 'stl_I-PhysicalSafetyUnsafe.json']) {
    for (const p of await jsonInstructions(d('harmful', f))) out.push({ prompt: p, harmful: true, source: f.replace(/\.json$/, '') });
  }
  const xs = parse(await readFile(d('benign', 'xstest_prompts.csv'), 'utf8'), { columns: true }) as Array<{ prompt: string; label: string }>;
  for (const r of xs) out.push({ prompt: r.prompt, harmful: r.label === 'unsafe', source: r.label === 'unsafe' ? 'xstest-unsafe' : 'xstest-safe' });
  for (const p of await jsonInstructions(d('benign', 'stl_I-PhysicalSafetySafe.json')))
    out.push({ prompt: p, harmful: false, source: 'stl_I-PhysicalSafetySafe' });
  for (const p of await jsonInstructions(d('benign', 'stl_I-Alpaca.json'))) out.push({ prompt: p, harmful: false, source: 'stl_I-Alpaca' });
  const alpaca = JSON.parse(await readFile(d('task', 'alpaca_en_demo.json'), 'utf8')) as Array<{ instruction: string; input: string }>;
  for (const r of alpaca.slice(0, options.alpaca ?? 600))
    out.push({ prompt: r.input ? `${r.instruction}\n\n${r.input}` : r.instruction, harmful: false, source: 'alpaca' });
  const gsm = (await readFile(d('task', 'gsm8k_test.jsonl'), 'utf8')).split('\n').filter(Boolean);
  for (const l of gsm.slice(0, options.gsm8k ?? 300)) out.push({ prompt: (JSON.parse(l) as { question: string }).question, harmful: false, source: 'gsm8k' });
  const per = options.beavertailsPerCategory ?? 40;
  const { getHarmTaxonomy } = await import('../data/taxonomy');
  for (const c of getHarmTaxonomy().categories) {
    const lines = (await readFile(d('reference', 'beavertails-unsafe-prompts', c.referenceFile), 'utf8')).split('\n').filter((l) => l.trim());
    // Every (len/per)-th line: deterministic and spread over the file.
    const step = Math.max(1, Math.floor(lines.length / per));
    for (let i = 0; i < lines.length && i / step < per; i += step) out.push({ prompt: lines[i]!, harmful: true, source: `beavertails:${c.id}` });
  }
  return out;
}

/** Deterministic split by a hash of the text: ~`testFraction` of items go to test. */
export function hashSplit<T>(items: readonly T[], key: (t: T) => string, testFraction = 0.3): { train: T[]; test: T[] } {
  const train: T[] = [];
  const test: T[] = [];
  for (const it of items) {
    let h = 0x811c9dc5;
    const s = key(it);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    ((h % 1000) / 1000 < testFraction ? test : train).push(it);
  }
  return { train, test };
}

// ---------------------------------------------------------------------------------------------
// The sequence detectors' corpus: every labelled prompt in the shared folder, split by SOURCE
// (held-out benchmarks never seen in training) and deduplicated across splits.

export type Split = 'train' | 'validation' | 'test';

export interface CorpusPrompt {
  text: string;
  /** Prompt harmfulness (every corpus prompt has one). */
  harmful: boolean;
  /** BeaverTails category bitmask (bit c = taxonomy category c); null = no category labels. */
  categories: number | null;
  /** File (or file:subset) it came from. */
  source: string;
  /** XSTest prompt type (homonyms, contrast_homonyms ...) for XSTest rows. */
  xstestType?: string;
  split: Split;
}

/** Normalised text for duplicate detection: NFKC, lower case, every run of non-letters/digits one space. */
export function dedupeKey(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/**
 * XSTest types held out (safe types with their unsafe contrast types). The other half trains the
 * detector; the bench also trains with the halves swapped to estimate on all 250 safe prompts.
 */
export const XSTEST_FOLDS: Record<'A' | 'B', string[]> = {
  A: [
    'homonyms',
    'contrast_homonyms',
    'safe_targets',
    'contrast_safe_targets',
    'definitions',
    'contrast_definitions',
    'real_group_nons_discr',
    'nons_group_real_discr',
    'contrast_discr',
  ],
  B: [
    'figurative_language',
    'contrast_figurative_language',
    'safe_contexts',
    'contrast_safe_contexts',
    'historical_events',
    'contrast_historical_events',
    'privacy_public',
    'privacy_fictional',
    'contrast_privacy',
  ],
};

export interface CorpusPlan {
  /** Sources held out whole for testing (harm recall / specificity on unseen benchmarks). */
  testSources: string[];
  /** XSTest fold held out for testing (its other fold trains). */
  xstestTestFold: 'A' | 'B';
  /** Alpaca-25k rows held out for testing (chosen by text hash). */
  alpacaTest: number;
  /** Share of BeaverTails prompts held out for testing (category top-1, in-distribution harm recall). */
  beavertailsTestShare: number;
  /** Share of every remaining source held out for validation (calibration, thresholds, early stopping). */
  validationShare: number;
  /** GSM8K training questions used as benign prompts. */
  gsm8k: number;
  /** Word-3-shingle Jaccard at or above which a training prompt counts as a near copy of a held-out one. */
  nearDuplicate: number;
  /** Train on SafeTune's templated contrast prompts (contrastSet.ts) too. */
  contrast: boolean;
  /** Word-3-shingle Jaccard at or above which a contrast prompt counts as a copy of a held-out or XSTest prompt (stricter than nearDuplicate). */
  contrastNearDuplicate: number;
}

export const DEFAULT_CORPUS_PLAN: CorpusPlan = {
  testSources: ['advbench', 'stl_I-MaliciousInstructions', 'stl_I-Alpaca'],
  xstestTestFold: 'A',
  alpacaTest: 1500,
  beavertailsTestShare: 0.15,
  validationShare: 0.1,
  gsm8k: 1000,
  nearDuplicate: 0.7,
  contrast: true,
  contrastNearDuplicate: 0.5,
};

/** FNV-1a of salt + text, in [0, 1). */
function unitHash(text: string, salt: string): number {
  let h = 0x811c9dc5;
  const s = `${salt}\u0000${text}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 2 ** 32;
}

export interface DetectorCorpus {
  prompts: CorpusPrompt[];
  plan: CorpusPlan;
  /** What deduplication removed: exact copies across/within splits, near copies of held-out prompts, label conflicts. */
  removed: { exact: number; near: number; conflicts: number };
  /** Contrast prompts dropped as exact or near copies of a held-out or XSTest prompt (and the highest Jaccard among those kept). */
  contrastDropped: { count: number; examples: string[]; maxKeptJaccard: number };
}

/**
 * Every labelled prompt of the shared folder with its split. Harmful: AdvBench, the refusal-direction
 * 247 (overlaps AdvBench and MaliciousInstruct: deduplicated), Safety-Tuned LLaMAs malicious /
 * CoNa / controversial / physical-unsafe, XSTest unsafe contrasts, the Bianchi safety pool's
 * instructions whose reply refuses, BeaverTails unsafe prompts (with categories). Benign: Alpaca-25k, the Alpaca demo
 * set, Safety-Tuned LLaMAs Alpaca and physical-safe, XSTest safe prompts, GSM8K questions.
 * A prompt in the test split removes its exact and near copies (word-shingle MinHash) from
 * validation and training; a validation prompt removes its copies from training.
 */
export async function loadDetectorCorpus(sharedDataDir: string, plan: CorpusPlan = DEFAULT_CORPUS_PLAN): Promise<DetectorCorpus> {
  const d = (...p: string[]) => join(sharedDataDir, ...p);
  const raw: Array<Omit<CorpusPrompt, 'split'>> = [];
  const add = (text: string, harmful: boolean, source: string, extra: Partial<CorpusPrompt> = {}) => {
    if (text.trim()) raw.push({ text: text.trim(), harmful, categories: null, source, ...extra });
  };
  const adv = parse(await readFile(d('harmful', 'advbench_harmful_behaviors.csv'), 'utf8'), { columns: true }) as Array<{ goal: string }>;
  for (const r of adv) add(r.goal, true, 'advbench');
  for (const f of ['stl_I-MaliciousInstructions', 'stl_I-CoNa', 'stl_I-Controversial', 'stl_I-PhysicalSafetyUnsafe'])
    for (const p of await jsonInstructions(d('harmful', `${f}.json`))) add(p, true, f);
  for (const p of await jsonInstructions(d('harmful', 'refusal_direction_harmful_247.json'))) add(p, true, 'refusal_direction_harmful_247');
  // The pool's instructions were collected as harmful, but some are benign (its reply then simply
  // answers): only those whose reply refuses (phrase rules at the start) count as harmful.
  const pool = JSON.parse(await readFile(d('safety-pool', 'bianchi_safety_only_data_Instructions.json'), 'utf8')) as Array<{
    instruction: string;
    input?: string;
    output: string;
  }>;
  const { matchRefusal } = await import('./refusalRules');
  for (const r of pool) {
    if (matchRefusal(r.output, { lists: ['xstest', 'safetune-extra'] }).refusal)
      add(r.input ? `${r.instruction}\n\n${r.input}` : r.instruction, true, 'bianchi_safety_pool');
  }
  const xs = parse(await readFile(d('benign', 'xstest_prompts.csv'), 'utf8'), { columns: true }) as Array<{ prompt: string; label: string; type: string }>;
  for (const r of xs) add(r.prompt, r.label === 'unsafe', r.label === 'unsafe' ? 'xstest-unsafe' : 'xstest-safe', { xstestType: r.type });
  for (const p of await jsonInstructions(d('benign', 'stl_I-PhysicalSafetySafe.json'))) add(p, false, 'stl_I-PhysicalSafetySafe');
  for (const p of await jsonInstructions(d('benign', 'stl_I-Alpaca.json'))) add(p, false, 'stl_I-Alpaca');
  for (const p of await jsonInstructions(d('benign', 'alpaca_instructions_25k.json'))) add(p, false, 'alpaca_instructions_25k');
  const demo = JSON.parse(await readFile(d('task', 'alpaca_en_demo.json'), 'utf8')) as Array<{ instruction: string; input: string }>;
  for (const r of demo) add(r.input ? `${r.instruction}\n\n${r.input}` : r.instruction, false, 'alpaca_en_demo');
  const gsm = (await readFile(d('task', 'gsm8k_train.jsonl'), 'utf8')).split('\n').filter(Boolean);
  for (const l of gsm.slice(0, plan.gsm8k)) add((JSON.parse(l) as { question: string }).question, false, 'gsm8k_train');
  const { getHarmTaxonomy } = await import('../data/taxonomy');
  const bt = new Map<string, number>();
  const cats = getHarmTaxonomy().categories;
  for (let c = 0; c < cats.length; c++) {
    for (const line of (await readFile(d('reference', 'beavertails-unsafe-prompts', cats[c]!.referenceFile), 'utf8')).split('\n')) {
      const p = line.trim();
      if (p) bt.set(p, (bt.get(p) ?? 0) | (1 << c));
    }
  }
  for (const [p, m] of bt) add(p, true, 'beavertails', { categories: m });
  const corpus = splitCorpus(raw, plan);
  if (!plan.contrast) return { ...corpus, contrastDropped: { count: 0, examples: [], maxKeptJaccard: 0 } };
  // the contrast set trains (or validates) only: no copy of a test prompt or of any XSTest prompt (either fold)
  const guarded = corpus.prompts.filter((p) => p.split === 'test' || p.xstestType !== undefined).map((p) => p.text);
  const contrast = disjointContrast(contrastPrompts(), guarded, plan.contrastNearDuplicate);
  const seen = new Set(corpus.prompts.map((p) => dedupeKey(p.text)));
  for (const c of contrast.kept) {
    if (seen.has(dedupeKey(c.text))) continue;
    const split: Split = unitHash(c.text, 'validation') < plan.validationShare ? 'validation' : 'train';
    corpus.prompts.push({ text: c.text, harmful: c.harmful, categories: null, source: 'safetune_contrast', split });
  }
  return {
    ...corpus,
    contrastDropped: { count: contrast.dropped.length, examples: contrast.dropped.slice(0, 5), maxKeptJaccard: contrast.maxKeptJaccard },
  };
}

/** Jaccard similarity of two sets of shingle hashes. */
function jaccard(a: ReadonlySet<number>, b: ReadonlySet<number>): number {
  let inter = 0;
  for (const x of a) if (b.has(x)) inter++;
  return inter / Math.max(1, a.size + b.size - inter);
}

/**
 * Contrast prompts that are neither exact copies (dedupeKey) nor near copies (word-3-shingle
 * Jaccard ≥ `threshold`) of any guarded prompt (the held-out sources and every XSTest prompt, both
 * folds): what the detector learns from them must not be the test prompts themselves.
 */
export function disjointContrast<T extends { text: string }>(
  contrast: readonly T[],
  guarded: readonly string[],
  threshold: number,
): { kept: T[]; dropped: string[]; maxKeptJaccard: number } {
  const keys = new Set(guarded.map(dedupeKey));
  const sh = guarded.map((t) => new Set(shingleHashes(t)));
  const kept: T[] = [];
  const dropped: string[] = [];
  let maxKeptJaccard = 0;
  for (const c of contrast) {
    const own = new Set(shingleHashes(c.text));
    const top = sh.reduce((m, g) => Math.max(m, jaccard(own, g)), 0);
    if (keys.has(dedupeKey(c.text)) || top >= threshold) dropped.push(c.text);
    else {
      kept.push(c);
      maxKeptJaccard = Math.max(maxKeptJaccard, top);
    }
  }
  return { kept, dropped, maxKeptJaccard };
}

/** Assign splits, then remove cross-split exact and near copies (test > validation > train). */
export function splitCorpus(raw: ReadonlyArray<Omit<CorpusPrompt, 'split'>>, plan: CorpusPlan): Omit<DetectorCorpus, 'contrastDropped'> {
  const testFold = new Set(XSTEST_FOLDS[plan.xstestTestFold]);
  const alpacaKeys = raw.filter((r) => r.source === 'alpaca_instructions_25k').map((r) => [unitHash(r.text, 'alpaca-test'), r.text] as const);
  alpacaKeys.sort((a, b) => a[0] - b[0]);
  const alpacaTest = new Set(alpacaKeys.slice(0, plan.alpacaTest).map((k) => k[1]));
  const splitOf = (r: Omit<CorpusPrompt, 'split'>): Split => {
    if (plan.testSources.includes(r.source)) return 'test';
    if (r.xstestType && testFold.has(r.xstestType)) return 'test';
    if (r.source === 'alpaca_instructions_25k' && alpacaTest.has(r.text)) return 'test';
    if (r.source === 'beavertails' && unitHash(r.text, 'beavertails-test') < plan.beavertailsTestShare) return 'test';
    return unitHash(r.text, 'validation') < plan.validationShare ? 'validation' : 'train';
  };
  const rank: Record<Split, number> = { test: 0, validation: 1, train: 2 };
  const rows = raw.map((r) => ({ ...r, split: splitOf(r) }));
  // exact copies: keep the copy in the most held-out split (first such row); conflicting labels drop both
  const byKey = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const k = dedupeKey(r.text);
    const l = byKey.get(k);
    if (l) l.push(i);
    else byKey.set(k, [i]);
  });
  const keep = new Array<boolean>(rows.length).fill(false);
  let exact = 0;
  let conflicts = 0;
  for (const idx of byKey.values()) {
    if (idx.some((i) => rows[i]!.harmful !== rows[idx[0]!]!.harmful)) {
      conflicts += idx.length;
      continue;
    }
    const best = idx.reduce((a, b) => (rank[rows[b]!.split] < rank[rows[a]!.split] ? b : a));
    keep[best] = true;
    exact += idx.length - 1;
    // a prompt in several BeaverTails-like sources keeps the union of its category labels
    for (const i of idx) if (i !== best && rows[i]!.categories !== null) rows[best]!.categories = (rows[best]!.categories ?? 0) | rows[i]!.categories!;
  }
  // near copies of held-out prompts
  const kept = rows.map((_, i) => i).filter((i) => keep[i]);
  const nd = findNearDuplicates(
    kept.map((i) => dedupeKey(rows[i]!.text)),
    { threshold: plan.nearDuplicate, numHashes: 64, bands: 32 },
  );
  let near = 0;
  for (const g of nd.groups) {
    const top = Math.min(...g.map((k) => rank[rows[kept[k]!]!.split]));
    for (const k of g) {
      if (rank[rows[kept[k]!]!.split] > top) {
        keep[kept[k]!] = false;
        near++;
      }
    }
  }
  return { prompts: rows.filter((_, i) => keep[i]), plan, removed: { exact, near, conflicts } };
}

export interface CorpusResponse {
  response: string;
  refusal: boolean;
  /** xstest-gpt4, xstest-mistralinstruct (human labels), alpaca_en_demo (answers: compliance), bianchi_safety_pool (replies the phrase rules call refusals). */
  source: string;
  /** Human-labelled rows: XSTest prompt id (the validation split is drawn by prompt). */
  id?: string;
  split: Split;
  /** Loss weight relative to a human-labelled reply. */
  weight: number;
}

/**
 * Labelled replies for the refusal detector. Test: the XSTest completions of `testModel` (held out
 * whole: another model's style), or none. Validation: `validationShare` of the other rows, drawn
 * by XSTest prompt id so a prompt's replies stay together. Auxiliary rows: Alpaca demo answers
 * (compliance) and Bianchi pool replies that start with a refusal phrase (refusal, weight 0.5).
 */
export async function loadRefusalCorpus(
  sharedDataDir: string,
  o: { testModel: 'gpt4' | 'mistralinstruct' | null; validationShare?: number },
): Promise<CorpusResponse[]> {
  const d = (...p: string[]) => join(sharedDataDir, ...p);
  const share = o.validationShare ?? 0.15;
  const out: CorpusResponse[] = [];
  const valOrTrain = (key: string): Split => (unitHash(key, 'refusal-validation') < share ? 'validation' : 'train');
  for (const model of ['gpt4', 'mistralinstruct'] as const) {
    for (const r of await loadXstestCompletions(d('refusal-labels', `xstest_completions_${model}.csv`), model)) {
      out.push({
        response: r.response,
        refusal: r.refusal,
        source: `xstest-${model}`,
        id: r.id,
        split: model === o.testModel ? 'test' : valOrTrain(r.id),
        weight: 1,
      });
    }
  }
  const demo = JSON.parse(await readFile(d('task', 'alpaca_en_demo.json'), 'utf8')) as Array<{ output: string }>;
  for (const r of demo) if (r.output.trim()) out.push({ response: r.output, refusal: false, source: 'alpaca_en_demo', split: valOrTrain(r.output), weight: 1 });
  const { matchRefusal } = await import('./refusalRules');
  const pool = JSON.parse(await readFile(d('safety-pool', 'bianchi_safety_only_data_Instructions.json'), 'utf8')) as Array<{ output: string }>;
  for (const r of pool)
    if (matchRefusal(r.output, { lists: ['xstest', 'safetune-extra'] }).refusal)
      out.push({ response: r.output, refusal: true, source: 'bianchi_safety_pool', split: valOrTrain(r.output), weight: 0.5 });
  return out;
}
