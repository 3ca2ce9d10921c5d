import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, ftruncateSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/services';
import { launchBrowser, screenshot, startApp, watchErrors } from './app';
import { grantFolder } from './grants';

let browser: Browser;
let app: Awaited<ReturnType<typeof startApp>>;
let page: Page;
let errors: string[];
let cleanup: () => void;
let bigFile: string;
let dataDir: string;

beforeAll(async () => {
  const t = tempDir('safetune-e2e-');
  cleanup = t.cleanup;
  // A sparse 1 GiB file: takes the fingerprint job a few seconds, costs no disk.
  dataDir = t.dir;
  bigFile = join(t.dir, 'pool.bin');
  const fd = openSync(bigFile, 'w');
  ftruncateSync(fd, 1024 * 1024 * 1024);
  closeSync(fd);
  app = await startApp(join(t.dir, 'workspace'));
  browser = await launchBrowser();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  errors = watchErrors(page);
});

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  cleanup?.();
});

async function sha256Of(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe('foundation in browser mode', () => {
  it('creates, lists, renames and persists a project', async () => {
    await page.goto(app.url);
    await expect.poll(() => page.url()).not.toContain('token=');
    await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();
    await page.getByLabel('Project name').fill('Alpha safety');
    await page.getByRole('button', { name: 'Create project' }).click();
    await page.getByRole('link', { name: 'Alpha safety' }).first().waitFor();
    await screenshot(page, 'foundation-1-created');

    await page.getByRole('button', { name: 'Rename Alpha safety' }).click();
    const dialog = page.getByRole('dialog', { name: /Rename/ });
    await dialog.getByLabel('New name').fill('Beta safety');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('table', { name: 'Projects' }).getByRole('link', { name: 'Beta safety' }).waitFor();

    await page.reload();
    await page.getByRole('table', { name: 'Projects' }).getByRole('link', { name: 'Beta safety' }).waitFor();
    expect(await page.getByRole('link', { name: 'Alpha safety' }).count()).toBe(0);
    await screenshot(page, 'foundation-2-renamed-after-reload');
  });

  it('shows the project tabs', async () => {
    await page.getByRole('table', { name: 'Projects' }).getByRole('link', { name: 'Beta safety' }).click();
    await page.getByRole('heading', { name: 'Beta safety', exact: true }).waitFor();
    const tabs = page.getByRole('navigation', { name: 'Project sections' }).getByRole('link');
    expect(await tabs.allTextContents()).toEqual(['Data', 'Select', 'Train', 'Merge', 'Evaluate', 'Compare']);
  });

  it('runs the fingerprint job to 100% with live progress, and cancels a second one', async () => {
    // Browser mode cannot open the server machine's file dialog: the folder is granted in the
    // settings, then paths are typed or picked with Browse….
    await grantFolder(page, dataDir);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Beta safety' }).click();
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    expect(await page.getByRole('button', { name: /^Choose (file|folder) for / }).count()).toBe(0);
    await page.getByLabel('Path to fingerprint').fill(bigFile);
    await page.getByRole('button', { name: 'Start fingerprint' }).click();
    const first = page.locator('li.job[data-job-id="1"]');
    await first.waitFor();

    // Watch the progress bar move through intermediate values.
    const seen = new Set<number>();
    const bar = first.getByRole('progressbar');
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const state = await first.getAttribute('data-state');
      const v = await bar.getAttribute('aria-valuenow');
      if (v !== null) seen.add(Number(v));
      if (seen.size === 3) await screenshot(page, 'foundation-3-job-progress');
      if (state === 'succeeded' || state === 'failed') break;
      await page.waitForTimeout(100);
    }
    expect(await first.getAttribute('data-state')).toBe('succeeded');
    expect(await first.locator('.job-percent').textContent()).toBe('100%');
    expect([...seen].some((v) => v > 0 && v < 100)).toBe(true);
    // The card shows the file's real SHA-256 (what sha256sum prints), not the block digest.
    const result = page.getByRole('definition').getByTestId('sha256');
    await result.waitFor();
    expect(await result.textContent()).toBe(await sha256Of(bigFile));
    await result.scrollIntoViewIfNeeded();
    await screenshot(page, 'foundation-3b-checksum-result');

    await page.getByRole('button', { name: 'Start fingerprint' }).click();
    const second = page.locator('li.job[data-job-id="2"]');
    await second.waitFor();
    await page.getByRole('button', { name: 'Cancel job 2' }).click();
    await expect.poll(() => second.getAttribute('data-state'), { timeout: 20_000 }).toBe('cancelled');
    await page.getByRole('button', { name: 'Resume job 2' }).waitFor();
    await screenshot(page, 'foundation-4-cancelled');
  });

  it('offers no Resume for a job whose input is missing and says why; expands, filters and clears finished jobs', async () => {
    const missing = join(dataDir, 'gone', 'nope.bin');
    await page.getByLabel('Path to fingerprint').fill(missing);
    await page.getByRole('button', { name: 'Start fingerprint' }).click();
    const third = page.locator('li.job[data-job-id="3"]');
    await expect.poll(() => third.getAttribute('data-state'), { timeout: 20_000 }).toBe('failed');
    expect(await page.getByRole('button', { name: 'Resume job 3' }).count()).toBe(0);
    expect(await third.locator('.job-no-resume').textContent()).toBe(
      'Not resumable: an input is missing, at a bad path or cannot be used, and would fail the same way. Fix it and start a new job.',
    );
    // Expanding shows the whole title and the whole error (the row itself cuts them short).
    await third.getByRole('button', { name: /^#3 / }).click();
    const details = third.locator('dl.job-details');
    await details.waitFor();
    const error = await details.locator('.job-error').textContent();
    expect(error).toContain(`Cannot read ${missing}: ENOENT`);
    expect(await details.locator('dd').first().textContent()).toBe(await third.getByRole('button', { name: /^#3 / }).getAttribute('title'));
    await screenshot(page, 'foundation-5-failed-expanded');

    // Filters: failed jobs only, then one type that has none of them.
    const panel = page.getByRole('complementary', { name: 'Jobs' });
    const ids = () => panel.locator('li.job').evaluateAll((els) => els.map((e) => e.getAttribute('data-job-id')));
    expect(await ids()).toEqual(['3', '2', '1']);
    await panel.getByLabel('State').selectOption('failed');
    expect(await ids()).toEqual(['3']);
    await panel.getByLabel('State').selectOption('finished');
    await panel.getByLabel('Type').selectOption('file.checksum');
    expect(await ids()).toEqual(['3', '2', '1']);
    await panel.getByLabel('State').selectOption('active');
    await panel.getByText('No jobs match').waitFor();
    await panel.getByRole('button', { name: 'Show all jobs' }).click();
    expect(await ids()).toEqual(['3', '2', '1']);

    // Clear finished: all three are finished (succeeded, cancelled, failed), and stay gone after a reload.
    await panel.getByRole('button', { name: 'Clear finished' }).click();
    await panel.getByText('No jobs yet').waitFor();
    await page.reload();
    await panel.getByText('No jobs yet').waitFor();
    expect(await panel.getByRole('button', { name: 'Clear finished' }).count()).toBe(1);
    expect(await panel.getByRole('button', { name: 'Clear finished' }).isDisabled()).toBe(true);
  });

  it('asks before revoking a granted folder, and keeps it on Cancel', async () => {
    await page.getByRole('link', { name: 'Folders & servers' }).click();
    const folder = realpathSync(dataDir);
    const revoke = page.getByRole('button', { name: `Revoke ${folder}`, exact: true });
    await revoke.click();
    const dialog = page.getByRole('dialog', { name: `Revoke access to ${folder}?` });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/no longer read this folder/);
    await screenshot(page, 'foundation-6-confirm-revoke');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.reload();
    await revoke.waitFor();
    await revoke.click();
    await dialog.getByRole('button', { name: 'Revoke access' }).click();
    await revoke.waitFor({ state: 'detached' });
  });

  it('asks before deleting a project, and keeps it on Cancel', async () => {
    await page.getByRole('link', { name: 'All projects' }).click();
    const link = page.getByRole('table', { name: 'Projects' }).getByRole('link', { name: 'Beta safety' });
    await page.getByRole('button', { name: 'Delete Beta safety' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete “Beta safety”?' });
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/runs and evaluations are removed/);
    await screenshot(page, 'foundation-7-confirm-delete-project');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    await page.reload();
    await link.waitFor();
    await page.getByRole('button', { name: 'Delete Beta safety' }).click();
    await dialog.getByRole('button', { name: 'Delete project' }).click();
    await link.waitFor({ state: 'detached' });
  });

  it('raised no console errors (CSP violations included)', () => {
    expect(errors).toEqual([]);
  });
});
