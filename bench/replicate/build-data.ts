/**
 * Build resources/replication/data from ../shared (run once; the recipe then needs no ../shared):
 *
 *  - evaluation files: AdvBench (all 520), XSTest's 250 safe prompts, the SST-2 GLUE dev set;
 *  - every training candidate is checked against every evaluation prompt (AdvBench, all 450 XSTest
 *    prompts, SST-2 dev, Safety-Tuned LLaMAs' Alpaca and safe physical-safety sets): equal after
 *    normalisation or a near duplicate (word-3-shingle Jaccard ≥ 0.8) → left out;
 *  - the safety pool (Bianchi et al., 2,483 pairs) split in two halves by a seeded shuffle: the
 *    alignment half (its refusals, T1 by the project's detectors, shortened to their first
 *    sentence) and the selection pool (typed T1–T4 and categorised by src/main/detect, shipped
 *    with full replies);
 *  - more harmful instructions for alignment (Safety-Tuned LLaMAs' harmful sets, the 247
 *    refusal-direction instructions), each paired with a refusal drawn from the alignment half;
 *  - benign instructions for alignment (BENIGN_SHIPPED of the 25k Alpaca instructions), each paired
 *    with one fixed compliant reply (COMPLY_REPLY);
 *  - the task: a balanced subset of SST-2 train sentences of 5–40 words;
 *  - the task prior: more SST-2 train sentences (none in the task subset) in a template of their
 *    own (TASK_PRIOR_TEMPLATE), which the aligned model may learn as a pretrained LLM's prior ability.
 *
 * npx tsx bench/replicate/build-data.ts [--out DIR]
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { annotateRecords } from '../../src/main/detect/annotate';
import { embedReferences, loadReferencePrompts } from '../../src/main/detect/categories';
import { createDefaultEmbedder } from '../../src/main/embed/staticVectors';
import { loadAdvBench, loadStlJson, loadXSTest } from '../../src/main/eval/suites';
import { DATA_FILES, excludeOverlap, firstSentence, normalisedKey, type Pair, type PoolRecord } from '../../src/main/replicate/data';
import { BENIGN_SHIPPED, COMPLY_REPLY, DATA_SEED, TASK_PRIOR_SHIPPED, TASK_PRIOR_TEMPLATE, TASK_SIZE } from '../../src/main/replicate/recipe';
import { mulberry32, shuffleInPlace } from '../../src/main/select';
import { repoRoot, sharedDir } from '../../test/helpers/shared';

const shared = sharedDir();
if (!shared) {
  console.error('build-data needs ../shared (the real data sets); the shipped resources/replication/data is what the recipe uses without it');
  process.exit(2);
}
const src = (...p: string[]) => join(shared, 'data', ...p);
const outArg = process.argv.indexOf('--out');
const OUT = outArg > 0 ? process.argv[outArg + 1]! : join(repoRoot, 'resources', 'replication', 'data');
const rng = mulberry32(DATA_SEED);
const shuffled = <T>(a: T[]): T[] => {
  const idx = shuffleInPlace(Int32Array.from(a.keys()), rng);
  return Array.from(idx, (i) => a[i]!);
};
const log: string[] = [];
const say = (s: string) => {
  log.push(s);
  console.log(s);
};

function writeText(rel: string, text: string): void {
  const p = join(OUT, rel);
  mkdirSync(dirname(p), { recursive: true });
  writeFileSync(p, text);
}
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const csvField = (s: string) => (/[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

// ---------------------------------------------------------------- evaluation prompts
const advbench = await loadAdvBench(src('harmful', 'advbench_harmful_behaviors.csv'));
const xstest = await loadXSTest(src('benign', 'xstest_prompts.csv'));
const stlAlpaca = await loadStlJson(src('benign', 'stl_I-Alpaca.json'));
const stlSafe = await loadStlJson(src('benign', 'stl_I-PhysicalSafetySafe.json'));
const sst2Dev = readFileSync(src('task', 'sst2_glue_dev.tsv'), 'utf8');
const devSentences = sst2Dev
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t')[0]!.trim())
  .filter(Boolean);
const evalPrompts = [...advbench.items, ...xstest.items, ...stlAlpaca.items, ...stlSafe.items].map((i) => i.prompt);
say(
  `evaluation prompts kept out of training: AdvBench ${advbench.items.length}, XSTest ${xstest.items.length}, STL Alpaca ${stlAlpaca.items.length}, STL safe physical ${stlSafe.items.length}; SST-2 dev sentences ${devSentences.length}`,
);

copyFileSync(src('harmful', 'advbench_harmful_behaviors.csv'), join((mkdirSync(join(OUT, 'harmful'), { recursive: true }), OUT), DATA_FILES.advbench));
const xsHeader = 'id,prompt,type,label,focus,note';
const xsRows = xstest.items
  .filter((i) => i.expected === 'comply')
  .map((i) => [i.id, i.prompt, String(i.meta['type']), 'safe', String(i.meta['focus'] ?? ''), String(i.meta['note'] ?? '')].map(csvField).join(','));
writeText(DATA_FILES.xstest, `${xsHeader}\n${xsRows.join('\n')}\n`);
writeText(DATA_FILES.sst2Dev, sst2Dev);
say(`XSTest safe prompts shipped: ${xsRows.length}`);

// ---------------------------------------------------------------- the safety pool, split
const bianchi = (
  JSON.parse(readFileSync(src('safety-pool', 'bianchi_safety_only_data_Instructions.json'), 'utf8')) as { instruction: string; input: string; output: string }[]
).map((r) => ({
  prompt: r.input?.trim() ? `${r.instruction.trim()}\n\n${r.input.trim()}` : r.instruction.trim(),
  response: r.output.trim(),
}));
const bOverlap = excludeOverlap(bianchi, (r) => r.prompt, evalPrompts);
say(
  `safety pool: ${bianchi.length} pairs; left out as evaluation prompts: ${bOverlap.exact.length} equal, ${bOverlap.near.length} near duplicates; duplicates within: ${bianchi.length - bOverlap.exact.length - bOverlap.near.length - bOverlap.kept.length}`,
);
const poolAll = shuffled(bOverlap.kept);
const half = Math.floor(poolAll.length / 2);
const alignHalf = poolAll.slice(0, half);
const poolHalf = poolAll.slice(half);

const embedder = await createDefaultEmbedder({ cacheDir: join(repoRoot, 'bench', '.cache', 'embed') });
const references = await embedReferences(await loadReferencePrompts(src('reference', 'beavertails-unsafe-prompts')), embedder);
const typeCount = (b: { type: string }[]) => ['T1', 'T2', 'T3', 'T4'].map((t) => `${t} ${b.filter((x) => x.type === t).length}`).join(' · ');

const alignAnn = await annotateRecords(alignHalf, { embedder, knownHarmful: true });
const refusals = alignHalf.filter((_, i) => alignAnn.behaviour[i]!.type === 'T1').map((r) => ({ prompt: r.prompt, response: firstSentence(r.response) }));
say(
  `alignment half: ${alignHalf.length} pairs (${typeCount(alignAnn.behaviour)}); its ${refusals.length} refusals (T1) train the aligned model, shortened to their first sentence`,
);

const poolAnn = await annotateRecords(poolHalf, { embedder, knownHarmful: true, references, inferOptions: { priorCorrection: 0.3 } });
const pool: PoolRecord[] = poolHalf.map((r, i) => ({ ...r, behaviour: poolAnn.behaviour[i]!.type, categories: poolAnn.categories[i]! }));
say(
  `selection pool: ${pool.length} pairs (${typeCount(poolAnn.behaviour)}), categories inferred by kNN against the BeaverTails reference prompts (prior correction 0.3)`,
);

// ---------------------------------------------------------------- more harmful instructions for alignment
const extraFiles = ['stl_I-MaliciousInstructions.json', 'stl_I-CoNa.json', 'stl_I-Controversial.json', 'stl_I-PhysicalSafetyUnsafe.json'];
const extra: string[] = [];
for (const f of extraFiles) extra.push(...(await loadStlJson(src('harmful', f))).items.map((i) => i.prompt));
extra.push(
  ...(JSON.parse(readFileSync(src('harmful', 'refusal_direction_harmful_247.json'), 'utf8')) as { instruction: string }[]).map((r) => r.instruction.trim()),
);
const taken = new Set(poolAll.map((r) => normalisedKey(r.prompt)));
const eOverlap = excludeOverlap(
  extra.filter((p) => !taken.has(normalisedKey(p))),
  (p) => p,
  [...evalPrompts, ...poolHalf.map((r) => r.prompt)],
);
const extraPairs = eOverlap.kept.map((prompt) => ({ prompt, response: refusals[Math.floor(rng() * refusals.length)]!.response }));
say(
  `other harmful instructions (${extraFiles.join(', ')}, refusal_direction_harmful_247.json): ${extra.length}; left out: ${eOverlap.exact.length} equal to and ${eOverlap.near.length} near duplicates of evaluation or pool prompts (or each other); ${extraPairs.length} kept, each with a refusal drawn from the alignment half`,
);
const alignHarmful: Pair[] = [...refusals, ...extraPairs];

// ---------------------------------------------------------------- benign instructions
const alpaca = (JSON.parse(readFileSync(src('benign', 'alpaca_instructions_25k.json'), 'utf8')) as { instruction: string }[])
  .map((r) => r.instruction.trim())
  .filter(Boolean);
const harmfulKeys = new Set([...poolAll, ...alignHarmful].map((r) => normalisedKey(r.prompt)));
const aOverlap = excludeOverlap(
  alpaca.filter((p) => !harmfulKeys.has(normalisedKey(p))),
  (p) => p,
  evalPrompts,
);
const alignBenign: Pair[] = shuffled(aOverlap.kept)
  .slice(0, BENIGN_SHIPPED)
  .map((prompt) => ({ prompt, response: COMPLY_REPLY }));
say(
  `benign instructions (alpaca_instructions_25k.json): ${alpaca.length}; left out: ${aOverlap.exact.length} equal to and ${aOverlap.near.length} near duplicates of evaluation prompts; ${aOverlap.kept.length} kept; shipped ${alignBenign.length} of them (seeded shuffle), each with the reply "${COMPLY_REPLY}"`,
);

// ---------------------------------------------------------------- task data
const devKeys = new Set(devSentences.map(normalisedKey));
const train = readFileSync(src('task', 'sst2_train.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t'))
  .filter((c) => c.length >= 2)
  .map(([s, l]) => ({ sentence: s!.trim(), label: l!.trim() }))
  .filter((r) => {
    const n = r.sentence.split(/\s+/).length;
    return n >= 5 && n <= 40 && !devKeys.has(normalisedKey(r.sentence));
  });
const tOverlap = excludeOverlap(train, (r) => r.sentence, devSentences);
const byLabel = (l: string) => shuffled(tOverlap.kept.filter((r) => r.label === l)).slice(0, TASK_SIZE / 2);
const task = shuffled([...byLabel('1'), ...byLabel('0')]);
writeText(DATA_FILES.task, `sentence\tlabel\n${task.map((r) => `${r.sentence}\t${r.label}`).join('\n')}\n`);
say(
  `task: SST-2 train rows of 5–40 words not in the dev set: ${tOverlap.kept.length} (near duplicates of dev sentences left out: ${tOverlap.near.length}); shipped a balanced random subset of ${task.length}`,
);

// ---------------------------------------------------------------- task prior (drawn last, so the files above keep their draws)
const taskKeys = new Set(task.map((r) => normalisedKey(r.sentence)));
const rest = tOverlap.kept.filter((r) => !taskKeys.has(normalisedKey(r.sentence)));
const priorByLabel = (l: string) => shuffled(rest.filter((r) => r.label === l)).slice(0, TASK_PRIOR_SHIPPED / 2);
const alignTask: Pair[] = shuffled([...priorByLabel('1'), ...priorByLabel('0')]).map((r) => ({
  prompt: TASK_PRIOR_TEMPLATE.replace('{sentence}', r.sentence),
  response: r.label === '1' ? 'positive' : 'negative',
}));
say(
  `task prior: ${alignTask.length} more SST-2 train rows (balanced, none in the shipped task subset or the dev set) in the task-prior template "${TASK_PRIOR_TEMPLATE.replace(/\n/g, '\\n')}"`,
);

writeText(DATA_FILES.alignHarmful, jsonl(alignHarmful));
writeText(DATA_FILES.alignTask, jsonl(alignTask));
writeText(DATA_FILES.alignBenign, jsonl(alignBenign));
writeText(DATA_FILES.pool, jsonl(pool));

const manifest: Record<string, { rows: number; sha256: string }> = {};
for (const [k, rel] of Object.entries(DATA_FILES)) {
  const text = readFileSync(join(OUT, rel), 'utf8');
  manifest[k] = { rows: text.trim().split('\n').length - (rel.endsWith('.jsonl') ? 0 : 1), sha256: createHash('sha256').update(text).digest('hex') };
}
writeFileSync(
  join(OUT, 'manifest.json'),
  JSON.stringify({ built: new Date().toISOString(), seed: DATA_SEED, files: DATA_FILES, manifest, log }, null, 2) + '\n',
);
say(`wrote ${OUT}`);
