import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
import { tempDir } from '../../helpers/services';
import { sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');


describe('safetune model info / generate', () => {
  it.skipIf(!stories)('describes stories260K', async () => {
    const r = await cli(['model', 'info', stories!, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.join('\n'))).toMatchObject({ architecture: 'llama', format: 'gguf', layers: 5, hiddenSize: 64, heads: 8, kvHeads: 4, vocabSize: 512 });
  });

  it.skipIf(!stories)('greedily continues "Once upon a time" as the reference does', async () => {
    const r = await cli(['generate', '--model', stories!, '--prompt', 'Once upon a time', '--max-tokens', '40', '--json']);
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out.join('\n'));
    expect(res.text.startsWith(', there was a little girl named Lily. She loved to play outside in the park.')).toBe(true);
    expect(res).toMatchObject({ completionTokens: 40, finishReason: 'length' });
  });

  it.skipIf(!stories)('fine-tunes stories260K on a project from the command line and writes a PEFT adapter', async () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'task.jsonl');
      writeFileSync(file, ['cat', 'dog', 'owl', 'fox'].map((a) => JSON.stringify({ prompt: `Tell me about the ${a}.`, response: `The ${a} ran home.` })).join('\n') + '\n');
      await cli(['projects', 'create', 'cli train', '--workspace', t.dir]);
      expect((await cli(['data', 'import', file, '--project', '1', '--role', 'task', '--workspace', t.dir])).code).toBe(0);
      const r = await cli(['train', '--project', '1', '--model', stories!, '--template', 'plain', '--steps', '6', '--batch', '2', '--workspace', t.dir, '--json']);
      expect(r.code, r.err).toBe(0);
      const res = JSON.parse(r.out.join('\n'));
      expect(res.steps).toBe(6);
      expect(existsSync(join(res.adapterPath, 'adapter_model.safetensors'))).toBe(true);
      // merged into a new GGUF, the fine-tuned model generates on its own
      const merged = join(t.dir, 'merged.gguf');
      const m = await cli(['model', 'merge', stories!, '--adapter', res.adapterPath, '--out', merged, '--json']);
      expect(m.code, m.err).toBe(0);
      expect(JSON.parse(m.out.join('\n'))).toMatchObject({ modelPath: merged, format: 'gguf', cancelled: false });
      const g = await cli(['generate', '--model', merged, '--prompt', 'Tell me about the cat.', '--max-tokens', '8', '--json']);
      expect(g.code, g.err).toBe(0);
      expect(JSON.parse(g.out.join('\n')).completionTokens).toBeGreaterThan(0);
      const again = await cli(['model', 'merge', stories!, '--adapter', res.adapterPath, '--out', merged]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/already exists/);
      const bad = await cli(['train', '--project', '1', '--model', stories!, '--method', 'magic', '--workspace', t.dir]);
      expect(bad.err).toMatch(/--method must be one of plain, replay/);
      // a value the job's schema refuses is named by its field, and no job is queued
      const zeroRank = await cli(['train', '--project', '1', '--model', stories!, '--rank', '0', '--workspace', t.dir]);
      expect(zeroRank.code).toBe(1);
      expect(zeroRank.err).toMatch(/lora\.rank: /);
      const jobs = JSON.parse((await cli(['jobs', 'list', '--project', '1', '--workspace', t.dir, '--json'])).out.join('\n')) as { type: string }[];
      expect(jobs.filter((j) => j.type === 'train.run')).toHaveLength(1);
    } finally {
      t.cleanup();
    }
  });

  it.skipIf(!stories)('quantises stories260K to Q8_0 and the quantised file runs', async () => {
    const t = tempDir();
    try {
      const out = join(t.dir, 'stories-q8_0.gguf');
      const r = await cli(['model', 'quantize', stories!, '--type', 'q8_0', '--out', out, '--json']);
      expect(r.code, r.err).toBe(0);
      const rep = JSON.parse(r.out.join('\n'));
      expect(rep).toMatchObject({ path: out, preset: 'q8_0' });
      expect(rep.types.Q8_0).toBeGreaterThan(0);
      expect(r.err).toMatch(/quantising: \d+\/\d+ tensors/);
      const g = await cli(['generate', '--model', out, '--prompt', 'Once upon a time', '--max-tokens', '8', '--json']);
      expect(g.code, g.err).toBe(0);
      expect(JSON.parse(g.out.join('\n')).completionTokens).toBe(8);
      const again = await cli(['model', 'quantize', stories!, '--type', 'q8_0', '--out', out]);
      expect(again.code).toBe(1);
      expect(again.err).toMatch(/already exists/);
      const bad = await cli(['model', 'quantize', stories!, '--type', 'q9_9', '--out', join(t.dir, 'x.gguf')]);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/unknown quantisation type "q9_9" \(choose one of .*q4_k_m/);
      const noType = await cli(['model', 'quantize', stories!, '--out', join(t.dir, 'y.gguf')]);
      expect(noType.code).toBe(1);
      expect(noType.err).toMatch(/model quantize needs --type and --out/);
    } finally {
      t.cleanup();
    }
  });

  it('names the file and the reason for a model it cannot load', async () => {
    const r = await cli(['model', 'info', '/nonexistent/model.gguf']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/nonexistent\/model\.gguf: not found/);
    const g = await cli(['generate', '--model', '/nonexistent/dir', '--prompt', 'hi', '--max-tokens', '0']);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/--maxNewTokens|max-tokens|Too small/i);
  });
});
