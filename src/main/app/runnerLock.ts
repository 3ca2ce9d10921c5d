import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/errors';

/**
 * One process per workspace runs jobs (the app window, browser mode, or a CLI job). The lock file
 * holds its pid; a lock whose process is gone is stale and taken over.
 */
const heldHere = new Set<string>();

export function acquireRunnerLock(workspace: string): () => void {
  const path = join(workspace, 'runner.lock');
  if (heldHere.has(path)) {
    throw new AppError(
      'conflict',
      `Another SafeTune Workbench process (pid ${process.pid}, this one) is using the workspace ${workspace}.`,
      { pid: process.pid, workspace },
    );
  }
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      heldHere.add(path);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        heldHere.delete(path);
        rmSync(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new AppError(
          'conflict',
          `Another SafeTune Workbench process (pid ${pid}) is using the workspace ${workspace}. ` +
            'Close it first, or choose another workspace with --workspace DIR.',
          { pid, workspace },
        );
      }
      rmSync(path, { force: true });
    }
  }
  throw new AppError('conflict', `Could not lock the workspace ${workspace}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
