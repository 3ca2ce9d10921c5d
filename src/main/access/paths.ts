/**
 * Path rules of the access policy: resolving a path the way the file system will (symlinks and
 * `..` included, even for a file that does not exist yet), containment, and the folders that are
 * never granted (the whole disk, the home folder itself, key stores and system folders).
 */
import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, parse, relative, resolve, sep } from 'node:path';
import { AppError } from '../../shared/errors';

/** Where the user's folders are: injectable so tests can use a fake home. */
export interface PathEnv {
  home: string;
  platform: NodeJS.Platform;
  env: NodeJS.ProcessEnv;
}

export function defaultPathEnv(): PathEnv {
  return { home: homedir(), platform: process.platform, env: process.env };
}

/** Symlinks followed while resolving one path before giving up (the kernel's own limit is 40). */
const MAX_LINKS = 40;

/**
 * The real location of an absolute path: `..` removed and every symlink followed. A path that does
 * not exist (yet) resolves through its nearest existing folder, so `/granted/link/new.txt` with
 * `link → /etc` resolves to `/etc/new.txt`.
 */
export function canonicalPath(path: string, what = 'path'): string {
  if (!isAbsolute(path)) throw new AppError('invalid_input', `${what} must be an absolute path on the machine running the workbench, got "${path}"`, { path });
  return resolveLinks(resolve(path), 0, path);
}

function resolveLinks(abs: string, depth: number, original: string): string {
  if (depth > MAX_LINKS) throw new AppError('invalid_input', `${original}: too many levels of symbolic links`, { path: original });
  try {
    return realpathSync.native(abs);
  } catch {
    // Missing (or a dangling link somewhere): resolve the nearest ancestor that exists, then follow.
  }
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    let isLink = false;
    try {
      isLink = lstatSync(at).isSymbolicLink();
    } catch {
      const up = dirname(at);
      if (up === at) return abs;
      missing.unshift(parse(at).base);
      at = up;
      continue;
    }
    if (isLink) {
      // A link to something missing: continue from where it points.
      const target = resolve(dirname(at), readlinkSync(at));
      return resolveLinks(join(target, ...missing), depth + 1, original);
    }
    let real: string;
    try {
      real = realpathSync.native(at);
    } catch {
      real = at;
    }
    return join(real, ...missing);
  }
}

/** True when `path` is `folder` or inside it (both already canonical). */
export function isInside(path: string, folder: string, platform: NodeJS.Platform = process.platform): boolean {
  const fold = platform === 'win32' || platform === 'darwin';
  const p = fold ? path.toLowerCase() : path;
  const f = fold ? folder.toLowerCase() : folder;
  const rel = relative(f, p);
  return rel === '' || (!isAbsolute(rel) && rel !== '..' && !rel.startsWith('..' + sep));
}

/** Folders whose contents are never granted, resolved (so macOS's /etc → /private/etc counts too). */
export function secretFolders(e: PathEnv): string[] {
  const h = e.home;
  const inHome = [
    '.ssh',
    '.gnupg',
    '.aws',
    '.azure',
    '.config',
    '.kube',
    '.docker',
    '.password-store',
    '.local/share/keyrings',
    '.netrc',
    '.pgpass',
    '.git-credentials',
    'Library/Keychains',
  ].map((d) => join(h, d));
  const system =
    e.platform === 'win32'
      ? [e.env.SystemRoot ?? 'C:\\Windows', join(h, 'AppData'), e.env.ProgramData ?? 'C:\\ProgramData']
      : ['/etc', '/proc', '/sys', '/dev', '/boot', '/run', '/var/run', '/private/etc', '/private/var/db'];
  const all = [...inHome, ...system];
  return [...new Set([...all, ...all.map((p) => canonicalPath(p))])];
}

/**
 * Refuses granting a folder or file that would expose too much: the disk root, the home folder
 * (or a folder holding it), a folder holding a secret folder, or anything inside one. Throws
 * `forbidden` naming the path and what to grant instead.
 */
export function assertGrantable(path: string, kind: 'folder' | 'file', e: PathEnv): void {
  const inside = secretFolders(e).find((s) => isInside(path, s, e.platform));
  if (inside) {
    throw new AppError(
      'forbidden',
      `${path} cannot be granted: ${inside} holds keys, settings or system files. Grant the folder that holds your data instead.`,
      { path },
    );
  }
  const tooBroad = kind === 'folder' ? whyTooBroad(path, e) : null;
  if (tooBroad) throw new AppError('forbidden', `${path} ${tooBroad} and cannot be granted. Grant the folder that holds your data instead.`, { path });
}

/**
 * Why a folder is too broad to read as a whole — it is the disk root, or holds the home folder or
 * a folder of keys and system files — or null when it is not.
 */
export function whyTooBroad(path: string, e: PathEnv): string | null {
  if (parse(path).root === path) return 'is the whole disk';
  const home = canonicalPath(e.home);
  if (isInside(home, path, e.platform)) return home === path ? 'is your home folder (it holds your keys and settings)' : `holds your home folder ${home}`;
  const holds = secretFolders(e).find((s) => isInside(s, path, e.platform));
  return holds ? `holds ${holds} (keys, settings or system files)` : null;
}
