// The Node.js version the workbench needs (package.json "engines"), checked by `npm start` and the
// `safetune` command before anything native loads: an older Node crashes inside the native modules
// (better-sqlite3, onnxruntime-node) instead of saying what is wrong.
import { readFileSync } from 'node:fs';

/** The minimum version from package.json's engines.node (">=22.12.0" → [22, 12, 0]). */
export function requiredNodeVersion(packageJsonPath) {
  const engines = JSON.parse(readFileSync(packageJsonPath, 'utf8')).engines?.node ?? '';
  const m = /^\s*>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?\s*$/.exec(engines);
  if (!m) throw new Error(`${packageJsonPath}: engines.node must read ">=MAJOR.MINOR.PATCH", got "${engines}"`);
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

/** A one-line message when `version` (default: this Node) is older than required, else null. */
export function nodeVersionProblem(packageJsonPath, version = process.versions.node) {
  const need = requiredNodeVersion(packageJsonPath);
  const have = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < 3; i++) {
    if ((have[i] ?? 0) > need[i]) return null;
    if ((have[i] ?? 0) < need[i]) {
      return `SafeTune Workbench needs Node.js >= ${need.join('.')} (package.json "engines"); this is Node.js v${version}. Install a newer Node.js (https://nodejs.org) and run it again.`;
    }
  }
  return null;
}

/** The exit code that passes a child's end on: its own code, or 128 + the signal number that killed it. */
export function exitCodeOf(code, signal, signals) {
  if (signal) return 128 + (signals[signal] ?? 0);
  return code ?? 1;
}
