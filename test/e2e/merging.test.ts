import { existsSync, statSync } from 'node:fs';
import type { Locator, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate, openModel } from '../../src/main/engine';
import { sharedPath } from '../helpers/shared';
import { screenshot } from './app';
import { storiesProject } from './storiesProject';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedPath('data');
let trainJobId: number;

/** Chooses the one option of a select whose text matches (the list named in the failure). */
async function selectMatching(select: Locator, re: RegExp): Promise<string> {
  await expect.poll(async () => (await select.locator('option').allTextContents()).some((o) => re.test(o)), { timeout: 30_000 }).toBe(true);
  const options = await select.locator('option').allTextContents();
  const found = options.filter((o) => re.test(o));
  expect(found, `${re} among: ${options.join(' | ')}`).toHaveLength(1);
  await select.selectOption({ label: found[0]! });
  return found[0]!;
}

describe.skipIf(!stories)('merging in browser mode', () => {
  const ui = storiesProject({
    model: stories!,
    prefix: 'safetune-e2e-merge-',
    project: 'Merge back',
    height: 900,
    grants: data ? [data] : [],
    setupTimeoutMs: 120_000,
  });
  let page: Page;
  beforeAll(() => {
    page = ui.page;
  });

  it('fine-tunes stories260K with LoRA a few steps', async () => {
    // a short LoRA fine-tuning run, as training.test.ts starts one
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await page.getByRole('radio', { name: 'Plain LoRA fine-tuning', exact: true }).check();
    await page.getByLabel('Prompt template').selectOption('plain');
    await page.getByLabel('Steps', { exact: true }).fill('12');
    await page.getByLabel('Batch size').fill('3');
    await page.getByLabel('Learning rate').fill('0.01');
    await page.getByLabel('Max tokens per example').fill('32');
    await page.getByRole('button', { name: 'Start fine-tuning' }).click();
    const run = page.locator('section.train-run').first();
    await run.waitFor();
    await expect.poll(() => run.locator('.badge').textContent(), { timeout: 180_000, interval: 250 }).toMatch(/succeeded|failed/);
    expect(await run.locator('.badge').textContent(), (await run.textContent()) ?? '').toBe('succeeded');
    trainJobId = Number(await run.getAttribute('data-job-id'));
  });

  it('merges the run’s adapter back onto its base at α = 0.5 in the Merge tab; the merged GGUF joins the Models list', async () => {
    await page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name: 'Merge', exact: true }).click();
    await page.getByRole('radio', { name: 'Task arithmetic', exact: true }).check();
    await selectMatching(page.getByLabel('Base model'), /\(stories260K\.gguf\)$/);
    await selectMatching(page.getByLabel('Model 1', { exact: true }), new RegExp(`^Training run #${trainJobId}: stories260K\\.gguf \\+ its adapter$`));
    expect(await page.getByLabel('Weight of model 1').inputValue()).toBe('1');
    await page.getByLabel('Lambda').fill('0.5');
    await page.getByLabel('Output format').selectOption('gguf');
    // the preview: the output's size (stories260K is ~1.1 MB as GGUF), peak memory, free disk
    const preview = page.getByTestId('merge-preview');
    await expect
      .poll(async () => (await preview.count()) && preview.textContent(), { timeout: 60_000 })
      .toMatch(/^Output: [\d.]+ (KiB|MiB) \(GGUF file, \d+ tensors,.*Peak memory: about [\d.]+ MiB.*Free disk: [\d.]+ GiB/);
    const previewBytes = await preview.getAttribute('data-output-bytes');
    await screenshot(page, 'merge-0-form');
    await preview.scrollIntoViewIfNeeded();
    await screenshot(page, 'merge-0-preview');
    await page.getByRole('button', { name: 'Merge', exact: true }).click();
    const job = page.locator('section.merge-job').first();
    await job.waitFor();
    await expect.poll(() => job.locator('.badge').textContent(), { timeout: 120_000, interval: 250 }).toMatch(/succeeded|failed/);
    expect(await job.locator('.badge').textContent(), (await job.textContent()) ?? '').toBe('succeeded');
    const outPath = (await job.locator('code').textContent())!;
    expect(outPath).toMatch(/\/workspace\/models\/task_arithmetic\+stories260K[^/]*\/merged\.gguf$/);
    expect(existsSync(outPath)).toBe(true);
    // the size the preview showed is the size written
    expect(Number(previewBytes)).toBe(statSync(outPath).size);
    // added to the Models list by the app once written
    await job.locator('.merge-listed').waitFor({ timeout: 60_000 });
    await screenshot(page, 'merge-1-done');

    // the merged model generates in the Playground exactly what the engine generates from the file
    await page.getByRole('link', { name: 'Models & Playground' }).click();
    await selectMatching(page.getByLabel('Model', { exact: true }), /task_arithmetic/);
    await page.getByLabel('Max tokens').fill('24');
    await page.getByLabel('Message').fill('Once upon a time');
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.chat-assistant').last();
    await reply.locator('.small').waitFor({ timeout: 60_000 });
    const shown = (await reply.locator('.chat-text').textContent())!;
    const rt = await openModel(outPath, { threads: 1 });
    try {
      const expected = await generate(rt, 'Once upon a time', { maxNewTokens: 24, temperature: 0 });
      expect(shown).toBe(expected.text);
      expect(expected.tokenIds.length).toBeGreaterThan(0);
    } finally {
      await rt.release();
    }
    await screenshot(page, 'merge-2-playground');
  });

  it.skipIf(!data)(
    'queues a 2-α sweep from "Merge back" on the run, evaluates each merged model and draws the curve in Compare',
    async () => {
      await page.getByRole('link', { name: 'Merge back', exact: true }).click();
      await page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name: 'Train', exact: true }).click();
      const run = page.locator(`section.train-run[data-job-id="${trainJobId}"]`);
      await run.getByRole('button', { name: 'Merge back…' }).click();
      const dialog = page.getByRole('dialog', { name: `Merge back training run #${trainJobId}` });
      expect(await dialog.getByLabel('α values').inputValue()).toBe('0, 0.25, 0.5, 0.75, 1');
      await dialog.getByLabel('α values').fill('0, 1');
      await dialog.getByLabel('Sweep method').selectOption('task_arithmetic');
      const suites = dialog.getByRole('group', { name: 'Evaluate each merged model on' });
      for (const label of [/^AdvBench/, /^XSTest/, /^SST-2/]) {
        const box = suites.getByRole('checkbox', { name: label });
        if (!(await box.isChecked())) await box.check();
      }
      await dialog.getByLabel('Suite data folder').fill(data!);
      await dialog.getByLabel('Examples per suite').fill('4');
      await dialog.getByLabel('Max new tokens').fill('8');
      await screenshot(page, 'merge-3-merge-back');
      await dialog.getByRole('button', { name: 'Queue sweep' }).click();
      await expect.poll(() => run.getByTestId('sweep-queued').textContent()).toMatch(/^Queued sweep #\d+ .*: 2 merges, each then evaluated/);

      await page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name: 'Compare', exact: true }).click();
      const points = page.getByRole('table', { name: 'Sweep points' });
      await expect.poll(() => points.locator('td[data-stage="done"]').count(), { timeout: 300_000, interval: 500 }).toBe(2);
      const curve = page.getByRole('img', { name: 'Sweep curve: attack success and over-refusal per α' });
      await curve.waitFor();
      // one point per α and series, each labelled with its α, against the SST-2 task score
      for (const series of ['attackSuccess', 'overRefusal']) {
        expect(await curve.locator(`g[data-series="${series}"] > g[data-alpha]`).evaluateAll((gs) => gs.map((g) => g.getAttribute('data-alpha')))).toEqual([
          '0',
          '1',
        ]);
      }
      expect(await curve.textContent()).toContain('Task score');
      const cells = await points.locator('tr[data-alpha="0"] td').allTextContents();
      expect(cells[2]).toMatch(/\(\d\/4\)/);
      expect(cells[4]).toMatch(/\(\d\/4\)/);
      await curve.scrollIntoViewIfNeeded();
      await screenshot(page, 'merge-4-sweep-curve');
    },
    420_000,
  );

  it('raised no console errors', () => {
    expect(ui.errors).toEqual([]);
  });
});
