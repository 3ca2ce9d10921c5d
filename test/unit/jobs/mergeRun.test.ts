/** The merge.run job: progress in bytes with an ETA, the result, refused params, and cancel. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import type { MergeRunResult } from '../../../src/shared/merge';
import { tempDir, testServices } from '../../helpers/services';
import { randomTensors, writeLlamaFolder, type LlamaShape } from '../merge/helpers';

const t = tempDir('merge-job-');
// every progress update is stored, so a merge faster than the usual 200 ms throttle still shows its per-tensor message
const s: Services = testServices(t.dir, { progressIntervalMs: 0 });
afterAll(async () => {
  await s.close();
  t.cleanup();
});

// ~8M parameters a model (32 MB in F32): big enough to cancel mid-merge
const SHAPE: LlamaShape = { vocab: 2048, hidden: 256, layers: 8, heads: 8, kvHeads: 4, ff: 1024 };
const baseT = randomTensors(SHAPE, 1);
const base = writeLlamaFolder(join(t.dir, 'base'), SHAPE, baseT);
const ft1 = writeLlamaFolder(join(t.dir, 'ft1'), SHAPE, randomTensors(SHAPE, 2, baseT));
const ft2 = writeLlamaFolder(join(t.dir, 'ft2'), SHAPE, randomTensors(SHAPE, 3, baseT));
const config = {
  method: 'ties',
  base: { modelPath: base },
  models: [
    { model: { modelPath: ft1 }, parameters: { weight: 1, density: 0.5 } },
    { model: { modelPath: ft2 }, parameters: { weight: 0.5, density: 0.5 } },
  ],
};

describe('merge.run job', () => {
  it('merges with progress in bytes and an ETA, and records the result', async () => {
    const outPath = join(t.dir, 'merged');
    const messages: string[] = [];
    const off = s.events.on('job.updated', (j) => messages.push(j.progress.message));
    const job = s.jobs.enqueue('merge.run', { config, outPath });
    expect(job.title).toBe('TIES merge → merged');
    const done = await s.jobs.waitFor(job.id, 120_000);
    off();
    expect(done.error).toBeNull();
    const r = done.result as MergeRunResult;
    expect(r).toMatchObject({ outPath, format: 'hf', method: 'ties', tensors: baseT.size });
    expect(r.bytesRead).toBe(3 * 4 * [...baseT.values()].reduce((n, v) => n + v.length, 0));
    expect(readdirSync(outPath)).toContain('mergekit_config.yml');
    expect(messages.some((m) => /\d+\/\d+ tensors · [\d.]+ MiB of [\d.]+ MiB read · \d+ s left · [\w.]+$/.test(m))).toBe(true);
  });

  it('refuses bad params before queueing, naming the field', () => {
    const bad = { ...config, models: [{ model: { modelPath: ft1 }, parameters: { weight: 1, density: 2 } }] };
    expect(() => s.jobs.enqueue('merge.run', { config: bad, outPath: join(t.dir, 'bad') })).toThrow(
      /2: must be in \(0, 1\] .*\n.*at config\.models\[0\]\.parameters\.density/,
    );
  });

  it('a cancelled merge leaves nothing behind', async () => {
    const outPath = join(t.dir, 'cancelled');
    const job = s.jobs.enqueue('merge.run', { config, outPath });
    let cancelled = false;
    const off = s.events.on('job.updated', (j) => {
      if (j.id === job.id && !cancelled && /tensors/.test(j.progress.message)) {
        cancelled = true;
        s.jobs.cancel(job.id);
      }
    });
    const done = await s.jobs.waitFor(job.id, 120_000);
    off();
    expect(done.state).toBe('cancelled');
    expect(existsSync(outPath)).toBe(false);
    expect(readdirSync(t.dir).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});
