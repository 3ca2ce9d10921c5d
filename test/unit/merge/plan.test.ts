/**
 * The merge plan (the Merge tab's preview): its output size is what runMerge writes, byte for byte,
 * for every output kind (one safetensors file, shards with an index, GGUF from a folder or a GGUF,
 * an adapter applied on the fly), and its memory figures follow the chunk budget and the threads.
 * Planning writes nothing.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/main/engine';
import { exportGguf } from '../../../src/main/engine/gguf/export';
import { planMerge, runMerge, toMergeYaml } from '../../../src/main/merge';
import { MergeConfig, type MergeConfigInput } from '../../../src/shared/merge';
import { writeRandomAdapter } from '../../helpers/lora';
import { tempDir } from '../../helpers/services';
import { llamaShapes, randomTensors, SMALL, writeLlamaFolder } from './helpers';

const t = tempDir('merge-plan-');
afterAll(() => t.cleanup());
const dir = (name: string) => join(t.dir, name);
const cfg = (c: MergeConfigInput) => MergeConfig.parse(c);

const baseT = randomTensors(SMALL, 1);
const base = writeLlamaFolder(dir('base'), SMALL, baseT);
const ft1 = writeLlamaFolder(dir('ft1'), SMALL, randomTensors(SMALL, 2, baseT));
const ft2 = writeLlamaFolder(dir('ft2'), SMALL, randomTensors(SMALL, 3, baseT));
const ties = (extra: Partial<MergeConfigInput> = {}) =>
  cfg({
    method: 'ties',
    base: { modelPath: base },
    models: [
      { model: { modelPath: ft1 }, parameters: { weight: 1, density: 0.5 } },
      { model: { modelPath: ft2 }, parameters: { weight: 0.5, density: 0.5 } },
    ],
    ...extra,
  });

/** Bytes on disk of a file, or of every file in a folder. */
function du(path: string): number {
  const st = statSync(path);
  if (st.isFile()) return st.size;
  return readdirSync(path).reduce((s, f) => s + du(join(path, f)), 0);
}

const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
const largestNumel = Math.max(...[...llamaShapes(SMALL).values()].map(numel));

describe('planMerge', () => {
  it('gives the output size runMerge writes: a folder, shards with an index, GGUF from a folder and from a GGUF, an adapter', async () => {
    const baseGguf = dir('base-f32.gguf');
    exportGguf(loadModel(base), baseGguf, { type: 'F32' });
    const adapter = dir('adapter');
    writeRandomAdapter(adapter, loadModel(base), ['q_proj', 'v_proj'], 4, 8, 9);
    const cases: [string, MergeConfig, { maxShardBytes?: number; yaml?: boolean }][] = [
      ['folder.hf', ties(), { yaml: true }],
      ['folder-f16', ties({ dtype: 'float16' }), {}],
      ['sharded', ties(), { maxShardBytes: 16 * 1024, yaml: true }],
      ['from-folder.gguf', ties(), {}],
      ['from-gguf.gguf', ties({ base: { modelPath: baseGguf }, dtype: 'float32' }), {}],
      [
        'with-adapter',
        cfg({
          method: 'task_arithmetic',
          base: { modelPath: base },
          models: [{ model: { modelPath: base, adapterPath: adapter }, parameters: { weight: 0.5 } }],
        }),
        {},
      ],
    ];
    for (const [name, c, o] of cases) {
      const out = dir(name);
      const opts = { ...(o.maxShardBytes ? { maxShardBytes: o.maxShardBytes } : {}), ...(o.yaml ? { mergeYaml: toMergeYaml(c) } : {}) };
      const plan = await planMerge(c, out, opts);
      expect(() => statSync(out), `${name}: planning writes nothing`).toThrow();
      const r = await runMerge(c, out, opts);
      expect(plan.outputBytes, name).toBe(du(out));
      expect(plan.format, name).toBe(r.format);
      expect(plan.tensors, name).toBe(r.tensors);
      expect(plan.bytesRead, name).toBe(r.bytesRead);
    }
    expect(readdirSync(dir('sharded')).filter((f) => f.endsWith('.safetensors')).length).toBeGreaterThan(3);
  });

  it('sizes memory from the chunk budget, the largest tensor and the threads, and reads the free disk', async () => {
    const slots = 3; // TIES: the base and two models
    const whole = await planMerge(ties(), dir('p1'));
    // the default budget holds the largest tensor in one chunk: its float32 per input, its mask, its read and write buffers
    expect(whole.largestTensorElements).toBe(largestNumel);
    expect(whole.largestTensorBytes).toBe(largestNumel * 4);
    expect(whole.bufferBytes).toBe(largestNumel * (4 * slots + 9));
    expect(whole.threads).toBe(1);
    // a small budget streams the tensor in chunks: less memory; two threads: two sets of buffers and a worker each
    const chunked = await planMerge(ties(), dir('p2'), { chunkBudgetBytes: 40_000 });
    expect(chunked.bufferBytes).toBeLessThan(whole.bufferBytes);
    expect(chunked.bufferBytes).toBeLessThanOrEqual(40_000 + 4 * SMALL.hidden * 9);
    const two = await planMerge(ties(), dir('p3'), { chunkBudgetBytes: 40_000, threads: 2 });
    expect(two.threads).toBe(2);
    expect(two.peakMemoryBytes).toBeGreaterThan(chunked.peakMemoryBytes);
    expect(whole.peakMemoryBytes).toBeGreaterThan(whole.bufferBytes);
    expect(whole.freeBytes).toBeGreaterThan(0);
  });

  it('refuses what runMerge refuses, naming the tensor', async () => {
    const other = writeLlamaFolder(dir('other'), { ...SMALL, ff: 48 }, randomTensors({ ...SMALL, ff: 48 }, 4));
    await expect(planMerge(ties({ models: [{ model: { modelPath: other }, parameters: { weight: 1 } }] }), dir('bad'))).rejects.toThrow(
      /intermediateSize is 48/,
    );
    await expect(planMerge(ties({ base: { modelPath: dir('base-f32.gguf') } }), dir('bad-folder'))).rejects.toThrow(/give an output path ending in \.gguf/);
  });
});
