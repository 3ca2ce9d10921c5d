/**
 * The miniature replication end to end at unit size (seconds): the shipped data, a tiny aligned
 * model built from scratch (tokenizer, training, export), three arms fine-tuned a step each (plain,
 * SSS-B 1%, DER), every model evaluated by the eval core, results summarised. It checks that the
 * pipeline runs and its pieces fit together, not the research result (bench/replicate does that).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardLogits, loadModel, openModel } from '../../../src/main/engine';
import type { LoadedModel } from '../../../src/main/engine/model/loaded';
import { buildAligned } from '../../../src/main/replicate/aligned';
import { selectForArm, trainArm } from '../../../src/main/replicate/arms';
import { loadReplicationData, loadTaskPairs } from '../../../src/main/replicate/data';
import { evaluateModel, loadEvalSuites } from '../../../src/main/replicate/evaluate';
import { ALIGNED, ARMS, FINETUNE, type AlignedConfig } from '../../../src/main/replicate/recipe';
import { summarise, type RunScores } from '../../../src/main/replicate/report';
import { repoRoot } from '../../helpers/shared';

const DATA = join(repoRoot, 'resources', 'replication', 'data');
const tmp = mkdtempSync(join(tmpdir(), 'safetune-replicate-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function logitsOf(model: LoadedModel): Promise<Float32Array> {
  const rt = await openModel(model, { threads: 1, executionProvider: 'cpu' });
  try {
    return (await forwardLogits(rt, [[1, 5, 9, 30, 60]])).logits;
  } finally {
    await rt.release();
  }
}

const TINY: AlignedConfig = {
  ...ALIGNED,
  vocabSize: 320,
  hiddenSize: 32,
  numLayers: 1,
  numHeads: 2,
  intermediateSize: 64,
  maxPositions: 128,
  benign: 40,
  harmfulRepeat: 1,
  formVariants: 0,
  taskPrior: 0,
  steps: 2,
  batchSize: 4,
  warmupSteps: 1,
  maxLength: 48,
};

describe('the miniature replication pipeline', () => {
  it('builds an aligned model, fine-tunes arms, evaluates and summarises them', async () => {
    const full = loadReplicationData(DATA);
    const data = { ...full, alignHarmful: full.alignHarmful.slice(0, 40), alignBenign: full.alignBenign.slice(0, 40) };
    const task = (await loadTaskPairs(DATA)).slice(0, 100);
    const outDir = join(tmp, 'aligned');
    const built = await buildAligned({ data, task, config: TINY, outDir, threads: 1 });
    expect(built.losses).toHaveLength(2);
    expect(built.examples).toBe(80);
    for (const f of ['model.safetensors', 'config.json', 'tokenizer.json', 'tokenizer_config.json']) expect(existsSync(join(outDir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(outDir, 'tokenizer_config.json'), 'utf8')).chat_template).toContain('### Instruction:');
    const aligned = loadModel(outDir);
    expect(aligned.config.hiddenSize).toBe(32);

    const before = await logitsOf(aligned);

    const suites = await loadEvalSuites(DATA, { limit: 3 });
    expect([suites.advbench.items.length, suites.xstest.items.length, suites.sst2.items.length]).toEqual([3, 3, 3]);
    const generation = { maxNewTokens: 2, temperature: 0 };
    const runs: RunScores[] = [];
    for (const id of ['plain', 'sss-b-1%', 'der']) {
      const arm = ARMS.find((a) => a.id === id)!;
      const run = await trainArm({ aligned, arm, task, pool: data.pool, config: { ...FINETUNE, maxLength: 48 }, seed: 1, steps: 1, threads: 1 });
      try {
        expect(run.steps).toBe(1);
        expect(Number.isFinite(run.finalLoss)).toBe(true);
        const s = await evaluateModel(run.model, suites, { generation, threads: 1, batchSize: 4 });
        expect([s.refusal.n, s.overRefusal.n, s.task.n]).toEqual([3, 3, 3]);
        runs.push({ arm: id, seed: 1, refusal: s.refusal, overRefusal: s.overRefusal, task: s.task });
      } finally {
        await run.release();
      }
      if (id === 'plain') expect(run.selected).toEqual([]);
      if (id === 'sss-b-1%') {
        expect(run.selected).toHaveLength(1); // 1% of 100 task examples
        expect(run.examples).toBe(101);
        expect(data.pool[run.selected[0]!]!.behaviour).toBe('T1'); // the -B variants take refusals only
      }
      if (id === 'der') expect(run.examples).toBe(100); // DER's buffer is a loss term, not mixed in
    }
    // every arm starts from the aligned weights: fine-tuning leaves the aligned model as it was
    expect(Array.from(await logitsOf(aligned))).toEqual(Array.from(before));
    expect(summarise(runs).map((r) => r.arm)).toEqual(['plain', 'sss-b-1%', 'der']);
    // the same seed selects the same examples
    const arm = ARMS.find((a) => a.id === 'sss-b-5%')!;
    expect(Array.from(selectForArm(data.pool, arm, 7, 1000)!.indices)).toEqual(Array.from(selectForArm(data.pool, arm, 7, 1000)!.indices));
  }, 240_000);
});
