/**
 * New files and folders under names the app chooses, never over an existing file or folder (a
 * numeric suffix is added instead), in the workspace's own output folders: the write rules of the
 * access policy (src/main/access), used by the app and by jobs that write their own outputs.
 */
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { AppError } from '../../shared/errors';

/** The workspace folder training mixes are exported to. */
export function exportsFolder(workspace: string): string {
  return join(workspace, 'exports');
}

/** The workspace folder merged models are written to. */
export function modelsFolder(workspace: string): string {
  return join(workspace, 'models');
}

/** Names tried before giving up (`name`, `name-2` … `name-1000`). */
const MAX_SUFFIX = 1000;
const MAX_STEM = 80;

/** A file-name stem from user text: letters, digits, `.`, `_`, `+` and `-` only, no leading dot or dash, bounded. */
export function safeStem(text: string, fallback = 'export'): string {
  const s = text
    .replace(/[^\w.+-]+/g, '_')
    .replace(/^[._+-]+/, '')
    .replace(/\.+$/, '')
    .slice(0, MAX_STEM);
  return s === '' ? fallback : s;
}

/**
 * Creates a new empty file `dir/stem.ext` (or `stem-2.ext`, …) that did not exist before — created
 * exclusively, so an existing file or link is never overwritten — and returns its path.
 */
export function claimNewFile(dir: string, stem: string, ext: string): string {
  return claim(
    dir,
    stem,
    (n) => `${n}${ext}`,
    (p) => closeSync(openSync(p, 'wx')),
  );
}

/** Creates a new empty folder `dir/stem` (or `stem-2`, …) that did not exist before and returns its path. */
export function claimNewFolder(dir: string, stem: string): string {
  return claim(
    dir,
    stem,
    (n) => n,
    (p) => mkdirSync(p),
  );
}

function claim(dir: string, stem: string, name: (n: string) => string, create: (path: string) => void): string {
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= MAX_SUFFIX; i++) {
    const path = join(dir, name(i === 1 ? stem : `${stem}-${i}`));
    try {
      create(path);
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new AppError('invalid_input', `Cannot write ${path}: ${(e as Error).message}`, { path });
    }
  }
  throw new AppError('conflict', `${join(dir, name(stem))} and ${MAX_SUFFIX - 1} numbered copies already exist: remove some first`, { dir });
}
