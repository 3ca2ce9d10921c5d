import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeOf, nodeVersionProblem, requiredNodeVersion } from '../../../scripts/node-version.js';
import { repoRoot } from '../../helpers/shared';

const pkg = join(repoRoot, 'package.json');

describe('Node.js version check of npm start and the safetune command', () => {
  it('reads the minimum from package.json engines and compares versions numerically', () => {
    expect(requiredNodeVersion(pkg)).toEqual([22, 12, 0]);
    expect(nodeVersionProblem(pkg, '22.12.0')).toBeNull();
    expect(nodeVersionProblem(pkg, '22.23.3')).toBeNull();
    expect(nodeVersionProblem(pkg, '23.0.0')).toBeNull();
    expect(nodeVersionProblem(pkg, '22.9.0')).toMatch(/needs Node\.js >= 22\.12\.0 .*this is Node\.js v22\.9\.0/);
    expect(nodeVersionProblem(pkg, '20.19.2')).toMatch(/needs Node\.js >= 22\.12\.0/);
  });

  it('passes a child’s end on: its exit code, or 128 + the signal number, never 0 for a crash', () => {
    const signals = { SIGINT: 2, SIGKILL: 9, SIGSEGV: 11, SIGABRT: 6 };
    expect(exitCodeOf(0, null, signals)).toBe(0);
    expect(exitCodeOf(2, null, signals)).toBe(2);
    expect(exitCodeOf(null, 'SIGSEGV', signals)).toBe(139);
    expect(exitCodeOf(null, 'SIGABRT', signals)).toBe(134);
  });

  // Debian's /usr/bin/node is older than the workbench needs: both entry points must say so and fail.
  const oldNode = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => {
    if (!existsSync(p)) return false;
    const v = spawnSync(p, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return v !== '' && nodeVersionProblem(pkg, v) !== null;
  });
  it.skipIf(!oldNode)('npm start and safetune refuse an older Node.js with a clear message and a non-zero exit', () => {
    for (const script of [join(repoRoot, 'scripts', 'start.js'), join(repoRoot, 'bin', 'safetune.js')]) {
      const r = spawnSync(oldNode!, [script, '--browser', '--no-open'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, CI: '1' } });
      expect(r.status, `${script}: ${r.stdout}${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/^SafeTune Workbench needs Node\.js >= 22\.12\.0 \(package\.json "engines"\); this is Node\.js v\d+\.\d+\.\d+\./);
      expect(r.stdout).not.toMatch(/browser mode/);
    }
  });
});
