import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import { sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const stories = sharedPath('models', 'stories260K.gguf');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
function setup(): Services {
  const t = tempDir();
  const s = testServices(t.dir);
  cleanups.push(t.cleanup, () => s.close());
  return s;
}

describe('engine jobs', () => {
  it.skipIf(!stories)('inspects a model into the Models list', async () => {
    const s = setup();
    const job = s.jobs.enqueue('model.inspect', { path: stories! });
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state).toBe('succeeded');
    const [m] = s.models.list();
    expect(m).toMatchObject({ path: stories, info: { architecture: 'llama', vocabSize: 512 } });
  });

  it('fails inspection with the file and the reason', async () => {
    const s = setup();
    const job = s.jobs.enqueue('model.inspect', { path: '/nonexistent/llama-folder' });
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state).toBe('failed');
    expect(done.error).toMatch(/\/nonexistent\/llama-folder: not found/);
    expect(s.models.list()).toEqual([]);
  });

  it.skipIf(!stories)('streams generated text from a worker and keeps the partial reply on cancel', async () => {
    const s = setup();
    const streamed: string[] = [];
    s.events.on('job.stream', (e) => streamed.push(e.text));
    const job = s.jobs.enqueue('engine.generate', { modelPath: stories!, prompt: 'Once upon a time', sampling: { maxNewTokens: 40, temperature: 0 } });
    const done = await s.jobs.waitFor(job.id, 60_000);
    expect(done.state).toBe('succeeded');
    const r = done.result as { text: string; completionTokens: number };
    expect(r.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    expect(streamed.length).toBeGreaterThan(5);
    expect(r.text.startsWith(streamed.join(''))).toBe(true);

    const long = s.jobs.enqueue('engine.generate', { modelPath: stories!, prompt: 'Once upon a time', sampling: { maxNewTokens: 1500, temperature: 0.8, seed: 3 } });
    const seen: string[] = [];
    const off = s.events.on('job.stream', (e) => e.jobId === long.id && seen.push(e.text));
    const deadline = Date.now() + 30_000;
    while (seen.length < 10 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
    s.jobs.cancel(long.id);
    const stopped = await s.jobs.waitFor(long.id, 30_000);
    off();
    expect(stopped.state).toBe('cancelled');
    const partial = stopped.result as { text: string; finishReason: string; completionTokens: number };
    expect(partial.finishReason).toBe('cancelled');
    expect(partial.completionTokens).toBeGreaterThanOrEqual(10);
    expect(partial.completionTokens).toBeLessThan(1500);
  });
});
