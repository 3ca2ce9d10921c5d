import { afterEach, describe, expect, it } from 'vitest';
import type { Services } from '../../../src/main/app/services';
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../../src/main/engine';
import { writeRandomAdapter } from '../../helpers/lora';
import { repoRoot, sharedPath } from '../../helpers/shared';
import { tempDir, testServices } from '../../helpers/services';

const stories = sharedPath('models', 'stories260K.gguf');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
function setup(): Services {
  return setupIn().s;
}
function setupIn(): { s: Services; dir: string } {
  const t = tempDir();
  const s = testServices(t.dir);
  cleanups.push(t.cleanup, () => s.close());
  return { s, dir: t.dir };
}

describe('engine jobs', () => {
  it('merges an adapter into its base model as a new model folder, and refuses to overwrite', async () => {
    const { s, dir } = setupIn();
    const base = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
    const adapter = join(dir, 'adapter');
    writeRandomAdapter(adapter, loadModel(base), ['q_proj', 'v_proj']);
    const outPath = join(dir, 'merged');
    const done = await s.jobs.waitFor(s.jobs.enqueue('model.merge', { modelPath: base, adapterPath: adapter, outPath }).id, 60_000);
    expect(done.error).toBeNull();
    expect(done.result).toMatchObject({ modelPath: outPath, format: 'hf', tensors: loadModel(base).weights.names().length });
    expect(readdirSync(outPath)).toContain('model.safetensors');
    expect(loadModel(outPath).config).toEqual(loadModel(base).config);
    const again = await s.jobs.waitFor(s.jobs.enqueue('model.merge', { modelPath: base, adapterPath: adapter, outPath }).id, 60_000);
    expect(again.state).toBe('failed');
    expect(again.error).toMatch(/already exists/);
    const missing = await s.jobs.waitFor(
      s.jobs.enqueue('model.merge', { modelPath: base, adapterPath: join(dir, 'no-adapter'), outPath: join(dir, 'm2') }).id,
      60_000,
    );
    expect(missing.state).toBe('failed');
    expect(missing.error).toMatch(/no-adapter/);
    expect(existsSync(join(dir, 'm2'))).toBe(false);
  });

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
    expect(done).toMatchObject({ failure: 'invalid_input', resumable: false });
    expect(s.models.list()).toEqual([]);
  });

  it('fails inspection of a config.json claiming 1e9 layers at once, by file and field, and for good: also when resumed after an interruption', async () => {
    const { s, dir } = setupIn();
    const hostile = join(dir, 'hostile');
    cpSync(join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama'), hostile, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(hostile, 'config.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(hostile, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 1e9 }));
    const message = `${join(hostile, 'config.json')}: "num_hidden_layers" is 1000000000; expected a whole number from 1 to 1024`;
    const done = await s.jobs.waitFor(s.jobs.enqueue('model.inspect', { path: hostile }).id, 60_000);
    expect(done).toMatchObject({ state: 'failed', error: message, failure: 'invalid_input', resumable: false });
    expect(() => s.jobs.resume(done.id)).toThrowError(/would fail the same way/);
    // the app stopped while it ran (as it did when this job took the process down): Resume runs it
    // once more in its capped worker, and it fails for good
    s.db.prepare(`UPDATE jobs SET state = 'interrupted', error = NULL, failure = NULL WHERE id = ?`).run(done.id);
    expect(s.jobs.get(done.id).resumable).toBe(true);
    s.jobs.resume(done.id);
    const again = await s.jobs.waitFor(done.id, 60_000);
    expect(again).toMatchObject({ state: 'failed', error: message, failure: 'invalid_input', resumable: false });
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

    const long = s.jobs.enqueue('engine.generate', {
      modelPath: stories!,
      prompt: 'Once upon a time',
      sampling: { maxNewTokens: 1500, temperature: 0.8, seed: 3 },
    });
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
