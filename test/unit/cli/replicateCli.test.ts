/**
 * `safetune replicate --preset smoke --no-wait`: the project made and the set-up jobs (the two
 * imports and the model's inspection) queued, not run; a bad preset is refused naming the choices.
 * (The full path, set-up → grid → table, is the e2e replication test and `--preset smoke` by hand.)
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';

describe('safetune replicate', () => {
  let t: { dir: string; cleanup: () => void };
  beforeEach(() => {
    t = tempDir('safetune-replicate-cli-');
  });
  afterEach(() => t.cleanup());

  it('queues the set-up without running it: the grid is queued when its jobs succeed', async () => {
    const ws = join(t.dir, 'ws');
    const r = await cli(['replicate', '--preset', 'smoke', '--seed', '7', '--steps', '3', '--no-wait', '--workspace', ws, '--json']);
    expect(r.err).toMatch(
      /\[replicate\] project 1 "Miniature replication": setting up \(job 1: Import the SST-2 task data; job 2: Import the safety pool with its recorded types; job 3: Add the aligned model to the Models list\); the grid starts when they succeed/,
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out[0]!)).toEqual({ projectId: 1, experiment: null, alignedEvalJobId: null });
    const jobs = JSON.parse((await cli(['jobs', 'list', '--workspace', ws, '--json'])).out[0]!) as {
      type: string;
      state: string;
      params: Record<string, unknown>;
    }[];
    expect(jobs.map((j) => [j.type, j.state]).sort()).toEqual([
      ['data.import', 'queued'],
      ['data.import', 'queued'],
      ['model.inspect', 'queued'],
    ]);
    expect(jobs.find((j) => j.params.role === 'safety_pool')!.params).toMatchObject({ behaviourField: 'behaviour' });
  });

  it('refuses an unknown preset', async () => {
    const r = await cli(['replicate', '--preset', 'huge', '--workspace', join(t.dir, 'ws')]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/--preset must be one of quick, smoke, full, got "huge"/);
  });
});
