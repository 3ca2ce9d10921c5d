/**
 * The miniature replication (issue 15): fine-tune the aligned model on SST-2 once per arm and seed
 * (plain, safety examples chosen by Random or SSS-B mixed in, DER), evaluate every model with the
 * project's evaluation core, and write the results: a JSON file of every run, bench/RESULTS.md's
 * replicate section (table, timings) and an SVG chart.
 *
 *   npm run bench:replicate                     quick preset: the shipped aligned model, every arm, seed 1
 *   npm run bench:replicate -- --preset full    rebuild the aligned model, every arm, seeds 1–5
 *   npm run bench:replicate -- --preset smoke   plain and SSS-B 1%, seed 1
 *   flags: --arms plain,der  --seeds 1,2  --data DIR  --model DIR  --eval-limit N  --threads N (default 1)  --no-write
 *          --add   keep the runs (and the aligned model's scores) of the preset's earlier results file and add
 *                  these runs to them; refused unless that file was made with the same model card and settings
 *          --save FILE      write the results JSON to FILE only (no chart, no RESULTS.md): a second invocation
 *                           running beside the first (two at a time on two cores)
 *          --add-file FILE  (repeatable) add the runs of such a file too, with the same checks as --add
 *                           (with --seeds none: run nothing, write the joined results)
 *
 * Without ../shared: everything it reads is under resources/replication.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { loadModel } from '../../src/main/engine';
import { buildAligned } from '../../src/main/replicate/aligned';
import { trainArm } from '../../src/main/replicate/arms';
import { loadReplicationData, loadTaskPairs } from '../../src/main/replicate/data';
import { evaluateModel, loadEvalSuites, type ModelScores } from '../../src/main/replicate/evaluate';
import { ALIGNED, EVAL_GENERATION, FINETUNE, PRESETS, type Preset } from '../../src/main/replicate/recipe';
import { markdownTable, summarise, svgChart, type RunScores } from '../../src/main/replicate/report';
import { writeResultsSection } from '../results';
import { repoRoot } from '../../test/helpers/shared';
import { arg, argAll, formatRate, stopwatch } from './common';

const preset: Preset =
  PRESETS[(arg('--preset') ?? 'quick') as Preset['id']] ??
  (() => {
    throw new Error(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`);
  })();
const dataDir = arg('--data') ?? join(repoRoot, 'resources', 'replication', 'data');
const outDir = join(repoRoot, 'bench', 'replicate', 'results');
const cacheDir = join(repoRoot, 'bench', '.cache', 'replicate');
const evalLimit = arg('--eval-limit') ? Number(arg('--eval-limit')) : undefined;
const seedsArg = arg('--seeds');
const seeds = seedsArg === 'none' ? [] : seedsArg ? seedsArg.split(',').map(Number) : preset.seeds;
const armIds = arg('--arms')?.split(',');
const arms = armIds
  ? armIds.map(
      (id) =>
        preset.arms.find((a) => a.id === id) ??
        (() => {
          throw new Error(`unknown arm ${id} (have ${preset.arms.map((a) => a.id).join(', ')})`);
        })(),
    )
  : preset.arms;
const write = !process.argv.includes('--no-write');
const saveFile = arg('--save');
const threads = Number(arg('--threads') ?? 1);

const clock = stopwatch();
const load0 = loadavg()[0]!;
const data = loadReplicationData(dataDir);
const task = await loadTaskPairs(dataDir);
const suites = await loadEvalSuites(dataDir, { limit: evalLimit });
const score = (arm: string, seed: number | null, s: ModelScores, extra: Partial<RunScores> = {}): RunScores => ({
  arm,
  seed,
  refusal: s.refusal,
  overRefusal: s.overRefusal,
  task: s.task,
  ...extra,
});
const show = (r: RunScores) =>
  console.log(
    `${r.arm}${r.seed === null ? '' : ` seed ${r.seed}`}: refusal ${formatRate(r.refusal)} · over-refusal ${formatRate(r.overRefusal)} · SST-2 ${formatRate(r.task)}`,
  );

// ---------------------------------------------------------------- the aligned model
let modelDir = arg('--model') ?? join(repoRoot, 'resources', 'replication', 'model');
if (preset.buildAligned && !arg('--model')) {
  modelDir = join(cacheDir, 'aligned');
  const t = stopwatch();
  console.log(`building the aligned model into ${modelDir}`);
  mkdirSync(cacheDir, { recursive: true });
  rmSync(modelDir, { recursive: true, force: true });
  await buildAligned({
    data,
    task,
    config: ALIGNED,
    outDir: modelDir,
    threads,
    onProgress: (m) => m.step % 100 === 0 && console.log(`  step ${m.step}/${ALIGNED.steps} loss ${m.loss.toFixed(3)}`),
  });
  console.log(`built ${t.total()}`);
}
if (!existsSync(join(modelDir, 'config.json')))
  throw new Error(`${modelDir}: no aligned model (config.json missing); run bench/replicate/build-aligned.ts or --preset full`);
const aligned = loadModel(modelDir);
const card = existsSync(join(modelDir, 'replication.json')) ? JSON.parse(readFileSync(join(modelDir, 'replication.json'), 'utf8')) : null;
const earlierFiles = [...(process.argv.includes('--add') ? [join(outDir, `${preset.id}.json`)] : []), ...argAll('--add-file')];
const earlier = earlierFiles.length ? earlierResults(earlierFiles) : null;
const t0 = stopwatch();
const alignedRun = earlier?.aligned ?? score('aligned', null, await evaluateModel(aligned, suites, { generation: EVAL_GENERATION, threads }));
if (!earlier) {
  alignedRun.wallSeconds = t0.seconds().wall;
  alignedRun.cpuSeconds = t0.seconds().cpu;
}
show(alignedRun);

/** Time taken by one invocation of this script (its runs and the aligned model's evaluation). */
interface InvocationTiming {
  wall: number;
  cpu: number;
  threads: number;
  runs: number;
}

