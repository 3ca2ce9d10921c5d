import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyChatTemplate, openModel } from '../../../src/main/engine';
import { EngineGenerator } from '../../../src/main/eval/engineGenerator';
import { repoRoot } from '../../helpers/shared';

const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');

describe('EngineGenerator on a tiny HF Llama with a chat template (random weights)', () => {
  it('chat requests: the template is applied and BOS appears once; raw requests get BOS added once', async () => {
    const rt = await openModel(tinyLlama, { threads: 1 });
    try {
      const g = new EngineGenerator(rt);
      const tok = rt.model.tokenizer;
      const msgs = [{ role: 'user' as const, content: 'Hello there' }];
      const ids = await g.encode({ messages: msgs });
      expect(ids[0]).toBe(tok.bosId);
      expect(ids.filter((t) => t === tok.bosId)).toHaveLength(1);
      expect(ids).toEqual(tok.encode(applyChatTemplate(rt.model, msgs), { addSpecial: false }));
      const raw = await g.encode({ prompt: 'Hello there' });
      expect(raw.filter((t) => t === tok.bosId)).toHaveLength(1);
      const rawWithBos = await g.encode({ prompt: `${tok.idToToken(tok.bosId!)}Hello there` });
      expect(rawWithBos.filter((t) => t === tok.bosId)).toHaveLength(1);
      expect(await g.countTokens({ messages: msgs })).toBe(ids.length);
      const none = new EngineGenerator(rt, { chatTemplate: 'none' });
      expect(await none.encode({ messages: msgs })).toEqual(tok.encode('Hello there', { addSpecial: true }));
      const [out] = await g.generate([{ messages: msgs }], { maxNewTokens: 4, temperature: 0 });
      expect(out!.promptTokens).toBe(ids.length);
      expect(out!.completionTokens).toBeLessThanOrEqual(4);
    } finally {
      await rt.release();
    }
  });
});

describe('importing the eval core', () => {
  it('does not load onnxruntime (the engine) until it is used; the check itself sees the engine load it', async () => {
    const { execFileSync } = await import('node:child_process');
    const probe = (mod: string) =>
      execFileSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `await import('./${mod}'); const { createRequire } = await import('node:module'); const r = createRequire(process.cwd() + '/package.json'); process.stdout.write(r.cache[r.resolve('onnxruntime-node')] ? 'loaded' : 'not loaded');`,
        ],
        { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
    expect(probe('src/main/eval/index.ts')).toBe('not loaded');
    expect(probe('src/main/engine/index.ts')).toBe('loaded');
  }, 60_000);
});
