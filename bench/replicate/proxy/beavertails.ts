/**
 * Research probe data (issue 15, round 4): a seeded sample of BeaverTails unsafe prompts
 * (../shared/data/reference) as extra harmful alignment pairs, each with one of the shipped
 * alignment refusals, evaluation prompts left out exactly as build-data.ts does (equal after
 * normalisation or a near duplicate of AdvBench, all of XSTest, STL Alpaca / safe physical-safety,
 * SST-2 dev). For `dump.ts dump --extra-harmful`.
 *
 * node --import tsx bench/replicate/proxy/beavertails.ts --n 3000 --out FILE.jsonl
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAdvBench, loadStlJson, loadXSTest } from '../../../src/main/eval/suites';
import { excludeOverlap, loadReplicationData, normalisedKey } from '../../../src/main/replicate/data';
import { mulberry32, shuffleInPlace } from '../../../src/main/select';
import { repoRoot, sharedDir } from '../../../test/helpers/shared';
import { arg } from '../common';

const shared = sharedDir();
if (!shared) throw new Error('needs ../shared');
const src = (...p: string[]) => join(shared, 'data', ...p);
const n = Number(arg('--n') ?? 3000);
const rng = mulberry32(Number(arg('--seed') ?? 15));
const dir = src('reference', 'beavertails-unsafe-prompts');
const all = [
  ...new Set(
    readdirSync(dir).flatMap((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.length >= 10),
    ),
  ),
];
const idx = shuffleInPlace(Int32Array.from(all.keys()), rng);
const data = loadReplicationData(join(repoRoot, 'resources', 'replication', 'data'));
const taken = new Set([...data.alignHarmful, ...data.pool].map((r) => normalisedKey(r.prompt)));
const sample = Array.from(idx, (i) => all[i]!)
  .filter((p) => !taken.has(normalisedKey(p)))
  .slice(0, Math.round(n * 1.1));
const evalPrompts = [
  ...(await loadAdvBench(src('harmful', 'advbench_harmful_behaviors.csv'))).items,
  ...(await loadXSTest(src('benign', 'xstest_prompts.csv'))).items,
  ...(await loadStlJson(src('benign', 'stl_I-Alpaca.json'))).items,
  ...(await loadStlJson(src('benign', 'stl_I-PhysicalSafetySafe.json'))).items,
].map((i) => i.prompt);
const dev = readFileSync(src('task', 'sst2_glue_dev.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t')[0]!.trim())
  .filter(Boolean);
const o = excludeOverlap(sample, (p) => p, [...evalPrompts, ...dev]);
const refusals = data.alignHarmful.slice(0, 1019).map((r) => r.response);
const kept = o.kept.slice(0, n).map((prompt) => ({ prompt, response: refusals[Math.floor(rng() * refusals.length)]! }));
writeFileSync(arg('--out')!, kept.map((r) => JSON.stringify(r)).join('\n') + '\n');
console.log(
  `BeaverTails unsafe prompts: ${all.length} distinct; sampled ${sample.length}; left out ${o.exact.length} equal, ${o.near.length} near duplicates; wrote ${kept.length}`,
);
