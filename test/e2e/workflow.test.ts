/**
 * The whole workflow the way a newcomer walks it, using only what the UI offers (no typed internal
 * paths: the adapter is picked from finished runs): import the shared safety pool, GSM8K and a
 * Safety-Tuned LLaMAs file of harmful prompts → analyse → select SSS-B → train stories260K with DER
 * on that selection → "Evaluate this run" → the base model on the same suites → "Export merged
 * model" (merge back) → Compare the base model against the fine-tuned run. Screenshots at each step
 * under test-results/workflow-*.png.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/services';
import { sharedPath } from '../helpers/shared';
import { addModel, createProject, launchBrowser, resultsDir, screenshot, startApp, watchErrors } from './app';
import { grantFolder } from './grants';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedPath('data');
const pool = data && join(data, 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
// GSM8K's test split (1,319 problems) as the task data: the train split's 7,473 take minutes to import on a loaded machine
const gsm8k = data && join(data, 'task', 'gsm8k_test.jsonl');
const cona = data && join(data, 'harmful', 'stl_I-CoNa.json');
const refs = data && join(data, 'reference', 'beavertails-unsafe-prompts');

let browser: Browser;
let app: Awaited<ReturnType<typeof startApp>>;
let page: Page;
let errors: string[];
let cleanup: () => void;
/** The DER run's job id. */
let trainJob = '';

async function tab(name: string) {
  await page.getByRole('link', { name, exact: true }).click();
}

/** Waits for the newest job whose title has `title` to finish, and expects it to have succeeded. */
async function waitForJob(title: string | RegExp, timeout = 300_000) {
  const job = page.locator('li.job', { hasText: title }).first();
  await job.waitFor({ timeout: 30_000 });
  await expect.poll(() => job.getAttribute('data-state'), { timeout, interval: 250 }).toMatch(/succeeded|failed/);
  expect(await job.getAttribute('data-state'), (await job.textContent()) ?? '').toBe('succeeded');
}

async function importFile(path: string, role: string, rowName: RegExp) {
  await page.getByLabel('File path').fill(path);
  await page.getByLabel('Role').selectOption(role);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByRole('table', { name: 'Data sets' }).getByRole('row', { name: rowName }).waitFor({ timeout: 240_000 });
}

/** Fills the Evaluate form's suites and sampling the same way for both evaluations. */
async function evaluationSettings() {
  await page.getByLabel('Suite data folder').fill(data!);
  await page.getByRole('checkbox', { name: /^AdvBench/ }).check();
  await page.getByRole('checkbox', { name: /^XSTest/ }).check();
  await page.getByRole('checkbox', { name: 'stl_I-CoNa.json (harmful, 178)' }).check();
  await page.getByLabel('Examples per suite').fill('4');
  await page.getByLabel('Max new tokens').fill('12');
  await page.getByLabel('Prompt format').selectOption('raw');
}

