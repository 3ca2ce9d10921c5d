import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/**
 * Opening browser mode without putting the token on a command line (where every local user can
 * read it in the process list): the tokenised URL goes into a private HTML file that redirects to
 * it, and only that file's path is handed to the browser opener — what Jupyter does.
 */
export interface LaunchFile {
  path: string;
  /** Deletes the file and its folder (also done by itself after `deleteAfterMs`). */
  remove(): void;
}

export interface LaunchFileOptions {
  /** Where the private folder is made (default: the OS temp folder). */
  parentDir?: string;
  /** How long the browser has to read the file before it is deleted. Default 30 s. */
  deleteAfterMs?: number;
}

/** Writes the launch file: mode 0600 in a fresh 0700 folder. */
export function writeLaunchFile(url: string, opts: LaunchFileOptions = {}): LaunchFile {
  const dir = mkdtempSync(join(opts.parentDir ?? tmpdir(), 'safetune-launch-'));
  chmodSync(dir, 0o700);
  const path = join(dir, 'open-safetune-workbench.html');
  writeFileSync(path, launchPage(url), { mode: 0o600, flag: 'wx' });
  const timer = setTimeout(() => remove(), opts.deleteAfterMs ?? 30_000);
  timer.unref();
  function remove(): void {
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
  return { path, remove };
}

function launchPage(url: string): string {
  const attr = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const js = JSON.stringify(url).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<meta http-equiv="refresh" content="0;url=${attr}">
<title>Opening SafeTune Workbench…</title>
</head>
<body>
<p>Opening SafeTune Workbench… If nothing happens, <a href="${attr}">open it here</a>.</p>
<script>window.location.replace(${js});</script>
</body>
</html>
`;
}

/**
 * Opens a file in the default browser: `$BROWSER` when set (as xdg-open and Python do; `%s` marks
 * where the file goes), else open / start / xdg-open. Returns the command run, or null when there is
 * no way to open one here (the printed URL is enough then).
 */
export function openInBrowser(file: string, env: NodeJS.ProcessEnv = process.env): string[] | null {
  const cmd = browserCommand(file, env);
  if (!cmd) return null;
  try {
    const child = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
    return cmd;
  } catch {
    return null;
  }
}

function browserCommand(file: string, env: NodeJS.ProcessEnv): string[] | null {
  const custom = env.BROWSER?.split(delimiter).find((c) => c.trim() !== '');
  if (custom) {
    const words = custom.trim().split(/\s+/);
    return words.some((w) => w.includes('%s')) ? words.map((w) => w.replace('%s', file)) : [...words, file];
  }
  if (process.platform === 'darwin') return ['open', file];
  if (process.platform === 'win32') return ['cmd', '/c', 'start', '""', file];
  if (onPath('xdg-open', env) && (env.DISPLAY || env.WAYLAND_DISPLAY)) return ['xdg-open', file];
  return null;
}

function onPath(bin: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));
}
