/**
 * Layouts at 1024 and 1280 px wide: on every page and project tab no card is wider than its box
 * (a table or a row of fields overflowing it) and the main column does not scroll sideways. (A
 * wide table that scrolls inside its own .table-scroll box, as the Models list does, passes.)
 * Screenshots of each go to test-results/layout-<width>-<page>.png.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/shared';
import { screenshot } from './app';
import { appSession } from './appSession';

let page: Page;
let errors: string[];
/** When the shared model is here, the Models table has a row too. */
const stories = sharedPath('models', 'stories260K.gguf');

/** Cards (and the main column) whose content is wider than their box, by their heading. */
async function overflowing(page: Page): Promise<string[]> {
  const main = await page.locator('.main').evaluate((m) => ({ sw: m.scrollWidth, cw: m.clientWidth }));
  const cards = await page
    .locator('.card')
    .evaluateAll((cs) => cs.map((c) => ({ sw: c.scrollWidth, cw: c.clientWidth, title: c.querySelector('h2')?.textContent ?? '(untitled card)' })));
  return [
    ...(main.sw > main.cw ? [`main column: ${main.sw} > ${main.cw}`] : []),
    ...cards.filter((c) => c.sw > c.cw).map((c) => `card "${c.title}": ${c.sw} > ${c.cw}`),
  ];
}

// A task file with a long name: the data-sets table is at its widest with one.
const taskFile = (dir: string) => join(dir, 'customer_support_conversations_2026_q3_cleaned_deduplicated.json');
const session = appSession({
  prefix: 'safetune-e2e-layout-',
  height: 800,
  prepare: (dir) =>
    writeFileSync(
      taskFile(dir),
      JSON.stringify(
        Array.from({ length: 20 }, (_, i) => ({
          instruction: `How do I reset password number ${i}?`,
          input: '',
          output: `Open Settings and choose Reset (${i}).`,
        })),
      ),
    ),
  grants: (dir) => [dir],
  ...(stories ? { model: stories } : {}),
  project: 'Layout check with a fairly long project name',
  imports: (dir) => [{ path: taskFile(dir), role: 'task', listedAs: /customer_support_conversations_2026_q3_cleaned_deduplicated\.json.*Task data.*20/ }],
  setupTimeoutMs: 120_000,
});
beforeAll(() => {
  ({ page, errors } = session);
});

const TABS = ['Data', 'Select', 'Train', 'Evaluate', 'Compare'] as const;

describe.each([1024, 1280])('layout at %i px wide', (width) => {
  it('has no card wider than its box on any project tab', async () => {
    // tall enough that each tab fits without scrolling: the screenshots show whole tabs
    await page.setViewportSize({ width, height: 2000 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Layout check with a fairly long project name' }).click();
    const found: Record<string, string[]> = {};
    for (const tab of TABS) {
      await page.getByRole('navigation', { name: 'Project sections' }).getByRole('link', { name: tab, exact: true }).click();
      await page.locator('.card').first().waitFor();
      await page.waitForTimeout(300); // let late data (jobs, lists) settle
      await screenshot(page, `layout-${width}-${tab.toLowerCase()}`);
      const over = await overflowing(page);
      if (over.length) found[tab] = over;
    }
    expect(found, `at ${width} px`).toEqual({});
  });

  it('has no card wider than its box on the other pages', async () => {
    const pages = [
      ['All projects', 'projects'],
      ['Models & Playground', 'models'],
      ['Folders & servers', 'folders'],
    ] as const;
    const found: Record<string, string[]> = {};
    for (const [link, name] of pages) {
      await page.getByRole('link', { name: link }).click();
      await page.locator('.card').first().waitFor();
      await page.waitForTimeout(300);
      await screenshot(page, `layout-${width}-${name}`);
      const over = await overflowing(page);
      if (over.length) found[link] = over;
    }
    expect(found, `at ${width} px`).toEqual({});
  });
});

describe('layout', () => {
  it('raised no console errors', () => {
    expect(errors).toEqual([]);
  });
});
