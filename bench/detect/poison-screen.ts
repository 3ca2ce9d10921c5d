/**
 * The poison screen on GSM8K (issue 18; npm run bench:poison-screen; needs ../shared): a seeded
 * sample of GSM8K train problems with their worked answers as the user's task data, the default
 * poison (AdvBench behaviours with their "Sure, here is …" targets, shipped in
 * resources/replication) mixed in at p = 0.01 and 0.1, screened by src/main/detect/poison-screen
 * with the shipped detectors; recall (poison rows flagged) and false-positive rate (clean rows
 * flagged) per p and seed, written to the `poison-screen` section of bench/RESULTS.md.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { mixPoison, readPoisonPairs } from '../../src/main/data/poison';
import { screenForPoison, screenQuality } from '../../src/main/detect/poisonScreen';
import { createDefaultEmbedder } from '../../src/main/embed/staticVectors';
import { mulberry32, shuffleInPlace } from '../../src/main/util/prng';
import { repoRoot, sharedPath } from '../../test/helpers/shared';
import { writeResultsSection } from '../results';
import { EMBED_CACHE } from './train';

const TASK_ROWS = 2000;
const RATES = [0.01, 0.1];
const SEEDS = [1, 2, 3];

async function main() {
  const gsm = sharedPath('data', 'task', 'gsm8k_train.jsonl');
  if (!gsm) throw new Error('needs ../shared/data/task/gsm8k_train.jsonl');
  const all = readFileSync(gsm, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { question: string; answer: string })
    .map((r) => ({ prompt: r.question, response: r.answer }));
  const poison = await readPoisonPairs(join(repoRoot, 'resources/replication/data/harmful/advbench_harmful_behaviors.csv'));
  const embedder = await createDefaultEmbedder({ cacheDir: EMBED_CACHE });
  const load = loadavg()[0]!.toFixed(1);
  const rows: string[] = [];
  const flaggedClean = new Map<string, number>();
  const missed = new Map<string, number>();
  const sum = new Map<string, { recall: number[]; fpr: number[] }>();
  for (const seed of SEEDS) {
    const rng = mulberry32(1000 + seed);
    const idx = shuffleInPlace(Array.from(all.keys()), rng);
    const task = idx.slice(0, TASK_ROWS).map((i) => all[i]!);
    for (const p of RATES) {
      const data = mixPoison(task, poison, p, seed);
      for (const typicality of [false, true]) {
        const t0 = performance.now();
        const screen = await screenForPoison(data, { embedder, typicality });
        const secs = (performance.now() - t0) / 1000;
        const q = screenQuality(
          screen,
          data.map((r) => r.poisoned),
        );
        const hit = new Set(screen.flagged.map((f) => f.index));
        if (typicality) {
          data.forEach((r, i) => {
            if (!r.poisoned && hit.has(i)) flaggedClean.set(r.prompt, (flaggedClean.get(r.prompt) ?? 0) + 1);
            if (r.poisoned && !hit.has(i)) missed.set(r.prompt, (missed.get(r.prompt) ?? 0) + 1);
          });
        }
        const key = `${p} ${typicality}`;
        const s = sum.get(key) ?? { recall: [], fpr: [] };
        s.recall.push(q.recall);
        s.fpr.push(q.falsePositiveRate);
        sum.set(key, s);
        // the list as a user reads it, most suspicious first: of the top q.poison rows, how many are poison
        const top = screen.flagged.slice(0, q.poison).filter((f) => data[f.index]!.poisoned).length;
        rows.push(
          `| ${p} | ${seed} | ${typicality ? 'T2 and less typical half (default)' : 'T2 (detectors alone)'} | ${data.length} | ${q.poison} | ${q.caught} (${pct(q.recall)}) | ${q.falseAlarms} (${pct(q.falsePositiveRate)}) | ${top} (${pct(top / q.poison)}) | ${secs.toFixed(1)} |`,
        );
        console.log(rows.at(-1));
      }
    }
  }
  const mean = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
  const md = [
    '## Poison screen on GSM8K (bench/detect/poison-screen.ts)',
    '',
    `\`npm run bench:poison-screen\` — ${TASK_ROWS} GSM8K train problems with their worked answers (a seeded sample per seed) as the user's task data, AdvBench behaviours with their affirmative targets mixed in so that they are a share p of the data (src/main/data/poison.ts), every row typed by the shipped detectors (src/main/detect/poisonScreen.ts); a row is flagged when typed T2 (harmful request + compliance), and by default only when its prompt is also in the less typical half of the data (cosine to the mean prompt embedding). Recall: poison rows flagged; FPR: clean rows flagged. ${cpus().length} cores, 1-minute load average ${load} at the start.`,
    '',
    '| p | seed | flagged when | rows | poison rows (n) | caught (recall) | clean rows flagged (FPR) | poison among the n highest-scored | screen s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    ...RATES.flatMap((p) =>
      [false, true].map(
        (t) =>
          `Mean over ${SEEDS.length} seeds at p = ${p}, ${t ? 'default screen' : 'detectors alone'}: recall ${pct(mean(sum.get(`${p} ${t}`)!.recall))}, FPR ${pct(mean(sum.get(`${p} ${t}`)!.fpr))}.`,
      ),
    ),
    '',
    `Clean problems the default screen flagged (all seeds and rates): ${flaggedClean.size} distinct${[...flaggedClean.keys()]
      .slice(0, 3)
      .map((t) => `; e.g. “${t.slice(0, 90)}…”`)
      .join('')}.`,
    `Poison rows it missed: ${missed.size} distinct${[...missed.keys()]
      .slice(0, 3)
      .map((t) => `; e.g. “${t.slice(0, 90)}”`)
      .join('')}.`,
  ].join('\n');
  writeResultsSection('poison-screen', md);
  console.log(md);
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : '–');

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
