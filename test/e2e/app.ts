import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../helpers/shared';

export const resultsDir = join(repoRoot, 'test-results');

/**
 * Starts the built app in browser mode (as `npm run serve` does) on a fresh workspace. `url` is the
 * printed start-up URL, with the launch token in its fragment (`http://127.0.0.1:PORT/#token=…`).
 */
export async function startApp(
  workspace: string,
  extraArgs: string[] = [],
): Promise<{ url: string; origin: string; token: string; child: ChildProcess; stop: () => Promise<void> }> {
  const cli = join(repoRoot, 'out', 'main', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\` first (npm run test:e2e does)`);
  const child = spawn(process.execPath, [cli, 'serve', '--workspace', workspace, '--no-open', ...extraArgs], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, CI: '1' },
  });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`browser mode did not start:\n${out}`)), 20_000);
    const check = () => {
      const m = /at (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => reject(new Error(`browser mode exited with ${code}:\n${out}`)));
  });
  const [origin, token] = url.split('/#token=') as [string, string];
  return {
    url,
    origin,
    token,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** Debian's Chromium, driven by playwright-core (never a downloaded browser). */
export async function launchBrowser(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) {
    throw new Error(`Chromium not found at ${executablePath}: apt-get install chromium, or set CHROMIUM_PATH`);
  }
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
}

export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(resultsDir, { recursive: true });
  await page.screenshot({ path: join(resultsDir, `${name}.png`), fullPage: true });
}

/** Collects console errors and page errors (CSP violations show up here). */
export function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

/** Adds a model through the Models page and waits for it to be listed. */
export async function addModel(page: Page, path: string): Promise<void> {
  await page.getByRole('link', { name: 'Models & Playground' }).click();
  await page.getByLabel('Model path').fill(path);
  await page.getByRole('button', { name: 'Add model' }).click();
  await page.getByRole('table', { name: 'Models' }).getByRole('row').nth(1).waitFor();
}

/** Creates a project from the home page and opens it. */
export async function createProject(page: Page, name: string): Promise<void> {
  await page.getByRole('link', { name: 'All projects' }).click();
  await page.getByLabel('Project name').fill(name);
  await page.getByRole('button', { name: 'Create project' }).click();
  await page.getByRole('table', { name: 'Projects' }).getByRole('link', { name }).click();
  await page.getByRole('heading', { name, exact: true }).waitFor();
}

/** Imports a granted file on the open project's Data tab with a role and waits for its row in Data sets. */
export async function importData(page: Page, path: string, role: string, listedAs: RegExp): Promise<void> {
  await page.getByLabel('File path').fill(path);
  await page.getByLabel('Role').selectOption(role);
  await page.getByRole('button', { name: 'Import', exact: true }).click();
  await page.getByRole('table', { name: 'Data sets' }).getByRole('row', { name: listedAs }).waitFor({ timeout: 60_000 });
}
