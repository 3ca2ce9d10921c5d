import { basename, dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/shared';
import { screenshot } from './app';
import { appSession } from './appSession';
import { grantFolder } from './grants';

const stories = sharedPath('models', 'stories260K.gguf');
let page: Page;
let errors: string[];

describe.skipIf(!stories)('Models list and Playground in browser mode', () => {
  const session = appSession({ prefix: 'safetune-e2e-models-', height: 800 });
  beforeAll(() => {
    ({ page, errors } = session);
  });

  it('refuses a path outside the folders this workspace may read, saying how to allow it', async () => {
    await page.getByRole('link', { name: 'Models & Playground' }).click();
    await page.getByLabel('Model path').fill('/etc/hostname');
    await page.getByRole('button', { name: 'Add model' }).click();
    await page
      .locator('.field-error', {
        hasText: '/etc/hostname is outside the folders this workspace may read (the model). Grant its folder in Settings → Folders & servers first.',
      })
      .waitFor();
    // the refused call is the one failed request the browser logs
    expect(errors.splice(0)).toEqual(['Failed to load resource: the server responded with a status of 403 (Forbidden)']);
    await screenshot(page, 'models-0-refused');
  });

  it('refuses a path it cannot load in a granted folder, naming it', async () => {
    await grantFolder(page, dirname(stories!));
    await screenshot(page, 'models-0b-granted');
    await page.getByRole('link', { name: 'Models & Playground' }).click();
    const missing = join(dirname(stories!), 'missing.gguf');
    await page.getByLabel('Model path').fill(missing);
    await page.getByRole('button', { name: 'Add model' }).click();
    await page.locator('.field-error', { hasText: `${missing}: not found` }).waitFor();
  });

  it('picks stories260K with Browse…, adds it and shows what it is', async () => {
    await page.getByRole('button', { name: 'Browse… for Model path' }).click();
    const dialog = page.getByRole('dialog', { name: 'Choose a folder or file for Model path' });
    await dialog.getByRole('button', { name: dirname(stories!), exact: true }).click();
    await dialog.getByRole('list', { name: 'Folder contents' }).getByRole('button').first().waitFor();
    await screenshot(page, 'models-0c-browse');
    await dialog.getByRole('button', { name: new RegExp(`^${basename(stories!).replace('.', '\\.')}`) }).click();
    expect(await page.getByLabel('Model path').inputValue()).toBe(stories);
    await page.getByRole('button', { name: 'Add model' }).click();
    const row = page.getByRole('table', { name: 'Models' }).getByRole('row').nth(1);
    await row.waitFor();
    const cells = await row.getByRole('cell').allTextContents();
    expect(cells[1]).toBe('llama');
    expect(cells[2]).toBe('292,800');
    expect(cells[4]).toBe('2,048');
    expect(cells[5]).toMatch(/^cpu/);
  });

  it('streams a reply in the Playground and stops a long one', async () => {
    await page.getByLabel('Max tokens').fill('40');
    await page.getByLabel('Message').fill('Once upon a time');
    await page.getByRole('button', { name: 'Send' }).click();
    const reply = page.locator('.chat-assistant').last();
    await reply.locator('.small').waitFor({ timeout: 60_000 });
    expect(await reply.locator('.chat-text').textContent()).toMatch(/^, there was a little girl named Lily\./);
    expect(await reply.locator('.small').textContent()).toMatch(/40 tokens .* tok\/s on cpu · length/);
    await screenshot(page, 'models-1-playground');

    // long enough that it cannot finish before Stop even when the UI lags behind a fast generation
    await page.getByLabel('Max tokens').fill('8000');
    await page.getByLabel('Temperature').fill('0.9');
    await page.getByLabel('Message').fill('The dragon');
    await page.getByRole('button', { name: 'Send' }).click();
    const second = page.locator('.chat-assistant').last();
    await expect.poll(async () => ((await second.locator('.chat-text').textContent()) ?? '').length, { timeout: 30_000 }).toBeGreaterThan(20);
    await page.getByRole('button', { name: 'Stop' }).click();
    await expect.poll(() => second.locator('.small').textContent(), { timeout: 30_000 }).toMatch(/cancelled/);
    await screenshot(page, 'models-2-stopped');
  });

  it('raised no console errors', () => {
    expect(errors).toEqual([]);
  });
});
