import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServices, type ServiceOptions, type Services } from '../../src/main/app/services';
import { testJobModules, testJobsUrl } from '../fixtures/jobs/testJobs';

export const workerScript = fileURLToPath(new URL('../../src/main/jobs/worker.ts', import.meta.url));

export function tempDir(prefix = 'safetune-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Services over a workspace, with the test job types available to the runner and its workers. */
export function testServices(workspace: string, opts: Partial<ServiceOptions> = {}): Services {
  return createServices({
    workspace,
    mode: 'cli',
    workerScript,
    extraJobModules: { modules: testJobModules, workerUrls: [testJobsUrl] },
    ...opts,
  });
}
