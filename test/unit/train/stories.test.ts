import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate, loadModel, openModel } from '../../../src/main/engine';
import { Trainer, tokenizeExample } from '../../../src/main/engine/train';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` — ${SHARED_MISSING}`;
const tmp = mkdtempSync(join(tmpdir(), 'safetune-stories-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!stories)(`LoRA fine-tuning stories260K${NOTE}`, () => {
  it('a few steps lower the loss on a few sentences, and the exported adapter generates text', async () => {
    const model = loadModel(stories!);
    const sentences = [
      { prompt: 'The robot', response: ' said hello to the purple moon every night.' },
      { prompt: 'Max the cat', response: ' liked to sing songs about green cheese.' },
      { prompt: 'In the garden', response: ' the purple moon told the robot a story.' },
      { prompt: 'One day,', response: ' the green cheese rolled into the river.' },
    ];
    const data = sentences.map((s) => tokenizeExample(model.tokenizer, s));
    const tr = await Trainer.create(model, data, {
      lora: { rank: 8, alpha: 16, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] },
      lr: 1e-2,
      schedule: { type: 'cosine', warmupSteps: 2 },
      maxSteps: 20,
      batchSize: 4,
      threads: 1,
      seed: 3,
    });
    const before = await tr.evaluate(data);
    let tps = 0;
    const t0 = Date.now();
    await tr.train({ onProgress: (m) => (tps = m.tokensPerSecond) });
    const after = await tr.evaluate(data);
    const dir = join(tmp, 'adapter');
    tr.exportAdapter(dir);
    await tr.release();
    console.log(
      `stories260K: response loss ${before.toFixed(3)} -> ${after.toFixed(3)} in 20 steps (${((Date.now() - t0) / 20).toFixed(1)} ms/step, ${tps.toFixed(0)} tokens/s)`,
    );
    expect(after).toBeLessThan(before * 0.6);

    const rt = await openModel(model, { lora: dir, threads: 1, executionProvider: 'cpu' });
    try {
      const r = await generate(rt, 'The robot', { maxNewTokens: 12 });
      console.log(`stories260K + adapter, greedy: "The robot${r.text}"`);
      expect(r.tokenIds.length).toBeGreaterThan(3);
      expect(r.text.trim().length).toBeGreaterThan(5);
      expect(r.text).toContain('said hello');
    } finally {
      await rt.release();
    }
  });
});
