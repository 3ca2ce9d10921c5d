#!/usr/bin/env node
// `safetune` command: runs the built CLI (out/main/cli.js). Build it with `npm run build`.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { nodeVersionProblem } from '../scripts/node-version.js';

const tooOld = nodeVersionProblem(fileURLToPath(new URL('../package.json', import.meta.url)));
if (tooOld) {
  console.error(tooOld);
  process.exit(1);
}
const cli = fileURLToPath(new URL('../out/main/cli.js', import.meta.url));
if (!existsSync(cli)) {
  console.error('safetune: the app is not built yet: run `npm run build` in the project folder.');
  process.exit(1);
}
await import(pathToFileURL(cli).href);
