import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/shared';
import { tempDir } from '../../helpers/services';

const t = tempDir('safetune-summary-');
afterAll(() => t.cleanup());

function report(name: string, statuses: string[]): string {
  const file = join(t.dir, name);
  const count = (s: string) => statuses.filter((x) => x === s).length;
  writeFileSync(
    file,
    JSON.stringify({
      numPassedTests: count('passed'),
      numFailedTests: count('failed'),
      numPendingTests: count('skipped'),
      numTodoTests: 0,
      testResults: [{ name: join(repoRoot, 'test/unit/x.test.ts'), assertionResults: statuses.map((status, i) => ({ status, fullName: `case ${i}` })) }],
    }),
  );
  return file;
}

function summary(files: string[], env: Record<string, string>) {
  const { CI: _ci, SAFETUNE_ALLOW_SKIPS: _allow, ...rest } = process.env;
  const r = spawnSync(process.execPath, [join(repoRoot, 'scripts/test-summary.js'), ...files], { cwd: repoRoot, env: { ...rest, ...env }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout };
}

describe('scripts/test-summary.js', () => {
  it('fails in CI when a test was skipped, and names it', () => {
    const file = report('skips.json', ['passed', 'skipped', 'passed']);
    const ci = summary([file], { CI: 'true' });
    expect(ci.code).toBe(1);
    expect(ci.out).toContain('tests: 2 passed, 0 failed, 1 skipped');
    expect(ci.out).toContain('skipped: test/unit/x.test.ts > case 1');
    expect(summary([file], { CI: 'true', SAFETUNE_ALLOW_SKIPS: '1' }).code).toBe(0);
    expect(summary([file], {}).code).toBe(0);
  });

  it('fails on a failed test or a missing report, and passes a clean run', () => {
    expect(summary([report('fail.json', ['passed', 'failed'])], {}).code).toBe(1);
    expect(summary([join(t.dir, 'absent.json')], {}).code).toBe(1);
    expect(summary([report('clean.json', ['passed', 'passed'])], { CI: 'true' })).toEqual({ code: 0, out: 'tests: 2 passed, 0 failed, 0 skipped\n' });
  });
});
