import { mkdirSync } from 'node:fs';
import { homedir, platform } from 'node:os';
import { join, resolve } from 'node:path';

export const APP_DIR_NAME = 'SafeTune Workbench';
export const DATABASE_FILE = 'safetune.db';

/** The OS user-data directory for the app (the same folder Electron's `userData` points at). */
export function defaultWorkspaceDir(env: NodeJS.ProcessEnv = process.env): string {
  const home = homedir();
  switch (platform()) {
    case 'win32':
      return join(env.APPDATA ?? join(home, 'AppData', 'Roaming'), APP_DIR_NAME);
    case 'darwin':
      return join(home, 'Library', 'Application Support', APP_DIR_NAME);
    default:
      return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), APP_DIR_NAME);
  }
}

/** `--workspace DIR` wins over SAFETUNE_WORKSPACE, which wins over the OS default. */
export function resolveWorkspace(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const flag = readFlag(argv, '--workspace');
  const dir = flag ?? env.SAFETUNE_WORKSPACE ?? defaultWorkspaceDir(env);
  return resolve(dir);
}

export function ensureWorkspace(dir: string): { dir: string; databasePath: string } {
  mkdirSync(dir, { recursive: true });
  return { dir, databasePath: join(dir, DATABASE_FILE) };
}

/** Reads `--name value` or `--name=value` from an argument list. */
export function readFlag(argv: readonly string[], name: string): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === name) return argv[i + 1];
    if (a.startsWith(name + '=')) return a.slice(name.length + 1);
  }
  return undefined;
}
