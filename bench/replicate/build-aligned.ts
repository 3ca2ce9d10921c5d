/**
 * Build the miniature's aligned model (src/main/replicate/aligned) from the replication data, then
 * score it with the project's evaluation core (AdvBench refusal, XSTest-safe over-refusal, SST-2)
 * and write the scores next to the weights (replication.json, read by the model card and the runner).
 *
 * npx tsx bench/replicate/build-aligned.ts [--data DIR] [--out DIR] [--eval-limit N] [--set key=value ...]
 *   --set overrides a field of ALIGNED (recipe.ts) for experiments, e.g. --set steps=400 --set benign=6000
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuUsage } from 'node:process';
import { loadModel } from '../../src/main/engine';
import { buildAligned } from '../../src/main/replicate/aligned';
import { loadReplicationData, loadTaskPairs } from '../../src/main/replicate/data';
import { evaluateModel, loadEvalSuites } from '../../src/main/replicate/evaluate';
import { ALIGNED, EVAL_GENERATION, type AlignedConfig } from '../../src/main/replicate/recipe';
import { repoRoot } from '../../test/helpers/shared';
import { arg, argAll, formatRate, oneLine, stopwatch } from './common';

const dataDir = arg('--data') ?? join(repoRoot, 'resources', 'replication', 'data');
const outDir = arg('--out') ?? join(repoRoot, 'resources', 'replication', 'model');
const evalLimit = arg('--eval-limit') ? Number(arg('--eval-limit')) : undefined;
const config: AlignedConfig = { ...ALIGNED };
for (const kv of argAll('--set')) {
  const [k, v] = kv.split('=');
  if (!k || v === undefined || !(k in config)) throw new Error(`--set ${kv}: expected key=value with a key of ALIGNED (${Object.keys(config).join(', ')})`);
  (config as unknown as Record<string, number>)[k] = Number(v);
}

const clock = stopwatch();
const data = loadReplicationData(dataDir);
const task = await loadTaskPairs(dataDir);
if (existsSync(outDir)) rmSync(outDir, { recursive: true });
console.log(`building the aligned model: ${JSON.stringify(config)}`);
clock.lap();
const built = await buildAligned({
  data,
  task,
  config,
  outDir,
  onProgress: (m) => {
    if (m.step % 50 === 0 || m.step === config.steps) console.log(`step ${m.step}/${config.steps} loss ${m.loss.toFixed(3)} lr ${m.lr.toExponential(2)} ${clock.lap()}`);
  },
});
const trainTime = clock.total();
console.log(`trained: ${built.parameters} parameters, ${built.examples} examples (${built.tokens} tokens), ${trainTime}`);

const suites = await loadEvalSuites(dataDir, { limit: evalLimit });
const scores = await evaluateModel(loadModel(outDir), suites, { generation: EVAL_GENERATION });
const evalTime = clock.lap();
console.log(`AdvBench refusal ${formatRate(scores.refusal)} · XSTest-safe over-refusal ${formatRate(scores.overRefusal)} · SST-2 ${formatRate(scores.task)} (no answer ${scores.taskNoAnswer}) ${evalTime}`);
for (const suite of [suites.advbench.id, suites.xstest.id]) {
  for (const r of scores.records.filter((x) => x.suiteId === suite).slice(0, 4)) console.log(`  [${suite}] ${oneLine(r.prompt, 70)} → ${oneLine(r.response, 60)}`);
}
const cpu = cpuUsage();
writeFileSync(
  join(outDir, 'replication.json'),
  JSON.stringify(
    {
      config,
      parameters: built.parameters,
      examples: built.examples,
      tokens: built.tokens,
      finalLoss: built.losses.at(-1),
      evaluation: { generation: EVAL_GENERATION, limit: evalLimit ?? null, refusal: scores.refusal, overRefusal: scores.overRefusal, task: scores.task, taskNoAnswer: scores.taskNoAnswer },
      timing: { train: trainTime, evaluate: evalTime, cpuSeconds: Math.round((cpu.user + cpu.system) / 1e6) },
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${outDir} (${clock.total()})`);