async function startEvaluation(): Promise<string> {
  const started = page.getByText(/^Started job #\d+/);
  const before = (await started.count()) ? await started.textContent() : null;
  await page.getByRole('button', { name: 'Start evaluation' }).click();
  await expect.poll(async () => ((await started.count()) ? await started.textContent() : null)).not.toBe(before);
  const id = /#(\d+)/.exec((await started.textContent())!)![1]!;
  const job = page.locator(`li.job[data-job-id="${id}"]`);
  await expect.poll(() => job.getAttribute('data-state'), { timeout: 300_000, interval: 250 }).toMatch(/succeeded|failed/);
  expect(await job.getAttribute('data-state'), (await job.textContent()) ?? '').toBe('succeeded');
  return (await job.locator('.job-title').getAttribute('title')) ?? '';
}

describe.skipIf(!stories || !data)(
  'the whole workflow in browser mode: import → analyse → select → train (DER) → evaluate this run → merge back → compare',
  () => {
    beforeAll(async () => {
      const t = tempDir('safetune-e2e-workflow-');
      cleanup = t.cleanup;
      app = await startApp(join(t.dir, 'workspace'));
      browser = await launchBrowser();
      page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
      errors = watchErrors(page);
      await page.goto(app.url);
      await grantFolder(page, dirname(stories!));
      await grantFolder(page, data!);
      await addModel(page, stories!);
      await createProject(page, 'Workflow');
    });
    afterAll(async () => {
      await browser?.close();
      await app?.stop();
      cleanup?.();
    });

    it('imports the safety pool, GSM8K and harmful evaluation prompts, and says "already imported" for a file imported twice', async () => {
      await importFile(pool!, 'safety_pool', /bianchi_safety_only_data_Instructions\.json.*Safety pool.*2,483/);
      await importFile(gsm8k!, 'task', /gsm8k_test\.jsonl.*Task data.*1,319/);
      await importFile(cona!, 'harmful_eval', /stl_I-CoNa\.json.*Harmful evaluation prompts/);
      await page.getByLabel('File path').fill(gsm8k!);
      await page.getByLabel('Role').selectOption('task');
      await page.getByRole('button', { name: 'Import', exact: true }).click();
      await expect
        .poll(() => page.getByTestId('import-notice').textContent(), { timeout: 60_000 })
        .toMatch(/^gsm8k_test\.jsonl was already imported as task data \(data set #\d+, 1,319 records\): nothing to do\.$/);
      expect(await page.getByRole('table', { name: 'Data sets' }).getByRole('row').count()).toBe(4);
      await screenshot(page, 'workflow-1-imported');
    }, 600_000);

    it('asks before deleting a data set, and keeps it on Cancel', async () => {
      await page.getByRole('button', { name: 'Delete data set stl_I-CoNa.json' }).click();
      const dialog = page.getByRole('dialog', { name: 'Delete stl_I-CoNa.json?' });
      await dialog.waitFor();
      expect(await dialog.textContent()).toMatch(/records go with it/);
      await screenshot(page, 'workflow-1b-confirm-delete');
      await dialog.getByRole('button', { name: 'Cancel' }).click();
      await dialog.waitFor({ state: 'hidden' });
      expect(await page.getByRole('table', { name: 'Data sets' }).getByRole('row').count()).toBe(4);
    });

    it('analyses the safety pool (job named after its file) and selects SSS-B', async () => {
      await page.getByLabel('Reference prompts folder (for category inference)').fill(refs!);
      await page.getByRole('button', { name: 'Analyse bianchi_safety_only_data_Instructions.json' }).click();
      await page.getByRole('dialog', { name: 'Analyse bianchi_safety_only_data_Instructions.json' }).getByRole('button', { name: 'Start analysis' }).click();
      await waitForJob('Analyse bianchi_safety_only_data_Instructions.json');
      await screenshot(page, 'workflow-2-analysed');

      await tab('Select');
      expect(await page.locator('details.next-steps li[data-step="analyse"]').getAttribute('data-done')).toBe('true');
      expect(await page.locator('details.next-steps li[data-step="select"]').getAttribute('data-done')).toBe('false');
      await page.getByRole('radio', { name: 'SSS-B', exact: true }).check();
      await page.getByLabel('Budget (examples)').fill('40');
      await page.getByLabel('Seed').fill('7');
      await page.getByRole('button', { name: 'Preview selection' }).click();
      const summary = page.getByLabel('Selection summary');
      await summary.waitFor({ timeout: 120_000 });
      expect(await summary.textContent()).toMatch(/40 selected of budget 40/);
      await page.getByLabel('Selection name').fill('pool 40');
      await page.getByRole('button', { name: 'Save selection' }).click();
      await page.getByRole('table', { name: 'Saved selections' }).getByRole('cell', { name: 'pool 40', exact: true }).waitFor();
      await screenshot(page, 'workflow-3-selected');
    }, 600_000);

    it('trains stories260K with DER on the saved selection; the run is named by model, method, selection and steps', async () => {
      // the next step from Select opens Train with the selection just saved already chosen
      await page.getByRole('link', { name: 'Next: fine-tune with “pool 40” →' }).click();
      await page.getByRole('heading', { name: 'New fine-tuning run' }).waitFor();
      await page.getByRole('radio', { name: 'DER', exact: true }).check();
      await expect.poll(() => page.getByLabel('Safety examples').locator('option:checked').textContent()).toBe('pool 40 (40)');
      await page.getByLabel('Prompt template').selectOption('plain');
      await page.getByLabel('Steps').fill('4');
      await page.getByLabel('Batch size').fill('2');
      await page.getByLabel('Learning rate').fill('0.003');
      const preflight = page.getByTestId('preflight');
      await preflight.locator('p[data-set="Task data"]').waitFor({ timeout: 120_000 });
      // GSM8K's worked answers are long for stories260K's context: take the pre-flight's suggestion if the default cannot learn
      if (await page.getByTestId('start-blocked').count()) await preflight.getByRole('button', { name: /^Use \d+$/ }).click();
      await expect.poll(() => page.getByRole('button', { name: 'Start fine-tuning' }).isDisabled()).toBe(false);
      await page.getByRole('button', { name: 'Start fine-tuning' }).click();
      const run = page.locator('section.train-run').first();
      await run.waitFor();
      trainJob = (await run.getAttribute('data-job-id'))!;
      expect(await run.locator('.job-top strong').textContent()).toBe(`#${trainJob} Fine-tune stories260K (DER · SSS-B "pool 40" · 4 steps)`);
      await expect.poll(() => run.locator('.badge').textContent(), { timeout: 300_000, interval: 250 }).toMatch(/succeeded|failed/);
      expect(await run.locator('.badge').textContent(), (await run.textContent()) ?? '').toBe('succeeded');
      expect(await run.locator('.stat-row').textContent()).toMatch(/step 4\/4/);
      await run.scrollIntoViewIfNeeded();
      await screenshot(page, 'workflow-4-trained');
    }, 600_000);

    it('"Evaluate this run" opens Evaluate with the run picked as the adapter, and evaluates it', async () => {
      const run = page.locator(`section.train-run[data-job-id="${trainJob}"]`);
      await run.getByRole('button', { name: 'Evaluate this run' }).click();
      await page.getByRole('heading', { name: 'New evaluation' }).waitFor();
      const adapter = page.getByLabel('LoRA adapter');
      // the finished runs load with the form
      await expect.poll(() => adapter.inputValue()).toBe(trainJob);
      const runName = `stories260K + LoRA run #${trainJob} (DER · SSS-B "pool 40" · 4 steps)`;
      expect(await adapter.locator('option:checked').textContent()).toBe(runName);
      expect(await page.getByTestId('adapter-base').textContent()).toMatch(/^Base model: .*stories260K\.gguf \(the run's\)$/);
      await evaluationSettings();
      await page.getByRole('heading', { name: 'New evaluation' }).scrollIntoViewIfNeeded();
      await screenshot(page, 'workflow-5-evaluate-this-run');
      const title = await startEvaluation();
      expect(title).toContain(`Evaluate ${runName} on advbench, xstest, stl_I-CoNa.json`);
      const row = page.getByRole('table', { name: 'Evaluation runs' }).locator('tbody tr').first();
      expect(await row.locator('strong').textContent()).toBe(`${runName} · advbench, xstest, stl_I-CoNa.json`);
      expect(await row.locator('td').nth(1).textContent()).toBe('12');
    }, 600_000);

    it('evaluates the base model alone on the same suites, duplicated from the first run', async () => {
      await page
        .getByRole('button', { name: /^Duplicate the settings of run / })
        .first()
        .click();
      const adapter = page.getByLabel('LoRA adapter');
      await expect.poll(() => adapter.inputValue()).toBe(trainJob);
      expect(await page.getByRole('checkbox', { name: 'stl_I-CoNa.json (harmful, 178)' }).isChecked()).toBe(true);
      await adapter.selectOption('');
      await startEvaluation();
      const row = page.getByRole('table', { name: 'Evaluation runs' }).locator('tbody tr').first();
      expect(await row.locator('strong').textContent()).toBe('stories260K (base, no adapter) · advbench, xstest, stl_I-CoNa.json');
      await page
        .getByRole('button', { name: /^Open run / })
        .first()
        .click();
      await page.getByRole('table', { name: /./ }).nth(1).waitFor();
      await screenshot(page, 'workflow-6-evaluated');
    }, 600_000);

    it('merges the adapter back into its base with "Export merged model"', async () => {
      await tab('Train');
      const run = page.locator(`section.train-run[data-job-id="${trainJob}"]`);
      await run.getByRole('button', { name: 'Export merged model' }).click();
      const merged = run.getByTestId('merge-export').locator('code');
      await merged.waitFor({ timeout: 120_000 });
      const path = (await merged.textContent())!;
      expect(existsSync(path)).toBe(true);
      await waitForJob(`Merge the adapter of stories260K + LoRA run #${trainJob} (DER · SSS-B "pool 40" · 4 steps) into its base`);
      await run.scrollIntoViewIfNeeded();
      await screenshot(page, 'workflow-7-merged');
    }, 300_000);

    it('compares the base model against the fine-tuned run, told apart in the table and the CSV', async () => {
      await tab('Compare');
      // the project's checklist, read from its real state: every step done
      await expect.poll(() => page.locator('details.next-steps summary').textContent()).toBe('Next steps: 8 of 8 done');
      await page.getByRole('button', { name: 'Compare', exact: true }).click();
      const table = page.getByRole('table', { name: 'Comparison' });
      await table.waitFor();
      const models = await table.locator('tbody tr td:nth-child(2)').allTextContents();
      const runName = `stories260K + LoRA run #${trainJob} (DER · SSS-B "pool 40" · 4 steps)`;
      expect(models.sort()).toEqual([runName, 'stories260K (base, no adapter)'].sort());
      await screenshot(page, 'workflow-8-compare');
      const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
      const file = join(resultsDir, 'workflow-compare.csv');
      await download.saveAs(file);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      expect(lines[0]).toMatch(/^run_id,name,model,adapter,/);
      expect(lines).toHaveLength(3);
      expect(lines.some((l) => l.includes(`"${runName.replace(/"/g, '""')}"`) && l.includes(`/runs/train-${trainJob}/adapter`))).toBe(true);
      expect(lines.some((l) => l.includes('"stories260K (base, no adapter)"'))).toBe(true);
    });

    it('raised no console errors', () => {
      expect(errors).toEqual([]);
    });
  },
);
