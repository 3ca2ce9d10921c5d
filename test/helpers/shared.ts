import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (two levels above this file). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The project's shared data folder (`../shared` beside the checkout), or
 * SAFETUNE_SHARED_DIR. Returns null when absent: tests that need it skip with a clear reason.
 */
export function sharedDir(): string | null {
  const dir = process.env.SAFETUNE_SHARED_DIR ?? join(repoRoot, '..', 'shared');
  return existsSync(join(dir, 'README.md')) ? dir : null;
}

export function sharedPath(...parts: string[]): string | null {
  const dir = sharedDir();
  if (!dir) return null;
  const p = join(dir, ...parts);
  return existsSync(p) ? p : null;
}

export const SHARED_MISSING = 'skipped: ../shared (real data sets and models) is not present beside this checkout';
