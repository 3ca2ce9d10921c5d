/** `safetune merge`: a mergekit YAML with relative paths, GGUF output, sweeps, and refused input. */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';
import { randomTensors, readFolder, SMALL, writeLlamaFolder } from '../merge/helpers';

const t = tempDir('merge-cli-');
afterAll(() => t.cleanup());
const ws = join(t.dir, 'ws');
const baseT = randomTensors(SMALL, 1);
writeLlamaFolder(join(t.dir, 'models', 'base'), SMALL, baseT);
writeLlamaFolder(join(t.dir, 'models', 'ft'), SMALL, randomTensors(SMALL, 2, baseT));
const yml = join(t.dir, 'models', 'merge.yml');
writeFileSync(yml, 'merge_method: task_arithmetic\nbase_model: base\nmodels:\n  - model: ft\n    parameters:\n      weight: 1.0\nparameters:\n  lambda: 0.5\n');

describe('safetune merge', () => {
  it('merges a mergekit YAML (paths relative to it) into a folder or a GGUF, as recorded jobs', async () => {
    const out = join(t.dir, 'out', 'merged');
    const r = await cli(['merge', '--config', yml, '--out', out, '--workspace', ws, '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({ outPath: out, format: 'hf', method: 'task_arithmetic', tensors: baseT.size });
    const g = await cli(['merge', '--config', yml, '--out', join(t.dir, 'out', 'merged.gguf'), '--threads', '1', '--workspace', ws]);
    expect(g.code, g.err).toBe(0);
    expect(g.out.join('\n')).toMatch(/wrote .*merged\.gguf \(GGUF, \d+ tensors/);
    const jobs = JSON.parse((await cli(['jobs', 'list', '--workspace', ws, '--json'])).out.join('\n')) as { type: string; state: string }[];
    expect(jobs.filter((j) => j.type === 'merge.run').map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    const again = await cli(['merge', '--config', yml, '--out', out, '--workspace', ws]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/already exists/);
  });

  it('sweeps a coefficient: one merge per value (lambda 0 is the base)', async () => {
    const dir = join(t.dir, 'sweep');
    const r = await cli(['merge', '--config', yml, '--out', dir, '--sweep', 'lambda=0,0.5,1', '--workspace', ws, '--json']);
    expect(r.code, r.err).toBe(0);
    const results = JSON.parse(r.out.join('\n')) as { outPath: string }[];
    expect(results.map((x) => x.outPath)).toEqual(['lambda-0', 'lambda-0.5', 'lambda-1'].map((n) => join(dir, n)));
    const zero = readFolder(join(dir, 'lambda-0'));
    for (const [name, v] of baseT) expect(Buffer.from(zero.get(name)!.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    const bad = await cli(['merge', '--config', yml, '--out', join(t.dir, 'sweep2'), '--sweep', 'density=0.5', '--workspace', ws]);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/density is not a numeric global parameter of task_arithmetic/);
  });

  it('queues a project coefficient sweep (merge per α into the workspace models/, then the Models list) and waits for it', async () => {
    const r = await cli([
      'merge',
      'sweep',
      '--aligned',
      join(t.dir, 'models', 'base'),
      '--fine-tuned',
      join(t.dir, 'models', 'ft'),
      '--alphas',
      '0,1',
      '--name',
      'cli',
      '--workspace',
      ws,
      '--json',
    ]);
    expect(r.code, r.err).toBe(0);
    const sweep = JSON.parse(r.out.join('\n')) as { outDir: string; points: { alpha: number; stage: string; modelPath: string; modelId: number | null }[] };
    expect(sweep.outDir).toBe(join(ws, 'models', 'sweep-cli'));
    expect(sweep.points.map((p) => [p.alpha, p.stage, p.modelPath])).toEqual([
      [0, 'done', join(sweep.outDir, 'lambda-0')],
      [1, 'done', join(sweep.outDir, 'lambda-1')],
    ]);
    expect(sweep.points.every((p) => p.modelId !== null)).toBe(true);
    const zero = readFolder(join(sweep.outDir, 'lambda-0'));
    for (const [name, v] of baseT) expect(Buffer.from(zero.get(name)!.buffer).equals(Buffer.from(v.buffer))).toBe(true);
    const twice = await cli([
      'merge',
      'sweep',
      '--aligned',
      join(t.dir, 'models', 'base'),
      '--fine-tuned',
      join(t.dir, 'models', 'ft'),
      '--alphas',
      '0.5,0.5',
      '--workspace',
      ws,
    ]);
    expect(twice.code).toBe(1);
    expect(twice.err).toMatch(/alphas: each α once/);
  });

  it('names the file, line and key of a bad config, and queues nothing', async () => {
    const badYml = join(t.dir, 'models', 'bad.yml');
    writeFileSync(badYml, 'merge_method: ties\nbase_model: base\nmodels:\n  - model: ft\n    parameters: {weight: 1, densty: 0.5}\n');
    const r = await cli(['merge', '--config', badYml, '--out', join(t.dir, 'never'), '--workspace', ws]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.yml:5: models\.0\.parameters\.densty: densty is not a parameter here; ties takes: weight, density/);
    expect(existsSync(join(t.dir, 'never'))).toBe(false);
    const zero = await cli(['merge', '--config', yml, '--out', join(t.dir, 'never'), '--threads', '0', '--workspace', ws]);
    expect(zero.err).toMatch(/threads: Too small/);
    const missing = await cli(['merge', '--out', join(t.dir, 'never')]);
    expect(missing.err).toMatch(/--config and --out are required/);
  });
});
