import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/shared';
import { isoDate } from '../../src/renderer/src/project/compare/exportName';
import { resultsDir, screenshot, watchErrors } from './app';
import { appSession } from './appSession';

const stories = sharedPath('models', 'stories260K.gguf');
const data = sharedPath('data');
let page: Page;
let errors: string[];

async function runEvaluation(limit: string, name: string, on: Page = page) {
  const page = on;
  await page.getByRole('link', { name: 'Evaluate', exact: true }).click();
  await page.getByLabel('Suite data folder').fill(data!);
  await page.getByLabel('Examples per suite').fill(limit);
  await page.getByLabel('Max new tokens').fill('16');
  await page.getByLabel('Prompt format').selectOption('raw');
  await page.getByLabel('Run name (optional)').fill(name);
  const started = page.getByText(/^Started job #\d+/);
  const startedText = async () => ((await started.count()) ? await started.textContent() : null);
  const before = await startedText();
  await page.getByRole('button', { name: 'Start evaluation' }).click();
  await expect.poll(startedText).not.toBe(before);
  const id = /#(\d+)/.exec((await startedText())!)![1];
  const job = page.locator(`li.job[data-job-id="${id}"]`);
  await expect.poll(() => job.getAttribute('data-state'), { timeout: 180_000, interval: 250 }).toMatch(/succeeded|failed/);
  expect(await job.getAttribute('data-state'), (await job.textContent()) ?? '').toBe('succeeded');
}

/** One CSV line's cells (quoted cells unquoted). */
const csvCells = (line: string) => [...line.matchAll(/(?:^|,)("(?:[^"]|"")*"|[^,]*)/g)].map((m) => m[1]!.replace(/^"([\s\S]*)"$/, '$1').replace(/""/g, '"'));

const kOf = (text: string | null) => Number(/\((\d+)\/(\d+)\)/.exec(text ?? '')?.[1]);
/** AdvBench attack successes of "baseline 6" after one verdict is corrected (set by the inspector test). */
let correctedK: number;

describe.skipIf(!stories || !data)('evaluation and comparison in browser mode', () => {
  const session = appSession({
    prefix: 'safetune-e2e-eval-',
    height: 800,
    acceptDownloads: true,
    grants: () => [data!],
    model: stories!,
    project: 'Eval',
  });
  beforeAll(() => {
    ({ page, errors } = session);
  });

  it('runs a small evaluation of stories260K on AdvBench and XSTest with the keyword judge', async () => {
    await runEvaluation('6', 'baseline 6');
    await page
      .getByRole('button', { name: /^Open run / })
      .first()
      .click();
    const adv = page.getByRole('table', { name: 'Metrics' }).locator('tr[data-suite="advbench"][data-judge="keyword-start"]');
    await adv.waitFor();
    // A story model answers every harmful request (greedy decoding: the same every run).
    expect(await adv.locator('[data-metric="attackSuccess"]').textContent()).toBe('100.0% [61%–100%] (6/6)');
    const xs = page.getByRole('table', { name: 'Metrics' }).locator('tr[data-suite="xstest"][data-judge="keyword-start"]');
    // and refuses none of XSTest's benign prompts (3 of the 6 examples are benign)
    expect(kOf(await xs.locator('[data-metric="overRefusal"]').textContent())).toBe(0);
    expect(await xs.locator('[data-metric="overRefusal"]').textContent()).toMatch(/\(0\/3\)$/);
    // AdvBench prompts get harm categories (inferred from the data folder's reference prompts); XSTest's types are prompt types.
    const perCat = page.getByRole('table', { name: 'Per-category metrics' });
    const advCats = await perCat.locator('tr[data-suite="advbench"]').evaluateAll((rs) => rs.map((r) => r.getAttribute('data-category')));
    expect(advCats.length).toBeGreaterThan(0);
    expect(advCats).not.toContain('uncategorised');
    expect(await perCat.locator('tr[data-suite="xstest"]').count()).toBe(0);
    await page.getByText('Per prompt type (over-refusal suites)').click();
    expect(await page.getByRole('table', { name: 'Per-prompt-type metrics' }).locator('tr[data-suite="xstest"]').count()).toBeGreaterThan(0);
    await page
      .getByRole('list', { name: 'Suite notes' })
      .getByText(/advbench: harm categories of 6 item\(s\) inferred/)
      .waitFor();
    await screenshot(page, 'eval-1-metrics');
  });

  it('corrects one verdict in the inspector and the metric changes', async () => {
    const cell = page.getByRole('table', { name: 'Metrics' }).locator('tr[data-suite="advbench"][data-judge="keyword-start"] [data-metric="attackSuccess"]');
    const before = kOf(await cell.textContent());
    await page.getByLabel('Suite', { exact: true }).selectOption('advbench');
    const item = page
      .locator('.inspect-item')
      .filter({ has: page.locator('.badge', { hasText: /^compliance$/ }) })
      .first();
    await item.waitFor();
    await item.getByRole('combobox').first().selectOption('refusal');
    await expect.poll(async () => kOf(await cell.textContent()), { timeout: 10_000 }).toBe(before - 1);
    correctedK = before - 1;
    await page.getByText('1 corrected').waitFor();
    await screenshot(page, 'eval-2-corrected');
  });

  it('lists a run that finishes while Compare is open, without leaving the tab', async () => {
    await page.getByRole('link', { name: 'Compare', exact: true }).click();
    const runs = page.getByRole('group', { name: 'Runs' });
    await runs.getByText(/baseline 6$/).waitFor();
    expect(await runs.getByText(/baseline 4$/).count()).toBe(0);
    // a second browser tab starts the evaluation; this one stays on Compare
    const other = await session.browser.newPage({ viewport: { width: 1280, height: 800 } });
    const otherErrors = watchErrors(other);
    try {
      await other.goto(session.url);
      await other.getByRole('link', { name: 'All projects' }).click();
      await other.getByRole('table', { name: 'Projects' }).getByRole('link', { name: 'Eval' }).click();
      await runEvaluation('4', 'baseline 4', other);
    } finally {
      await other.close();
    }
    await runs.getByText(/baseline 4$/).waitFor({ timeout: 10_000 });
    expect(otherErrors).toEqual([]);
  });

  it('compares two runs and exports the table as CSV', async () => {
    await page.getByRole('button', { name: 'Compare', exact: true }).click();
    const table = page.getByRole('table', { name: 'Comparison' });
    await table.waitFor();
    expect(await table.locator('tbody tr').count()).toBe(2);
    await page.getByRole('img', { name: 'Attack success against over-refusal' }).waitFor();
    await screenshot(page, 'eval-3-compare');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const today = isoDate(new Date());
    expect(download.suggestedFilename()).toBe(`safetune-eval-runs-compared-${today}.csv`);
    const file = join(resultsDir, 'compare.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^run_id,name,model,adapter,generator,judge,examples,attack_success_rate,/);
    expect(lines).toHaveLength(3);
    const rows = lines.slice(1).map(csvCells);
    expect(rows.map((r) => r[1]).sort()).toEqual(['baseline 4', 'baseline 6']);
    // both runs are of the base model alone: the model column says so, the adapter column is empty
    expect(rows.map((r) => [r[2], r[3]])).toEqual([
      ['stories260K (base, no adapter)', ''],
      ['stories260K (base, no adapter)', ''],
    ]);
    const six = rows.find((r) => r[1] === 'baseline 6')!;
    // attack_success k/n in the CSV reflect the corrected verdict
    expect(Number(six[10])).toBe(correctedK);
    expect(Number(six[11])).toBe(6);
    // the scatter's SVG export carries its title, axis labels and a legend naming both runs
    const [svgDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export SVG' }).click()]);
    expect(svgDownload.suggestedFilename()).toBe(`safetune-eval-attack-success-vs-over-refusal-${today}.svg`);
    const svgFile = join(resultsDir, 'compare-scatter.svg');
    await svgDownload.saveAs(svgFile);
    const svg = readFileSync(svgFile, 'utf8');
    expect(svg).toContain('Attack success against over-refusal: Eval');
    expect(svg).toContain('Over-refusal (benign prompts refused) →');
    expect(svg).toContain('Attack success (harmful prompts answered) →');
    expect(svg).toMatch(/#\d+ baseline 6/);
    expect(svg).toMatch(/#\d+ baseline 4/);
    const [pngDownload] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export PNG' }).click()]);
    expect(pngDownload.suggestedFilename()).toBe(`safetune-eval-attack-success-vs-over-refusal-${today}.png`);
    await pngDownload.saveAs(join(resultsDir, 'compare-scatter.png'));
  });

  it('shows attack success per harm category side by side, against a chosen base run, and exports it', async () => {
    const heat = page.getByRole('table', { name: 'Attack success per harm category' });
    await heat.waitFor();
    expect(await heat.locator('thead th').count()).toBe(3);
    const rows = heat.locator('tbody tr');
    expect(await rows.count()).toBeGreaterThan(0);
    expect(await heat.locator('tbody tr[data-category="uncategorised"]').count()).toBe(0);
    const base = await page.getByLabel('Base run').inputValue();
    const other = (await heat.locator('thead th[data-run-id]').evaluateAll((hs) => hs.map((h) => h.getAttribute('data-run-id')))).find((id) => id !== base)!;
    // every category both runs measured shows a signed difference in the other run's cell, none in the base run's
    expect(await heat.locator(`td[data-run-id="${base}"] .delta`).count()).toBe(0);
    await page.getByLabel('Base run').selectOption(other);
    expect(await heat.locator(`td[data-run-id="${other}"] .delta`).count()).toBe(0);
    await heat.scrollIntoViewIfNeeded();
    await screenshot(page, 'eval-4-category-heatmap');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export category CSV' }).click()]);
    expect(download.suggestedFilename()).toBe(`safetune-eval-attack-success-by-harm-category-${isoDate(new Date())}.csv`);
    const file = join(resultsDir, 'compare-categories.csv');
    await download.saveAs(file);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    // stable, unique column names: each run's id and what the column holds; the base run has no difference column
    const header = lines[0]!.split(',');
    expect(new Set(header).size).toBe(header.length);
    expect(header.slice(0, 3)).toEqual(['category', 'category_name', expect.stringMatching(/^run_\d+_attack_success_rate$/)]);
    expect(header.filter((c) => c.includes('_minus_'))).toEqual([`run_${base}_attack_success_minus_run_${other}`]);
    expect(lines).toHaveLength((await rows.count()) + 1);
  });

  it('raised no console errors', () => {
    expect(errors).toEqual([]);
  });
});
