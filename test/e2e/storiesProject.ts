/**
 * The set-up the fine-tuning e2e tests share (training, full training, merging): the app session of
 * appSession.ts with stories260K granted and added to Models, and a project with six short stories
 * (Alpaca rows) imported as task data, all through the UI. Torn down after the tests of the
 * enclosing describe.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { appSession } from './appSession';

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
  const taskFile = (dir: string) => join(dir, 'task.jsonl');
  const session = appSession({
    prefix: opts.prefix,
    height: opts.height,
    prepare: (dir) => writeFileSync(taskFile(dir), `${STORY_ROWS.map((r) => JSON.stringify(r)).join('\n')}\n`),
    grants: (dir) => [taskFile(dir), ...(opts.grants ?? [])],
    model: opts.model,
    project: opts.project,
    imports: (dir) => [{ path: taskFile(dir), role: 'task', listedAs: /task\.jsonl.*Task data.*6/ }],
    ...(opts.setupTimeoutMs !== undefined ? { setupTimeoutMs: opts.setupTimeoutMs } : {}),
  });
  return {
    get page() {
      return session.page;
    },
    get errors() {
      return session.errors;
    },
    get dir() {
      return session.dir;
    },
    get taskFile() {
      return taskFile(session.dir);
    },
  };
}
