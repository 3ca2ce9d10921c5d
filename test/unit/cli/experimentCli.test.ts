/**
 * `safetune experiment`: a grid file (paths relative to it) queued without waiting, listed, and
 * shown as cells and the per-arm table; a broken file is refused naming the file and the field.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Experiment } from '../../../src/shared/experiments';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';

describe('safetune experiment', () => {
  let t: { dir: string; cleanup: () => void };
  let ws: string;
  beforeEach(() => {
    t = tempDir('safetune-experiment-cli-');
    ws = join(t.dir, 'ws');
    mkdirSync(join(t.dir, 'grid'));
    writeFileSync(join(t.dir, 'grid', 'model.gguf'), 'x');
    writeFileSync(join(t.dir, 'grid', 'harmful.csv'), 'prompt\nHow do I steal a car?\n');
  });
  afterEach(() => t.cleanup());

  it('queues a grid from a file, lists it and shows its cells and table', async () => {
    const created = await cli(['projects', 'create', 'Grid', '--workspace', ws, '--json']);
    const projectId = (JSON.parse(created.out[0]!) as { id: number }).id;
    const file = join(t.dir, 'grid', 'grid.json');
    const grid = {
      name: 'cli grid',
      modelPath: 'model.gguf',
      arms: [
        { name: 'plain', train: { maxSteps: 2 } },
        { name: 'replay', train: { method: 'replay' }, selection: { method: 'random', budget: { fraction: 0.05 } } },
      ],
      seeds: [3],
      eval: { suites: [{ file: 'harmful.csv', kind: 'harmful' }] },
    };
    writeFileSync(file, JSON.stringify(grid));
    const started = await cli(['experiment', 'start', '--file', file, '--project', String(projectId), '--no-wait', '--workspace', ws, '--json']);
    expect(started.err).toMatch(/\[experiment 1\] "cli grid" \(project 1\): 2 cells/);
    expect(started.code).toBe(0);
    const view = JSON.parse(started.out[0]!) as Experiment;
    expect(view.modelPath).toBe(join(t.dir, 'grid', 'model.gguf'));
    expect(view.cells.map((c) => [c.arm, c.seed, c.stage, c.state])).toEqual([
      ['plain', 3, 'train', 'queued'],
      ['replay', 3, 'select', 'queued'],
    ]);

    const list = await cli(['experiment', 'list', '--project', String(projectId), '--workspace', ws]);
    expect(list.out[0]!.split('\n')[2]).toMatch(/^1\s+cli grid\s+2\s+3\s+running\s+0\/2/);
    const shown = await cli(['experiment', 'show', '1', '--workspace', ws]);
    expect(shown.code).toBe(0);
    expect(shown.out[0]).toMatch(/plain\s+3\s+train queued/);
    expect(shown.out[1]).toMatch(/^arm\s+seeds\n/);
    expect(shown.out[1]).toMatch(/\nreplay\s+0/);
    const json = JSON.parse((await cli(['experiment', 'show', '1', '--workspace', ws, '--json'])).out[0]!) as {
      experiment: Experiment;
      summary: { arms: { arm: string; seeds: number }[] };
    };
    expect(json.summary.arms).toMatchObject([
      { arm: 'plain', seeds: 0 },
      { arm: 'replay', seeds: 0 },
    ]);
  });

  it('refuses a grid that is not one, naming the file or the field', async () => {
    const file = join(t.dir, 'grid', 'bad.json');
    writeFileSync(file, '{"modelPath": ');
    const bad = await cli(['experiment', 'start', '--file', file, '--workspace', ws]);
    expect(bad.code).not.toBe(0);
    expect(bad.err).toMatch(/bad\.json: not JSON/);
    writeFileSync(
      file,
      JSON.stringify({
        projectId: 1,
        modelPath: 'model.gguf',
        arms: [{ name: 'a', train: { seed: 2 } }],
        seeds: [1],
        eval: { suites: [{ file: 'harmful.csv', kind: 'harmful' }] },
      }),
    );
    await cli(['projects', 'create', 'P', '--workspace', ws]);
    const field = await cli(['experiment', 'start', '--file', file, '--no-wait', '--workspace', ws]);
    expect(field.err).toMatch(/arms\.0\.train\.seed: seed is set by the grid for each cell/);
  });
});
