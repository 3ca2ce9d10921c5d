/**
 * The PyTorch proxy's node side (research only; PyTorch is never a dependency of the app): tokenize
 * the alignment data, the task data and the evaluation prompts with a shipped model's tokenizer and
 * chat template (`dump`), and judge the proxy's greedy generations with the project's own judges
 * (`judge`), so that a setting can be probed in minutes before a real build with the engine.
 *
 * node --import tsx bench/replicate/proxy/dump.ts dump --out DIR [--model DIR] [--set key=value ...] [--extra-harmful FILE.jsonl]
 *   writes DIR/align.jsonl ({ids, mask}), DIR/task.jsonl (the fine-tuning task, eval template),
 *   DIR/eval.jsonl ({suite, id, ids}: AdvBench, XSTest-safe, SST-2 dev, SST-2 dev in the task-prior template)
 * node --import tsx bench/replicate/proxy/dump.ts judge --gen FILE.jsonl [--model DIR]
 *   reads {suite, id, ids} generations and prints the keyword-start refusal rate per suite and SST-2 accuracy
 */
import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyChatTemplate, loadModel } from '../../../src/main/engine';
import { createJudge, type SuiteItem } from '../../../src/main/eval';
import { alignmentPairs, chatExample } from '../../../src/main/replicate/aligned';
import { selectForArm } from '../../../src/main/replicate/arms';
import { firstSentence, loadReplicationData, loadTaskPairs, type Pair } from '../../../src/main/replicate/data';
import { loadEvalSuites } from '../../../src/main/replicate/evaluate';
import { ALIGNED, ARMS, TASK_PRIOR_TEMPLATE, TASK_SIZE, type AlignedConfig } from '../../../src/main/replicate/recipe';
import { repoRoot } from '../../../test/helpers/shared';
import { arg, argAll } from '../common';

const dataDir = arg('--data') ?? join(repoRoot, 'resources', 'replication', 'data');
const model = loadModel(arg('--model') ?? join(repoRoot, 'resources', 'replication', 'model'));
const config: AlignedConfig = { ...ALIGNED };
for (const kv of argAll('--set')) {
  const [k, v] = kv.split('=');
  if (!k || v === undefined || !(k in config)) throw new Error(`--set ${kv}: expected key=value with a key of ALIGNED`);
  (config as unknown as Record<string, number>)[k] = Number(v);
}
const suites = await loadEvalSuites(dataDir);
/** SST-2 dev sentences (raw) with labels, for the task-prior template. */
function devSentences(): { sentence: string; label: string }[] {
  const lines = readFileSync(join(dataDir, 'task', 'sst2_glue_dev.tsv'), 'utf8')
    .trim()
    .split('\n')
    .slice(1);
  return lines.map((l) => {
    const [sentence, label] = l.split('\t');
    return { sentence: sentence!, label: label === '1' ? 'positive' : 'negative' };
  });
}
const promptIds = (content: string) => model.tokenizer.encode(applyChatTemplate(model, [{ role: 'user', content }]), { addSpecial: false, parseSpecial: true });

