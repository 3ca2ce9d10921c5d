// Prints one line "tests: N passed, N failed, N skipped" from vitest JSON reports, and names every
// skipped test. In CI (CI=true) a skipped test fails the run: CI has ../shared beside the checkout,
// so a test that skipped there did not check what it is for (e.g. the real data sets went missing).
// SAFETUNE_ALLOW_SKIPS=1 accepts skips (a clone without ../shared).
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

let passed = 0;
let failed = 0;
let missing = 0;
const skippedTests = [];
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    console.log(`test-summary: ${file} is missing (that run did not finish)`);
    missing++;
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  for (const suite of r.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      if (t.status === 'skipped' || t.status === 'pending' || t.status === 'todo') {
        skippedTests.push(`${relative(process.cwd(), suite.name)} > ${t.fullName}`);
      }
    }
  }
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skippedTests.length} skipped`);
for (const name of skippedTests) console.log(`  skipped: ${name}`);
const skipsFail = process.env.CI === 'true' && process.env.SAFETUNE_ALLOW_SKIPS !== '1' && skippedTests.length > 0;
if (skipsFail) {
  console.log('test-summary: tests were skipped in CI (is ../shared beside the checkout?); set SAFETUNE_ALLOW_SKIPS=1 to accept that');
}
process.exit(failed > 0 || missing > 0 || passed === 0 || skipsFail ? 1 : 0);
