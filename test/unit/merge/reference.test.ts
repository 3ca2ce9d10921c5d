/**
 * Exactness: every merge method against the numpy reference of mergekit's semantics
 * (test/fixtures/merge/make_merge_reference.py) on tiny random Llama-shaped folders, read whole and
 * streamed in chunks of a few hundred values (TIES' top-k and SLERP's norms then span chunks).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { parseMergeYaml, runMerge } from '../../../src/main/merge';
import { repoRoot } from '../../helpers/shared';

const FIX = join(repoRoot, 'test', 'fixtures', 'merge');
const { tolerance, cases } = JSON.parse(readFileSync(join(FIX, 'cases.json'), 'utf8')) as {
  tolerance: number;
  cases: { name: string; yaml: string; expected: string }[];
};
const tmp = mkdtempSync(join(tmpdir(), 'merge-ref-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function maxDiff(outDir: string, expectedPath: string): { worst: number; tensor: string; count: number } {
  const got = new SafetensorsFile(join(outDir, 'model.safetensors'));
  const want = new SafetensorsFile(join(FIX, expectedPath));
  expect([...got.tensors.keys()].sort()).toEqual([...want.tensors.keys()].sort());
  let worst = 0;
  let tensor = '';
  for (const name of want.tensors.keys()) {
    expect(got.info(name).shape).toEqual(want.info(name).shape);
    const a = got.readF32(name);
    const b = want.readF32(name);
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      if (!(d <= worst)) {
        worst = d;
        tensor = name;
      }
    }
  }
  return { worst, tensor, count: want.tensors.size };
}

describe('merge methods equal the numpy reference of mergekit’s semantics', () => {
  for (const c of cases) {
    it(`${c.name}: whole tensors and 300-value chunks, within ${tolerance}`, async () => {
      const config = parseMergeYaml(c.yaml, `${c.name}.yml`, FIX);
      const whole = join(tmp, `${c.name}-whole`);
      await runMerge(config, whole);
      const r1 = maxDiff(whole, c.expected);
      expect(r1.worst, `worst tensor ${r1.tensor}`).toBeLessThan(tolerance);
      const chunked = join(tmp, `${c.name}-chunked`);
      const slots = config.models.length + 1;
      await runMerge(config, chunked, { chunkBudgetBytes: 300 * (4 * slots + 9) });
      const r2 = maxDiff(chunked, c.expected);
      expect(r2.worst, `worst tensor ${r2.tensor}`).toBeLessThan(tolerance);
    });
  }
});
