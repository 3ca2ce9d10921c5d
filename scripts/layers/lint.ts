/**
 * The layer check as a command: checks this repository (or the checkout given as an argument)
 * against ./rules.ts and prints every violation as `file:line  [rule]  what: why`.
 *
 *   npm run lint:layers              # exit code 1 when there are violations
 *   npm run lint:layers -- <folder>  # another checkout (e.g. a branch exported with git archive)
 */
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkLayers, formatViolations } from './check';
import { layerRules } from './rules';

const here = dirname(fileURLToPath(import.meta.url));
const root = process.argv[2] ?? join(here, '..', '..');
const violations = checkLayers(root, layerRules);
if (violations.length === 0) {
  console.log('layers: no violations');
} else {
  console.error(formatViolations(violations));
  const count = `${violations.length} violation${violations.length > 1 ? 's' : ''}`;
  console.error(`layers: ${count} (rules: ${relative(process.cwd(), join(here, 'rules.ts'))})`);
  process.exitCode = 1;
}
