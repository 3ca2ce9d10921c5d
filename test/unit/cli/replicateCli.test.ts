/**
 * `safetune replicate --preset smoke --no-wait`: the project, data sets and model set up and the
 * smoke grid's first jobs queued (not run); a bad preset is refused naming the choices.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Experiment } from '../../../src/shared/experiments';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';

describe('safetune replicate', () => {
  let t: { dir: string; cleanup: () => void };
  beforeEach(() => {
    t = tempDir('safetune-replicate-cli-');
  });
  afterEach(() => t.cleanup());

  it('queues the smoke grid without running it', async () => {
    const ws = join(t.dir, 'ws');
    const r = await cli(['replicate', '--preset', 'smoke', '--seed', '7', '--steps', '3', '--no-wait', '--workspace', ws, '--json']);
    expect(r.err).toMatch(/\[replicate\] project 1 "Miniature replication": experiment 1, 2 arms × 1 seeds/);
    expect(r.code).toBe(0);
    const { experiment } = JSON.parse(r.out[0]!) as { projectId: number; experiment: Experiment };
    expect(experiment.cells.map((c) => [c.arm, c.seed, c.stage, c.state])).toEqual([
      ['plain', 7, 'train', 'queued'],
      ['sss-b-1%', 7, 'select', 'queued'],
    ]);
    expect(experiment.arms.map((a) => [a.name, a.method, a.mode, a.selection])).toEqual([
      ['plain', 'plain', 'full', 'none'],
      ['sss-b-1%', 'replay', 'full', 'sss-b · 1%'],
    ]);
    const jobs = JSON.parse((await cli(['jobs', 'list', '--workspace', ws, '--json'])).out[0]!) as {
      type: string;
      state: string;
      params: Record<string, unknown>;
    }[];
    expect(jobs.map((j) => [j.type, j.state]).sort()).toEqual([
      ['eval.run', 'queued'],
      ['select.run', 'queued'],
      ['train.run', 'queued'],
    ]);
    // the aligned model's own evaluation, with the grid's settings
    expect(jobs.find((j) => j.type === 'eval.run')!.params).toMatchObject({
      model: { kind: 'engine' },
      limit: 8,
      sampling: { maxNewTokens: 24, temperature: 0 },
    });
    expect(jobs.find((j) => j.type === 'train.run')!.params).toMatchObject({ maxSteps: 3, seed: 7, mode: 'full', template: 'chat' });
  });

  it('refuses an unknown preset', async () => {
    const r = await cli(['replicate', '--preset', 'huge', '--workspace', join(t.dir, 'ws')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--preset must be one of quick, smoke, full, got "huge"/);
  });
});
