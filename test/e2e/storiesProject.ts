/**
 * The set-up the fine-tuning e2e tests share (training, full training, merging): the app in browser
 * mode on a fresh workspace, a browser page watched for console errors, stories260K granted and
 * added to Models, and a project with six short stories (Alpaca rows) imported as task data, all
 * through the UI. Torn down after the tests of the enclosing describe.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { tempDir } from '../helpers/services';
import { addModel, createProject, importData, launchBrowser, startApp, watchErrors } from './app';
import { grantFolder } from './grants';

export interface StoriesProjectOptions {
  /** the stories260K GGUF (the caller skips when it is absent) */
  model: string;
  /** the temporary folder's prefix */
  prefix: string;
  /** the project's name */
  project: string;
  /** the page's height (its width is 1280) */
  height: number;
  /** more files or folders to grant before the model is added */
  grants?: string[];
  /** the set-up's time limit, when the default is not enough */
  setupTimeoutMs?: number;
}

export interface StoriesProject {
  readonly page: Page;
  /** console and page errors seen so far */
  readonly errors: string[];
  /** the temporary folder: task.jsonl, the workspace in workspace/ and room for the test's own files */
  readonly dir: string;
  /** the imported task data (task.jsonl) */
  readonly taskFile: string;
}

/** The six task rows: "Tell me about the cat." → "The cat played in the sun all day.", and so on. */
export const STORY_ROWS = ['cat', 'dog', 'bird', 'fish', 'frog', 'bear'].map((a) => ({
  instruction: `Tell me about the ${a}.`,
  input: '',
  output: `The ${a} played in the sun all day.`,
}));

/** Registers the set-up (beforeAll) and tear-down (afterAll); the fields are read inside the tests. */
export function storiesProject(opts: StoriesProjectOptions): StoriesProject {
  let state: { page: Page; errors: string[]; dir: string; taskFile: string } | null = null;
  let browser: Browser | undefined;
  let app: Awaited<ReturnType<typeof startApp>> | undefined;
  let cleanup: (() => void) | undefined;
  const ready = () => {
    if (!state) throw new Error('the e2e project is set up in beforeAll: read it inside a test');
    return state;
  };

  beforeAll(async () => {
    const t = tempDir(opts.prefix);
    cleanup = t.cleanup;
    const taskFile = join(t.dir, 'task.jsonl');
    writeFileSync(taskFile, `${STORY_ROWS.map((r) => JSON.stringify(r)).join('\n')}\n`);
    app = await startApp(join(t.dir, 'workspace'));
    browser = await launchBrowser();
    const page = await browser.newPage({ viewport: { width: 1280, height: opts.height } });
    state = { page, errors: watchErrors(page), dir: t.dir, taskFile };
    await page.goto(app.url);
    await grantFolder(page, dirname(opts.model));
    await grantFolder(page, taskFile);
    for (const g of opts.grants ?? []) await grantFolder(page, g);
    await addModel(page, opts.model);
    await createProject(page, opts.project);
    await importData(page, taskFile, 'task', /task\.jsonl.*Task data.*6/);
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
    get taskFile() {
      return ready().taskFile;
    },
  };
}
