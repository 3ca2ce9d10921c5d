import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../helpers/shared';
import { screenshot } from './app';
import { storiesProject } from './storiesProject';

const stories = sharedPath('models', 'stories260K.gguf');
/** The first run merged into stories260K: SafeLoRA's stand-in base model (same shapes, other weights). */
let mergedPath = '';

describe.skipIf(!stories)('fine-tuning in browser mode', () => {
  const ui = storiesProject({ model: stories!, prefix: 'safetune-e2e-train-', project: 'Tune', height: 800 });
  let page: Page;
  beforeAll(() => {
    page = ui.page;
  });

  it('fine-tunes stories260K with LoRA on a 4-bit frozen base, shows the live loss curve and the exported adapter', async () => {
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await page.getByRole('radio', { name: 'Plain LoRA fine-tuning', exact: true }).check();
    await page.getByLabel('Prompt template').selectOption('plain');
    await page.getByLabel('Steps').fill('12');
    await page.getByLabel('Batch size').fill('3');
    await page.getByLabel('Learning rate').fill('0.003');
    // the peak-memory estimate of the run as configured, before it starts
    await expect.poll(() => page.getByTestId('memory-estimate').textContent(), { timeout: 10_000 }).toMatch(/Estimated peak memory: \d+\.\d+ (MiB|GiB)/);
    // this run recomputes activations in the backward pass: the estimate counts fewer of them
    const activations = async () => {
      const m = /backward pass ([\d.]+) (MiB|GiB)/.exec((await page.getByTestId('memory-estimate').textContent()) ?? '');
      return m ? Number(m[1]) * (m[2] === 'GiB' ? 1024 : 1) : NaN;
    };
    const before = await activations();
    expect(before).toBeGreaterThan(0);
    await page.getByLabel(/Recompute activations/).check();
    await expect.poll(activations, { timeout: 10_000 }).toBeLessThan(before);
    // and keeps the frozen weights in fp16: the weights figure halves for the projections
    const weights = async () => {
      const m = /frozen weights ([\d.]+) (MiB|GiB)/.exec((await page.getByTestId('memory-estimate').textContent()) ?? '');
      return m ? Number(m[1]) * (m[2] === 'GiB' ? 1024 : 1) : NaN;
    };
    const fp32Weights = await weights();
    await page.getByLabel(/Keep the frozen weights in fp16/).check();
    await expect.poll(weights, { timeout: 10_000 }).toBeLessThan(fp32Weights);
    // and quantises the frozen base to 4 bits on load (QLoRA-style): less than half again, the type
    // named in the estimate, and activations recomputed (the box checked and locked)
    const fp16Weights = await weights();
    await page.getByLabel('Quantise the frozen base').selectOption('q4_0');
    await expect.poll(weights, { timeout: 10_000 }).toBeLessThan(fp16Weights / 2);
    expect(await page.getByTestId('memory-estimate').textContent()).toMatch(/frozen weights [\d.]+ (MiB|GiB) as Q4_0 \(4-bit\)/);
    expect(await page.getByLabel(/Recompute activations/).isChecked()).toBe(true);
    expect(await page.getByLabel(/Recompute activations/).isDisabled()).toBe(true);
    await page.getByTestId('memory-estimate').scrollIntoViewIfNeeded();
    await screenshot(page, 'train-0-base-quant');
    // the pre-flight counts, with the model's tokenizer, what survives truncation at the chosen max tokens
    const preflight = page.getByTestId('preflight');
    const taskLine = preflight.locator('p[data-set="Task data"]');
    await expect
      .poll(() => taskLine.textContent(), { timeout: 60_000 })
      .toMatch(/^Task data at 256 max tokens: 6 of 6 examples keep their whole response, 0 lose part of it, 0 lose all of it\.$/);
    await page.getByLabel('Max tokens per example').fill('8');
    await expect
      .poll(() => taskLine.textContent())
      .toMatch(/at 8 max tokens: 0 of 6 examples keep their whole response, 0 lose part of it, 6 lose all of it — 100% would teach nothing/);
    expect(await page.getByRole('button', { name: 'Start fine-tuning' }).isDisabled()).toBe(true);
    expect(await page.getByTestId('start-blocked').textContent()).toMatch(/^Cannot start: no task example keeps a response token at max tokens 8/);
    await page.getByRole('img', { name: 'Token lengths of the task examples' }).waitFor();
    await page.getByTestId('start-blocked').scrollIntoViewIfNeeded();
    await screenshot(page, 'train-0-preflight-blocked');
    const use = preflight.getByRole('button', { name: /^Use \d+$/ });
    const suggested = Number((await use.textContent())!.replace('Use ', ''));
    await use.click();
    expect(await page.getByLabel('Max tokens per example').inputValue()).toBe(String(suggested));
    await expect.poll(() => taskLine.textContent()).toMatch(new RegExp(`at ${suggested} max tokens: 6 of 6 examples keep their whole response`));
    expect(await page.getByRole('button', { name: 'Start fine-tuning' }).isDisabled()).toBe(false);
    await page.getByRole('button', { name: 'Start fine-tuning' }).click();
    const run = page.locator('section.train-run').first();
    await run.waitFor();
    await expect.poll(() => run.locator('.badge').textContent(), { timeout: 180_000, interval: 250 }).toMatch(/succeeded|failed/);
    expect(await run.locator('.badge').textContent(), (await run.textContent()) ?? '').toBe('succeeded');
    const chart = run.getByRole('img', { name: 'Task loss (cross-entropy)' });
    await chart.waitFor();
    await run.scrollIntoViewIfNeeded();
    expect(await run.locator('.stat-row').textContent()).toMatch(/step 12\/12/);
    // axis ticks, and the value of the step nearest the pointer (the right edge: step 12)
    expect(await chart.locator('g.x-tick text').allTextContents()).toEqual(['0', '2', '4', '6', '8', '10', '12']);
    expect(await chart.locator('g.y-tick').count()).toBeGreaterThanOrEqual(3);
    const box = (await chart.boundingBox())!;
    await page.mouse.move(box.x + box.width - 2, box.y + box.height / 2);
    await expect.poll(() => chart.locator('g.hover-value text').textContent(), { timeout: 5_000 }).toMatch(/^step 12: \d+\.\d{4}$/);
    const adapter = (await run.locator('code').textContent())!;
    expect(existsSync(join(adapter, 'adapter_model.safetensors'))).toBe(true);
    await screenshot(page, 'train-1-done');
  });

  it('exports the fine-tuned model merged into one GGUF and adds it to the Models list', async () => {
    const run = page.locator('section.train-run').first();
    await run.getByRole('button', { name: 'Export merged model' }).click();
    const merged = run.getByTestId('merge-export').locator('code');
    await merged.waitFor({ timeout: 60_000 });
    const path = (await merged.textContent())!;
    mergedPath = path;
    // written by the app into a new folder of the workspace's models/
    expect(path).toMatch(/\/workspace\/models\/stories260K\+train-\d+\/merged\.gguf$/);
    expect(existsSync(path)).toBe(true);
    await run.getByRole('button', { name: 'Add to Models' }).click();
    await page.getByRole('link', { name: 'Models & Playground' }).click();
    // the merged GGUF is named after its base model and adapter
    await page
      .getByRole('table', { name: 'Models' })
      .getByRole('row', { name: /\+ adapter/ })
      .waitFor({ timeout: 60_000 });
    await screenshot(page, 'train-2-merged');
  });

  it('SafeLoRA asks for the aligned model’s base model, then trains and says how many layers it projected', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Tune', exact: true }).click();
    await page.getByRole('link', { name: 'Train', exact: true }).click();
    await page.getByRole('radio', { name: 'SafeLoRA', exact: true }).check();
    const start = page.getByRole('button', { name: 'Start fine-tuning' });
    await expect
      .poll(() => page.getByTestId('method-needs-missing').textContent(), { timeout: 10_000 })
      .toBe('SafeLoRA needs the aligned model’s base (unaligned) model: give its path.');
    expect(await start.isDisabled()).toBe(true);
    await page.getByLabel('Base (unaligned) model').fill(mergedPath);
    await expect.poll(() => page.getByTestId('method-needs-missing').count()).toBe(0);
    await page.getByLabel('Similarity threshold').fill('0.9');
    await page.getByLabel('Steps').fill('3');
    await page.getByLabel('Base (unaligned) model').scrollIntoViewIfNeeded();
    await screenshot(page, 'train-3-safelora-form');
    await expect.poll(() => start.isDisabled(), { timeout: 60_000 }).toBe(false);
    await start.click();
    const run = page.locator('section.train-run').first();
    await expect.poll(() => run.locator('strong').first().textContent(), { timeout: 10_000 }).toMatch(/SafeLoRA · no safety examples · 3 steps/);
    await expect.poll(() => run.locator('.badge').textContent(), { timeout: 180_000, interval: 250 }).toMatch(/succeeded|failed/);
    expect(await run.locator('.badge').textContent(), (await run.textContent()) ?? '').toBe('succeeded');
    expect(await run.getByTestId('method-note').textContent()).toMatch(/^SafeLoRA projected \d+ of \d+ adapter layers \(similarity under 0\.9\)$/);
    await run.scrollIntoViewIfNeeded();
    await screenshot(page, 'train-4-safelora-done');
  });

  it('raised no console errors', () => {
    expect(ui.errors).toEqual([]);
  });
});
