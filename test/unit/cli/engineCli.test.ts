import { describe, expect, it } from 'vitest';
import { cli } from '../../helpers/cli';
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

  it('names the file and the reason for a model it cannot load', async () => {
    const r = await cli(['model', 'info', '/nonexistent/model.gguf']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/\/nonexistent\/model\.gguf: not found/);
    const g = await cli(['generate', '--model', '/nonexistent/dir', '--prompt', 'hi', '--max-tokens', '0']);
    expect(g.code).toBe(1);
    expect(g.err).toMatch(/--maxNewTokens|max-tokens|Too small/i);
  });
});