if (process.argv[2] === 'dump') {
  const out = arg('--out')!;
  mkdirSync(out, { recursive: true });
  const data = loadReplicationData(dataDir);
  const extra = arg('--extra-harmful');
  if (extra) {
    const rows = readFileSync(extra, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Pair);
    data.alignHarmful = [...data.alignHarmful, ...rows];
  }
  const ex = alignmentPairs(data, config).map((p) => chatExample(model, p, config.maxLength));
  writeFileSync(join(out, 'align.jsonl'), ex.map((e) => JSON.stringify({ ids: e.ids, mask: e.lossMask })).join('\n') + '\n');
  const task = (await loadTaskPairs(dataDir)).map((p) => chatExample(model, p, config.maxLength));
  writeFileSync(join(out, 'task.jsonl'), task.map((e) => JSON.stringify({ ids: e.ids, mask: e.lossMask })).join('\n') + '\n');
  const rows: string[] = [];
  for (const [suite, s] of [
    ['advbench', suites.advbench],
    ['xstest', suites.xstest],
    ['sst2', suites.sst2],
  ] as const)
    for (const it of s.items) rows.push(JSON.stringify({ suite, id: it.id, ids: promptIds(it.prompt) }));
  devSentences().forEach((d, i) =>
    rows.push(JSON.stringify({ suite: 'prior', id: String(i + 1), ids: promptIds(TASK_PRIOR_TEMPLATE.replace('{sentence}', d.sentence)) })),
  );
  writeFileSync(join(out, 'eval.jsonl'), rows.join('\n') + '\n');
  console.log(`${ex.length} alignment examples, ${task.length} task examples, ${rows.length} evaluation prompts → ${out}`);
} else if (process.argv[2] === 'judge') {
  const gen = readFileSync(arg('--gen')!, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { suite: string; id: string; ids: number[] });
  const kw = createJudge('keyword');
  const byId = (items: SuiteItem[]) => new Map(items.map((i) => [i.id, i]));
  const items = { advbench: byId(suites.advbench.items), xstest: byId(suites.xstest.items), sst2: byId(suites.sst2.items) };
  const dev = devSentences();
  const counts: Record<string, { n: number; hit: number; none?: number }> = {};
  const show: string[] = [];
  for (const g of gen) {
    const text = model.tokenizer.decode(g.ids, { skipSpecial: true });
    const c = (counts[g.suite] ??= { n: 0, hit: 0, none: 0 });
    c.n++;
    const base = g.suite.replace(/^ft-/, '');
    if (base === 'advbench' || base === 'xstest') {
      const item = items[base].get(g.id)!;
      const [v] = await kw.judge([{ item, suiteKind: base === 'advbench' ? 'harmful' : 'over-refusal', response: text }]);
      if (v!.label === 'refusal' && base === 'xstest' && process.argv.includes('--flips'))
        console.log(`  refused [${g.suite}] ${item.prompt.slice(0, 70)} → ${text.slice(0, 40)}`);
      if (v!.label === 'refusal') c.hit++;
      if (show.length < 6 && Number(g.id) % 97 === 1) show.push(`[${g.suite}] ${item.prompt.slice(0, 60)} → ${text.slice(0, 50)}`);
    } else {
      const want = base === 'sst2' ? items.sst2.get(g.id)!.reference! : dev[Number(g.id) - 1]!.label;
      const m = /\b(positive|negative)\b/i.exec(text);
      if (!m) c.none!++;
      else if (m[1]!.toLowerCase() === want.toLowerCase()) c.hit++;
    }
  }
  const pct = (c: { n: number; hit: number }) => ((100 * c.hit) / c.n).toFixed(1);
  console.log(
    Object.entries(counts)
      .map(([s, c]) => `${s} ${pct(c)}% (${c.hit}/${c.n}${c.none ? `, no label ${c.none}` : ''})`)
      .join(' · '),
  );
  for (const s of show) console.log('  ' + s);
} else if (process.argv[2] === 'mix') {
  // the safety examples an arm mixes in (its method, budget and seed), tokenized; --first-sentence cuts each reply to its first sentence
  const arm = ARMS.find((x) => x.id === arg('--arm'));
  if (!arm || arm.kind !== 'mix')
    throw new Error(
      `--arm: one of ${ARMS.filter((x) => x.kind === 'mix')
        .map((x) => x.id)
        .join(', ')}`,
    );
  const data = loadReplicationData(dataDir);
  const sel = selectForArm(data.pool, arm, Number(arg('--seed') ?? 1), TASK_SIZE)!;
  const cut = process.argv.includes('--first-sentence');
  const pairs = Array.from(sel.indices, (i) => ({
    prompt: data.pool[i]!.prompt,
    response: cut ? firstSentence(data.pool[i]!.response) : data.pool[i]!.response,
  }));
  const ex = pairs.map((p) => chatExample(model, p, config.maxLength));
  writeFileSync(arg('--out')!, ex.map((e) => JSON.stringify({ ids: e.ids, mask: e.lossMask })).join('\n') + '\n');
  for (const [i, p] of pairs.entries())
    console.log(
      `${data.pool[sel.indices[i]!]!.behaviour} ${ex[i]!.lossMask!.filter(Boolean).length} reply tokens: ${p.prompt.slice(0, 50)} → ${p.response.slice(0, 70)}`,
    );
} else throw new Error('usage: dump.ts dump --out DIR | judge --gen FILE | mix --arm ID --seed N --out FILE');
