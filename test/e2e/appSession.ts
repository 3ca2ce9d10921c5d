/**
 * The set-up most e2e tests share: the app in browser mode on a fresh workspace in a temporary
 * folder, a browser page watched for console errors, then — through the UI — folders granted, a
 * model added to Models, a project created and data sets imported. Registered as beforeAll and
 * torn down after the tests of the enclosing describe (or file); the fields are read inside tests.
 */
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { tempDir } from '../helpers/services';
import { addModel, createProject, importData, launchBrowser, startApp, watchErrors } from './app';
import { grantFolder } from './grants';

export interface AppSessionOptions {
  /** the temporary folder's prefix */
  prefix: string;
  /** the page's height (its width is 1280) */
  height: number;
  /** whether the page accepts downloads */
  acceptDownloads?: boolean;
  /** writes the test's files into the temporary folder before the app starts */
  prepare?: (dir: string) => void;
  /** files and folders to grant (after the model's folder) */
  grants?: (dir: string) => string[];
  /** a model to add to Models (its folder granted first) */
  model?: string;
  /** a project to create */
  project?: string;
  /** files to import into the project, each waited for as the Data sets row `listedAs` */
  imports?: (dir: string) => { path: string; role: string; listedAs: RegExp }[];
  /** the set-up's time limit, when the default is not enough */
  setupTimeoutMs?: number;
}

export interface AppSession {
  readonly page: Page;
  /** console and page errors seen so far */
  readonly errors: string[];
  /** the temporary folder: the workspace in workspace/ and room for the test's own files */
  readonly dir: string;
  /** the browser, for a second page */
  readonly browser: Browser;
  /** the app's URL, token included */
  readonly url: string;
}

/** Registers the set-up (beforeAll) and tear-down (afterAll). */
export function appSession(opts: AppSessionOptions): AppSession {
  let state: AppSession | null = null;
  let browser: Browser | undefined;
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  let cleanup: (() => void) | undefined;
  const ready = () => {
    if (!state) throw new Error('the e2e app is set up in beforeAll: read it inside a test');
    return state;
  };

  beforeAll(async () => {
    const t = tempDir(opts.prefix);
    cleanup = t.cleanup;
    opts.prepare?.(t.dir);
    app = await startApp(join(t.dir, 'workspace'));
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: opts.height }, ...(opts.acceptDownloads ? { acceptDownloads: true } : {}) });
    state = { page, errors: watchErrors(page), dir: t.dir, browser, url: app.url };
    await page.goto(app.url);
    if (opts.model) await grantFolder(page, dirname(opts.model));
    for (const g of opts.grants?.(t.dir) ?? []) await grantFolder(page, g);
    if (opts.model) await addModel(page, opts.model);
    if (opts.project) await createProject(page, opts.project);
    for (const f of opts.imports?.(t.dir) ?? []) await importData(page, f.path, f.role, f.listedAs);
  }, opts.setupTimeoutMs);
  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    cleanup?.();
  });

  return {
    get page() {
      return ready().page;
    },
    get errors() {
      return ready().errors;
    },
    get dir() {
      return ready().dir;
    },
    get browser() {
      return ready().browser;
    },
    get url() {
      return ready().url;
    },
  };
}
