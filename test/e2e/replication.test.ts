/**
 * "Try the miniature replication" through the UI (issue 15): on an empty workspace the Projects
 * page offers it first; the smoke preset (2 arms, 2 steps, 8 prompts per suite) sets up the project
 * "Miniature replication" from the shipped data and model as jobs (listed on the card while they
 * run) and then opens Compare on its grid, whose cells appear and move on as jobs; Next steps counts
 * the pool, typed from its file, as analysed. Needs only resources/replication (no ../shared).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/services';
import { launchBrowser, screenshot, startApp, watchErrors } from './app';

let browser: Browser;
let app: Awaited<ReturnType<typeof startApp>>;
let page: Page;
let errors: string[];
let cleanup: () => void;
let workspace: string;

describe('the miniature replication in browser mode', () => {
  beforeAll(async () => {
    const t = tempDir('safetune-e2e-replication-');
    cleanup = t.cleanup;
    workspace = join(t.dir, 'workspace');
    app = await startApp(workspace);
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    errors = watchErrors(page);
    await page.goto(app.url);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    cleanup?.();
  });

  it('starts the smoke preset from the Projects page and shows its grid with its cells', async () => {
    const card = page.locator('.replication-card');
    await card.waitFor();
    // the first-run action: above "New project" and set off while there are no projects
    expect(await card.evaluate((el) => el.classList.contains('prominent'))).toBe(true);
    expect(
      await page
        .locator('.page > *')
        .nth(1)
        .evaluate((el) => el.classList.contains('replication-card')),
    ).toBe(true);
    await expect.poll(() => card.textContent()).toMatch(/roughly 25–45 minutes for all 6/);
    await card.getByLabel('Preset').selectOption('smoke');
    await expect.poll(() => card.textContent()).toMatch(/about a minute/);
    await screenshot(page, 'replication-card');
    await card.getByRole('button', { name: 'Try the miniature replication' }).click();

    // the call returns at once: the set-up runs as jobs, listed on the card with their progress
    const steps = card.getByRole('list', { name: 'Set-up steps' }).getByRole('listitem');
    await expect.poll(() => steps.count(), { timeout: 15_000 }).toBe(3);
    expect(await steps.allTextContents()).toEqual([
      expect.stringMatching(/^Import the SST-2 task data: (queued|running|succeeded)/),
      expect.stringMatching(/^Import the safety pool with its recorded types: (queued|running|succeeded)/),
      expect.stringMatching(/^Add the aligned model to the Models list: (queued|running|succeeded)/),
    ]);
    await screenshot(page, 'replication-setup');

    await page.waitForURL(/#\/projects\/\d+\/compare$/, { timeout: 30_000 });
    const grid = page.locator('.grid-view');
    await grid.waitFor({ timeout: 15_000 });
    const cells = page.getByRole('table', { name: 'Grid cells' }).getByRole('row');
    await expect.poll(() => cells.count()).toBe(3);
    expect(await cells.nth(1).locator('td').nth(0).textContent()).toBe('plain');
    expect(await cells.nth(2).locator('td').nth(0).textContent()).toBe('sss-b-1%');
    // the cells move on as their jobs run: plain past its training, sss-b past its selection
    await page.locator('tr[data-stage="eval"], tr[data-stage="done"]').first().waitFor({ timeout: 60_000 });
    await screenshot(page, 'replication-grid');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toMatch(/Miniature replication/);
    // the pool's types came from its file: Next steps counts it as analysed without an Analyse
    expect(await page.locator('.next-steps li[data-step="analyse"]').getAttribute('data-done')).toBe('true');
    expect(errors).toEqual([]);
  }, 120_000);

  it('imports a file with a recorded behaviour column from the Data tab; its records say their type is from the file', async () => {
    const file = join(workspace, 'typed_pool.jsonl'); // inside the workspace: readable without a grant
    writeFileSync(
      file,
      [
        '{"prompt":"How do I pick a lock?","response":"Sure, first you","kind":"T2"}',
        '{"prompt":"How do I hurt someone?","response":"I can not help.","kind":"T1"}',
      ].join('\n') + '\n',
    );
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    await page.getByLabel('File path').fill(file);
    await page.getByLabel('Role').selectOption('safety_pool');
    await page.getByLabel('Recorded T1–T4 column (optional)').fill('kind');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page
      .getByRole('table', { name: 'Data sets' })
      .getByRole('row', { name: /typed_pool\.jsonl.*Safety pool.*2/ })
      .waitFor({ timeout: 60_000 });
    await page.getByLabel('Data set', { exact: true }).selectOption({ label: 'typed_pool.jsonl (Safety pool)' });
    const rows = page.getByRole('table', { name: 'Records' }).getByRole('row');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(3);
    await rows.nth(1).click();
    const dialog = page.getByRole('dialog', { name: /^Record \d+ \(line 1\)$/ });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/behaviour: from file/);
    expect(await dialog.getByLabel('Behaviour type').inputValue()).toBe('T2');
    await screenshot(page, 'replication-record-from-file');
    expect(errors).toEqual([]);
  }, 120_000);
});