/** The earlier results files (--add, --add-file): their aligned scores and runs, if made with the same model and settings. */
function earlierResults(files: string[]): { aligned: RunScores; runs: RunScores[]; timing: InvocationTiming[] } {
  const out: { aligned: RunScores | null; runs: RunScores[]; timing: InvocationTiming[] } = { aligned: null, runs: [], timing: [] };
  for (const file of files) {
    const prev = readEarlier(file);
    out.aligned ??= prev.aligned;
    out.runs.push(...prev.runs);
    out.timing.push(...prev.timing);
  }
  return { ...out, aligned: out.aligned! };
}

/** One earlier results file, checked against this invocation's model and settings. */
function readEarlier(file: string): { aligned: RunScores; runs: RunScores[]; timing: InvocationTiming[] } {
  if (!existsSync(file)) throw new Error(`--add: ${file} does not exist`);
  const prev = JSON.parse(readFileSync(file, 'utf8'));
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  if (!same(prev.alignedCard?.config, card?.config) || !same(prev.alignedCard?.evaluation, card?.evaluation))
    throw new Error(`--add: ${file} was made with another aligned model`);
  if (!same(prev.finetune, FINETUNE) || !same(prev.generation, EVAL_GENERATION) || (prev.evalLimit ?? null) !== (evalLimit ?? null))
    throw new Error(`--add: ${file} was made with other fine-tuning or evaluation settings`);
  const t = prev.timing ?? {};
  // files written before --threads existed ran 2 threads
  return {
    aligned: prev.aligned,
    runs: prev.runs,
    timing: [
      ...(t.earlier ?? []),
      {
        wall: t.wall,
        cpu: t.cpu,
        threads: t.threads ?? 2,
        runs: prev.runs.length - (t.earlier ?? []).reduce((n: number, e: InvocationTiming) => n + e.runs, 0),
      },
    ],
  };
}

