// `npm start`: the Electron window when the Electron runtime is available; otherwise (air-gapped
// machines where it was never downloaded) browser mode, said in one line. `--browser` forces it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { exitCodeOf, nodeVersionProblem } from './node-version.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const forceBrowser = args.includes('--browser');
const passArgs = args.filter((a) => a !== '--browser');

const tooOld = nodeVersionProblem(join(root, 'package.json'));
if (tooOld) {
  console.error(tooOld);
  process.exit(1);
}

ensureBuilt();

const electron = forceBrowser ? null : electronBinary();
const child = electron
  ? spawn(electron, [join(root, 'out', 'main', 'index.js'), ...passArgs], { stdio: 'inherit' })
  : spawn(process.execPath, [join(root, 'out', 'main', 'cli.js'), 'serve', ...passArgs], { stdio: 'inherit' });
// Pass stop signals on (the child shuts down cleanly), and end as the child ended: its exit code, or
// 128 + the number of the signal that killed it — never 0 for a crash.
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig));
child.on('error', (e) => {
  console.error(`Could not start ${electron ?? 'browser mode'}: ${e.message}`);
  process.exit(1);
});
child.on('exit', (code, signal) => {
  if (signal) console.error(`SafeTune Workbench ${electron ? 'window' : 'server'} was killed by ${signal}.`);
  process.exit(exitCodeOf(code, signal, constants.signals));
});

/** Builds when out/ is missing or older than the sources. */
function ensureBuilt() {
  const marker = join(root, 'out', 'main', 'cli.js');
  if (existsSync(marker) && newest(join(root, 'src')) <= statSync(marker).mtimeMs) return;
  console.log('Building SafeTune Workbench…');
  const bin = join(root, 'node_modules', 'electron-vite', 'bin', 'electron-vite.js');
  const r = spawnSync(process.execPath, [bin, 'build'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

/** The Electron executable, downloading it first when possible; null when it cannot be had. */
function electronBinary() {
  const require = createRequire(import.meta.url);
  let pkgDir;
  try {
    pkgDir = dirname(require.resolve('electron/package.json'));
  } catch {
    console.log('Electron is not installed: starting browser mode instead.');
    return null;
  }
  const located = () => {
    const pathFile = join(pkgDir, 'path.txt');
    const rel = existsSync(pathFile) ? readFileSync(pathFile, 'utf8') : null;
    const override = process.env.ELECTRON_OVERRIDE_DIST_PATH;
    const bin = override ? join(override, rel ?? defaultExecutable()) : rel ? join(pkgDir, 'dist', rel) : null;
    return bin && existsSync(bin) ? bin : null;
  };
  let bin = located();
  if (!bin && !process.env.ELECTRON_OVERRIDE_DIST_PATH && !process.env.ELECTRON_SKIP_BINARY_DOWNLOAD) {
    spawnSync(process.execPath, [join(pkgDir, 'install.js')], { stdio: 'ignore', timeout: 300_000 });
    bin = located();
  }
  if (!bin) {
    console.log('The Electron runtime is not available (never downloaded on this machine): starting browser mode instead.');
    return null;
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    console.log('No display found: starting browser mode instead.');
    return null;
  }
  return bin;
}

function defaultExecutable() {
  return process.platform === 'win32' ? 'electron.exe' : process.platform === 'darwin' ? 'Electron.app/Contents/MacOS/Electron' : 'electron';
}
