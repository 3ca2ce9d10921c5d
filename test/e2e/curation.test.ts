import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/shared';
import { screenshot } from './app';
import { appSession } from './appSession';

const pool = sharedPath('data', 'safety-pool', 'bianchi_safety_only_data_Instructions.json');
const task = sharedPath('data', 'task', 'alpaca_en_demo.json');
const refs = sharedPath('data', 'reference', 'beavertails-unsafe-prompts');
let page: Page;
let errors: string[];
let workDir: string;

async function waitForJob(page: Page, titlePart: string, timeout = 240_000) {
  const job = page.locator('li.job', { hasText: titlePart }).first();
  await job.waitFor();
  await expect.poll(() => job.getAttribute('data-state'), { timeout, interval: 250 }).toMatch(/succeeded|failed/);
  expect(await job.getAttribute('data-state'), (await job.textContent()) ?? '').toBe('succeeded');
}

describe.skipIf(!pool || !task || !refs)('safety-data curation in browser mode', () => {
  const session = appSession({
    prefix: 'safetune-e2e-curation-',
    height: 800,
    grants: (dir) => [sharedPath('data')!, dir],
    project: 'Curation',
  });
  beforeAll(() => {
    ({ page, errors, dir: workDir } = session);
  });

  it('imports the shared safety pool and a task file', async () => {
    await page.getByLabel('File path').fill(pool!);
    await page.getByLabel('Role').selectOption('safety_pool');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await waitForJob(page, 'bianchi_safety_only_data_Instructions.json');
    await page.getByLabel('File path').fill(task!);
    await page.getByLabel('Role').selectOption('task');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await waitForJob(page, 'alpaca_en_demo.json');
    const table = page.getByRole('table', { name: 'Data sets' });
    await table.getByRole('row', { name: /bianchi_safety_only_data_Instructions\.json.*Safety pool.*2,483/ }).waitFor();
    await table.getByRole('row', { name: /alpaca_en_demo\.json.*Task data/ }).waitFor();
  });

  it('asks for a column mapping when it cannot tell the format, and imports with it', async () => {
    const odd = join(workDir, 'odd.csv');
    writeFileSync(odd, 'q,a\n"How do I bake bread?","Mix flour, water, yeast and salt."\n"What is 2+2?","4"\n"Name a colour","Blue"\n');
    await page.getByLabel('File path').fill(odd);
    await page.getByLabel('Role').selectOption('task');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page.locator('.field-error', { hasText: 'odd.csv: cannot tell the record format' }).waitFor({ timeout: 60_000 });
    await page.getByText('Choose the record format and name the columns').waitFor();
    await page.getByLabel('Record format').selectOption('prompt-response');
    await page.getByLabel('Prompt field').fill('q');
    await page.getByLabel('Response field').fill('a');
    await page.getByRole('button', { name: 'Import', exact: true }).click();
    await page
      .getByRole('table', { name: 'Data sets' })
      .getByRole('row', { name: /odd\.csv.*Task data.*3/ })
      .waitFor({ timeout: 60_000 });
    await page.getByLabel('Record format').selectOption('auto');
  });

  it('analyses the pool: behaviour types and harm categories appear in the records', async () => {
    await page.getByLabel('Reference prompts folder (for category inference)').fill(refs!);
    await page.getByRole('button', { name: 'Analyse bianchi_safety_only_data_Instructions.json' }).click();
    // A safety pool's defaults: typed, every prompt harmful, categories inferred.
    const dialog = page.getByRole('dialog', { name: 'Analyse bianchi_safety_only_data_Instructions.json' });
    expect(await dialog.getByLabel(/Every prompt is harmful/).isChecked()).toBe(true);
    expect(await dialog.getByLabel(/Type each pair/).isChecked()).toBe(true);
    expect(await dialog.getByLabel(/Infer harm categories/).isChecked()).toBe(true);
    await screenshot(page, 'curation-0-analyse-defaults');
    await dialog.getByRole('button', { name: 'Start analysis' }).click();
    // the job is named after the data set's file
    await waitForJob(page, 'Analyse bianchi_safety_only_data_Instructions.json');
    await page.getByLabel('Behaviour').selectOption('T1');
    await expect.poll(async () => (await page.getByText(/^[\d,]+ records?$/).textContent()) ?? '', { timeout: 20_000 }).toMatch(/^[1-9][\d,]* records$/);
    const firstRow = page.getByRole('table', { name: 'Records' }).getByRole('row').nth(1);
    await expect.poll(() => firstRow.getByRole('cell').nth(5).textContent(), { timeout: 20_000 }).toBe('T1');
    await screenshot(page, 'curation-1-records');
    // Defaults by role: no benign types in a pool that is harmful by construction.
    for (const t of ['T3', 'T4']) {
      await page.getByLabel('Behaviour').selectOption(t);
      await expect.poll(async () => (await page.getByText(/^[\d,]+ records?$/).textContent()) ?? '', { timeout: 20_000 }).toBe('0 records');
    }
    await page.getByLabel('Behaviour').selectOption('T1');
  });

  it('shows the embedding map of the pool, coloured by category or behaviour, with hover text', async () => {
    const map = page.getByRole('img', { name: 'Embedding map coloured by category' });
    await map.waitFor({ timeout: 30_000 });
    expect(await map.locator('circle').count()).toBe(2483);
    await page.getByLabel('Colour by').selectOption('behaviour');
    const byBehaviour = page.getByRole('img', { name: 'Embedding map coloured by behaviour' });
    const fills = await byBehaviour.locator('circle').evaluateAll((cs) => new Set(cs.map((c) => c.getAttribute('fill'))).size);
    expect(fills).toBeGreaterThanOrEqual(2);
    await byBehaviour.locator('circle').first().hover({ force: true });
    await expect.poll(() => page.locator('.map-hover').textContent(), { timeout: 10_000 }).toMatch(/^T[1-4]: .{5,}/);
    await page.locator('.embedding-map').scrollIntoViewIfNeeded();
    await screenshot(page, 'curation-1b-embedding-map');

    // The legend hides and shows a type's points: all 2,483 prompts of the pool are T1 or T2.
    const legend = page.getByRole('list', { name: /^Legend/ });
    const t1 = legend.getByRole('button', { name: 'T1', exact: true });
    const circles = () => byBehaviour.locator('circle').count();
    const t1Fill = (await t1.getAttribute('data-colour'))!;
    const t1Count = await byBehaviour.locator(`circle[fill="${t1Fill}"]`).count();
    expect(t1Count).toBeGreaterThan(0);
    await t1.click();
    expect(await t1.getAttribute('aria-pressed')).toBe('false');
    await expect.poll(circles, { timeout: 10_000 }).toBe(2483 - t1Count);
    await page.getByText(`(${t1Count.toLocaleString('en-US')} hidden)`).waitFor();
    await screenshot(page, 'curation-1c-embedding-map-t1-hidden');
    await t1.click();
    await expect.poll(circles, { timeout: 10_000 }).toBe(2483);
  });

  it('previews SSS-B with budget 50, shows the histograms, saves and exports', async () => {
    await page.getByRole('link', { name: 'Select', exact: true }).click();
    await page.getByRole('radio', { name: 'SSS-B', exact: true }).check();
    await page.getByLabel('Budget (examples)').fill('50');
    await page.getByLabel('Seed').fill('7');
    // the form keeps what was typed across a tab switch
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    await page.getByRole('link', { name: 'Select', exact: true }).click();
    expect(await page.getByLabel('Seed').inputValue()).toBe('7');
    expect(await page.getByRole('radio', { name: 'SSS-B', exact: true }).isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Preview selection' }).click();
    const summary = page.getByLabel('Selection summary');
    await summary.waitFor({ timeout: 120_000 });
    expect(await summary.textContent()).toMatch(/50 selected of budget 50/);
    const behaviour = page.getByRole('figure', { name: 'Per behaviour type' });
    expect(await behaviour.locator('li[data-key="T1"]').getAttribute('data-count')).toBe('50');
    const perCat = await page
      .getByRole('figure', { name: 'Per harm category' })
      .locator('li')
      .evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-count'))));
    expect(perCat.filter((n) => n > 0).length).toBeGreaterThanOrEqual(10);
    await screenshot(page, 'curation-2-preview');

    await page.getByLabel('Selection name').fill('SSS-B 50');
    await page.getByRole('button', { name: 'Save selection' }).click();
    await page.getByRole('table', { name: 'Saved selections' }).getByRole('cell', { name: 'SSS-B 50', exact: true }).waitFor();
    await page.getByLabel('Export format').selectOption('alpaca');
    await page.getByRole('button', { name: 'Export training mix' }).click();
    const status = page.getByRole('status').filter({ hasText: 'written to' });
    await status.waitFor();
    const text = (await status.textContent())!;
    const m = /(\d+) examples \((\d+) task \+ 50 safety\) written to (\S+\.jsonl)/.exec(text);
    expect(m, text).not.toBeNull();
    const lines = readFileSync(m![3]!, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(Number(m![1]));
    expect(lines.length).toBe(Number(m![2]) + 50);
    expect(lines.every((l) => typeof l.instruction === 'string' && 'input' in l && typeof l.output === 'string')).toBe(true);
    const poolPrompts = new Set((JSON.parse(readFileSync(pool!, 'utf8')) as { instruction: string }[]).map((r) => r.instruction.trim()));
    expect(lines.filter((l) => poolPrompts.has(l.instruction.trim())).length).toBeGreaterThanOrEqual(50);
    await screenshot(page, 'curation-3-exported');
  });

  it('says how many pool examples each category has for the chosen method, and after selecting, target vs selected over the chosen categories only', async () => {
    const eligible = page.getByTestId('eligible-summary');
    // SSS-B keeps T1 examples only; SSS takes every pool example
    await expect
      .poll(() => eligible.textContent())
      .toMatch(/^\d+ of \d+ safety-pool examples are eligible for SSS-B \(T1 only: a harmful prompt with a refusal\)\.$/);
    const [t1, poolSize] = /^(\d+) of (\d+)/
      .exec((await eligible.textContent())!)!
      .slice(1)
      .map(Number) as [number, number];
    expect(t1).toBeLessThan(poolSize);
    await page.getByRole('radio', { name: 'SSS', exact: true }).check();
    await expect.poll(() => eligible.textContent()).toBe(`${poolSize} of ${poolSize} safety-pool examples are eligible for SSS.`);
    await page.getByRole('radio', { name: 'SSS-B', exact: true }).check();
    await expect.poll(() => eligible.textContent()).toMatch(new RegExp(`^${t1} of ${poolSize} `));

    // two categories only: the count of each is on its checkbox
    await page.getByRole('button', { name: 'Clear', exact: true }).click();
    const privacy = page.getByRole('checkbox', { name: /^Privacy violation · \d+ eligible$/ });
    const violence = page.getByRole('checkbox', { name: /^Violence, aiding and abetting, incitement · \d+ eligible$/ });
    await privacy.check();
    await violence.check();
    const count = async (c: typeof privacy) => Number(/· (\d+) eligible$/.exec((await c.locator('xpath=..').textContent())!)![1]);
    const [nPrivacy, nViolence] = [await count(privacy), await count(violence)];
    expect(nPrivacy).toBeGreaterThan(5);
    expect(nViolence).toBeGreaterThan(5);
    await expect.poll(() => eligible.textContent()).toMatch(/ in the 2 chosen categories\.$/);
    await page.getByLabel('Budget (examples)').fill('10');
    await page.getByRole('button', { name: 'Preview selection' }).click();
    await expect.poll(() => page.getByLabel('Selection summary').textContent(), { timeout: 120_000 }).toMatch(/10 selected of budget 10/);
    // a new preview suggests its own name, not the one saved before
    expect(await page.getByLabel('Selection name').inputValue()).toBe('SSS-B 10 seed 7');
    const spread = page.getByRole('table', { name: 'Target vs selected per harm category' });
    const rows = await spread
      .locator('tbody tr')
      .evaluateAll((trs) =>
        trs.map((tr) => [
          tr.getAttribute('data-category'),
          ...['eligible', 'target', 'takenFor'].map((f) => Number(tr.querySelector(`[data-field="${f}"]`)!.textContent)),
        ]),
      );
    expect(rows.sort()).toEqual([
      ['privacy_violation', nPrivacy, 5, 5],
      ['violence,aiding_and_abetting,incitement', nViolence, 5, 5],
    ]);
    const histogram = await page
      .getByRole('figure', { name: 'Per harm category' })
      .locator('li')
      .evaluateAll((els) => els.map((e) => e.getAttribute('data-key')));
    expect(histogram.sort()).toEqual(['privacy_violation', 'violence,aiding_and_abetting,incitement']);
    await spread.scrollIntoViewIfNeeded();
    await screenshot(page, 'curation-3b-target-vs-selected');
    await page.getByRole('button', { name: 'All', exact: true }).click();
  });

  it('analyses task data with its defaults: embedded, no behaviour types, no harm categories', async () => {
    await page.getByRole('link', { name: 'Data', exact: true }).click();
    await page.getByRole('button', { name: 'Analyse alpaca_en_demo.json' }).click();
    const dialog = page.getByRole('dialog', { name: 'Analyse alpaca_en_demo.json' });
    expect(await dialog.getByLabel(/Type each pair/).isChecked()).toBe(false);
    expect(await dialog.getByLabel(/Infer harm categories/).isChecked()).toBe(false);
    await dialog.getByRole('button', { name: 'Start analysis' }).click();
    await expect
      .poll(() => page.locator('li.job', { hasText: /Analyse (bianchi_safety_only_data_Instructions|alpaca_en_demo)\.json/ }).count(), { timeout: 20_000 })
      .toBe(2);
    await waitForJob(page, 'Analyse alpaca_en_demo.json');
    // the Records card's filter (the embedding map below has its own)
    await page.getByLabel('Data set', { exact: true }).first().selectOption({ label: 'alpaca_en_demo.json (Task data)' });
    const count = async () => (await page.getByText(/^[\d,]+ records?$/).textContent()) ?? '';
    await page.getByLabel('Behaviour').selectOption('');
    await expect.poll(count, { timeout: 20_000 }).toMatch(/^[1-9][\d,]* records$/);
    const all = await count();
    await page.getByLabel('Behaviour').selectOption('untyped');
    await expect.poll(count, { timeout: 20_000 }).toBe(all);
    await screenshot(page, 'curation-4-task-untyped');
  });

  it('raised no console errors', () => {
    expect(errors).toEqual([]);
  });
});
