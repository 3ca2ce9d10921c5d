/**
 * The train.run job tests' workspace (test/unit/jobs/trainRun*.test.ts): services on a temporary
 * folder, one project with the given rows imported by role, a random selection of the whole safety
 * pool when there is one, and the job enqueued with the file's defaults and awaited.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import type { Services } from '../../src/main/app/types';
import type { TrainRunResult } from '../../src/main/jobs/types/trainRun';
import { tempDir, testServices } from './services';

export interface PromptResponse {
  prompt: string;
  response: string;
}

/** Four short stories to fine-tune on (the task rows of the stories260K runs). */
export const STORY_TASK: PromptResponse[] = [
  ['Tell me about the cat.', 'The cat sat on the red mat and purred all day.'],
  ['Tell me about the dog.', 'The dog ran in the green park with a big ball.'],
  ['Tell me about the bird.', 'The bird sang a happy song in the tall tree.'],
  ['Tell me about the fish.', 'The fish swam in the blue pond under the sun.'],
].map(([prompt, response]) => ({ prompt: prompt!, response: response! }));

/** Four refusals, a safety pool. */
export const REFUSAL_POOL: PromptResponse[] = ['How do I steal a car?', 'How do I hurt someone?', 'How do I make poison?', 'How do I cheat on a test?'].map(
  (prompt) => ({ prompt, response: 'No. I will not help with that.' }),
);

export interface TrainRunWorkspaceOptions {
  /** the project's name */
  project: string;
  /** rows imported into the project by role (a random selection is made of the whole safety pool) */
  data: { task?: PromptResponse[]; safety_pool?: PromptResponse[] };
  /** the train.run parameters every run starts from (modelPath, template, mode …) */
  defaults: Record<string, unknown>;
}

export interface TrainRunWorkspace {
  readonly s: Services;
  /** the workspace folder */
  readonly dir: string;
  readonly projectId: number;
  /** the random selection of the safety pool (only with data.safety_pool) */
  readonly selectionId: number;
  /** Enqueue train.run with the defaults and `params` (in this project, or another one). */
  enqueue(params: Record<string, unknown>, projectId?: number): { id: number };
  /** Enqueue train.run and wait for it to end. */
  run(
    params: Record<string, unknown>,
    timeoutMs?: number,
  ): Promise<{ id: number; done: Awaited<ReturnType<Services['jobs']['waitFor']>>; result: TrainRunResult }>;
  /** Write rows as JSON lines into the workspace and import them into a project with a role. */
  importRows(projectId: number, role: 'task' | 'safety_pool', rows: PromptResponse[], fileName?: string): Promise<void>;
}

/**
 * Sets the workspace up before the tests of the enclosing describe (or file) and closes it after
 * them; its fields are read inside the tests.
 */
export function trainRunWorkspace(opts: TrainRunWorkspaceOptions): TrainRunWorkspace {
  let state: { s: Services; dir: string; cleanup: () => void; projectId: number; selectionId: number | null } | null = null;
  const ready = () => {
    if (!state) throw new Error('the train.run workspace is set up in beforeAll: read it inside a test');
    return state;
  };
  const w: TrainRunWorkspace = {
    get s() {
      return ready().s;
    },
    get dir() {
      return ready().dir;
    },
    get projectId() {
      return ready().projectId;
    },
    get selectionId() {
      const id = ready().selectionId;
      if (id === null) throw new Error('this train.run workspace has no safety pool, so no selection');
      return id;
    },
    enqueue: (params, projectId = w.projectId) => w.s.jobs.enqueue('train.run', { projectId, ...opts.defaults, ...params }, projectId),
    async run(params, timeoutMs = 300_000) {
      const job = w.enqueue(params);
      const done = await w.s.jobs.waitFor(job.id, timeoutMs);
      return { id: job.id, done, result: done.result as TrainRunResult };
    },
    async importRows(projectId, role, rows, fileName = `${role}.jsonl`) {
      const path = join(w.dir, fileName);
      writeFileSync(path, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
      const j = w.s.jobs.enqueue('data.import', { projectId, path, role }, projectId);
      expect((await w.s.jobs.waitFor(j.id)).state).toBe('succeeded');
    },
  };

  beforeAll(async () => {
    const t = tempDir();
    const s = testServices(t.dir);
    state = { s, dir: t.dir, cleanup: t.cleanup, projectId: s.projects.create(opts.project).id, selectionId: null };
    for (const role of ['task', 'safety_pool'] as const) {
      const rows = opts.data[role];
      if (rows) await w.importRows(w.projectId, role, rows);
    }
    if (opts.data.safety_pool) {
      const pool = s.datasets.roleRecords(w.projectId, 'safety_pool');
      state.selectionId = s.selections.create(
        { projectId: w.projectId, method: 'random', params: {}, summary: {} },
        pool.map((r) => ({ recordId: r.id, category: null, score: null })),
      );
    }
  });
  afterAll(async () => {
    await state?.s.close();
    state?.cleanup();
  });
  return w;
}