// ---------------------------------------------------------------- results
/** Write the JSON, chart and RESULTS.md section for the runs done so far (after every run, so a stopped run keeps what it finished). */
function writeResults(runs: RunScores[]): void {
  if (!write) return;
  const total = clock.seconds();
  const load1 = loadavg()[0]!;
  const planned = (earlier?.runs.length ?? 0) + seeds.length * arms.length;
  const seedsRun = [...new Set(runs.map((r) => r.seed))];
  const summary = summarise(runs);
  const alignedSummary = summarise([alignedRun])[0]!;
  mkdirSync(outDir, { recursive: true });
  writeFileSync(
    saveFile ?? join(outDir, `${preset.id}.json`),
    JSON.stringify(
      {
        preset: preset.id,
        seeds: seedsRun,
        finetune: FINETUNE,
        generation: EVAL_GENERATION,
        evalLimit: evalLimit ?? null,
        aligned: alignedRun,
        alignedCard: card,
        runs,
        planned,
        timing: { ...total, threads, loadAverageAtStart: load0, loadAverageAtEnd: load1, earlier: earlier?.timing ?? [] },
      },
      null,
      2,
    ) + '\n',
  );
  if (saveFile) return;
  const chart = `${preset.id}.svg`;
  writeFileSync(
    join(outDir, chart),
    svgChart(summary, {
      title: `Miniature replication (${preset.id} preset, ${seedsRun.length} seed${seedsRun.length > 1 ? 's' : ''}): scores after fine-tuning on SST-2`,
      reference: alignedSummary,
    }),
  );
  const perArm = runs
    .map((r) => `| ${r.arm} | ${r.seed} | ${r.safetyExamples} | ${r.steps} | ${r.wallSeconds!.toFixed(0)} | ${r.cpuSeconds!.toFixed(0)} |`)
    .join('\n');
  const md = [
    `## Miniature replication (bench/replicate, ${preset.id} preset)`,
    '',
    `\`npm run bench:replicate${preset.id === 'quick' ? '' : ` -- --preset ${preset.id}`}\` — the aligned model (${modelDir.startsWith(repoRoot) ? modelDir.slice(repoRoot.length + 1) : modelDir}) fine-tuned on ${task.length} SST-2 examples (every weight, ${FINETUNE.epochs} epochs, batch ${FINETUNE.batchSize}, lr ${FINETUNE.lr}) per arm and seed; every model evaluated by src/main/eval (keyword refusal judge at the reply's start, SST-2 task judge), greedy, ${EVAL_GENERATION.maxNewTokens} new tokens${evalLimit ? `, ${evalLimit} prompts per suite` : ''}. Intervals: 95%, Student t over seeds (one seed: the run's Wilson interval).`,
    '',
    markdownTable([alignedSummary, ...summary]),
    '',
    `![chart](replicate/results/${chart})`,
    '',
    '| arm | seed | safety examples | steps | wall s | CPU s |',
    '|---|---|---|---|---|---|',
    perArm,
    '',
    `Total: wall ${total.wall.toFixed(0)} s, CPU ${total.cpu.toFixed(0)} s (${threads} thread${threads > 1 ? 's' : ''}; 1-minute load average ${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end, on a 2-core machine shared with other jobs, so CPU time is the steadier measure)${earlier ? `; the first ${earlier.runs.length} runs come from earlier invocations (--add): ${earlier.timing.map((e) => `${e.runs} runs in wall ${e.wall.toFixed(0)} s, CPU ${e.cpu.toFixed(0)} s, ${e.threads} thread${e.threads > 1 ? 's' : ''}`).join('; ')}` : ''}${runs.length < planned ? `; ${runs.length} of the ${planned} planned runs done` : ''}.`,
  ].join('\n');
  console.log(`wrote ${writeResultsSection(`replicate-${preset.id}`, md)} and ${join(outDir, chart)}`);
}

// ---------------------------------------------------------------- the arms
const runs: RunScores[] = [...(earlier?.runs ?? [])];
for (const seed of seeds) {
  for (const arm of arms) {
    const t = stopwatch();
    const run = await trainArm({ aligned, arm, task, pool: data.pool, config: FINETUNE, seed, threads });
    let scores: ModelScores;
    try {
      scores = await evaluateModel(run.model, suites, { generation: EVAL_GENERATION, threads });
    } finally {
      await run.release();
    }
    const s = t.seconds();
    const r = score(arm.id, seed, scores, {
      safetyExamples: run.selected.length,
      selectedBehaviour: run.selectedBehaviour,
      steps: run.steps,
      wallSeconds: s.wall,
      cpuSeconds: s.cpu,
    });
    runs.push(r);
    show(r);
    console.log(
      `  ${run.steps} steps, ${run.examples} examples (${run.selected.length} safety: ${JSON.stringify(run.selectedBehaviour)}), final loss ${run.finalLoss.toFixed(3)} ${t.total()}`,
    );
    writeResults(runs);
  }
}
// runs only added from earlier files (no arm run here): write them out once
if (!seeds.length || !arms.length) writeResults(runs);
console.log(`\n${markdownTable([summarise([alignedRun])[0]!, ...summarise(runs)])}\n\ntotal ${clock.total()}`);
