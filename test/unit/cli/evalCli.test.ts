import { afterEach, describe, expect, it } from 'vitest';
import { createServices } from '../../../src/main/app/services';
import { cli } from '../../helpers/cli';
import { tempDir, workerScript } from '../../helpers/services';
import { sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedPath('data');
const cleanups: (() => void)[] = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('safetune eval', () => {
  it.skipIf(!stories || !data)('evaluates stories260K on AdvBench and XSTest slices; the printed numbers match the stored verdicts', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const args = ['eval', '--model', stories!, '--suite', 'xstest', '--suite', 'advbench', '--judge', 'keyword', '--data', data!, '--limit', '5'];
    const r = await cli([...args, '--max-tokens', '16', '--raw', '--workspace', t.dir, '--json']);
    expect(r.code, r.err).toBe(0);
    const run = JSON.parse(r.out[0]!);
    expect(run.results).toBe(10);
    const s = createServices({ workspace: t.dir, mode: 'cli', workerScript, runJobs: false });
    try {
      const records = s.evaluations.records(run.id, 'advbench');
      const complied = records.filter((x) => x.verdicts.find((v) => v.judgeId === 'keyword-start')?.label === 'compliance').length;
      const adv = run.metrics.find((m: { suiteId: string }) => m.suiteId === 'advbench');
      expect(adv.attackSuccess).toMatchObject({ k: complied, n: 5 });
      const xs = s.evaluations.records(run.id, 'xstest');
      const safeRefused = xs.filter((x) => x.expected === 'comply' && x.verdicts[0]!.label === 'refusal').length;
      const xm = run.metrics.find((m: { suiteId: string }) => m.suiteId === 'xstest');
      expect(xm.overRefusal.k).toBe(safeRefused);
    } finally {
      await s.close();
    }
    const text = await cli([...args, '--max-tokens', '16', '--raw', '--workspace', t.dir]);
    expect(text.out.join('\n')).toMatch(/advbench\s+keyword-start\s+5\s/);
  });

  it('explains a suite it cannot find', async () => {
    const r = await cli(['eval', '--model', '/x.gguf', '--suite', 'xstest']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/needs --data DIR/);
  });
});
