import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { createSession, ort } from '../../../src/main/engine/graph';
import { buildTrainGraph } from '../../../src/main/engine/train/graph';
import { resolveLoraTargets } from '../../../src/main/engine/train/lora';
import { makeBatch } from '../../../src/main/engine/train/data';
import { repoRoot } from '../../helpers/shared';

const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const FIX = join(repoRoot, 'test', 'fixtures', 'train');

/** Gradients of the float32 training graph vs PyTorch autograd (float64) — make_lora_reference.py */
describe('LoRA gradients match the PyTorch reference', () => {
  for (const name of ['tiny-llama', 'tiny-qwen2']) {
    it(`${name}: masked mean cross-entropy and all 28 LoRA gradients to 1e-4 relative`, async () => {
      const ref = JSON.parse(readFileSync(join(FIX, name, 'reference.json'), 'utf8')) as {
        rank: number;
        alpha: number;
        input_ids: number[][];
        attention_mask: number[][];
        labels: number[][];
        loss: number;
      };
      const model = loadHfModel(join(HF, name));
      const targets = resolveLoraTargets(model.config, { rank: ref.rank, alpha: ref.alpha, targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] });
      expect(targets).toHaveLength(14);
      const lora = new SafetensorsFile(join(FIX, name, 'lora.safetensors'));
      const grads = new SafetensorsFile(join(FIX, name, 'grads.safetensors'));
      const examples = ref.input_ids.map((row, b) => {
        const n = ref.attention_mask[b]!.reduce((a, c) => a + c, 0);
        return { ids: row.slice(0, n), lossMask: ref.labels[b]!.slice(0, n).map((l) => (l === -100 ? 0 : 1)) };
      });
      const batch = makeBatch(examples);
      const tg = buildTrainGraph(model.config, model.weights, { lora: targets });
      const sess = await createSession(tg.graph.build(), { intraOpThreads: 1 });
      const i64 = (a: BigInt64Array) => new ort.Tensor('int64', a, [batch.batch, batch.seq]);
      const feeds: Record<string, ort.Tensor> = {
        input_ids: i64(batch.inputIds),
        attention_mask: i64(batch.attentionMask),
        position_ids: i64(batch.positionIds),
        labels: i64(batch.labels),
        label_weights: new ort.Tensor(
          'float32',
          batch.labelMask.map((m) => m / batch.tokens),
          [batch.batch, batch.seq],
        ),
      };
      for (const p of tg.params) {
        const key = p.replace(/\.weight\.lora_([AB])$/, '.lora_$1');
        feeds[p] = new ort.Tensor('float32', lora.readF32(key), lora.info(key).shape);
      }
      const out = await sess.run(feeds);
      await sess.release();
      const loss = Number(out['loss']!.data[0]);
      expect(Math.abs(loss - ref.loss) / ref.loss).toBeLessThan(1e-5);
      let worst = 0;
      for (const p of tg.params) {
        const key = p.replace(/\.weight\.lora_([AB])$/, '.lora_$1');
        const e = grads.readF32(key);
        const a = out[`grad.${p}`]!.data as Float32Array;
        let num = 0;
        let den = 0;
        for (let i = 0; i < e.length; i++) {
          num = Math.max(num, Math.abs(a[i]! - e[i]!));
          den = Math.max(den, Math.abs(e[i]!));
        }
        expect(den).toBeGreaterThan(0);
        worst = Math.max(worst, num / den);
      }
      console.log(`${name}: loss ${loss} (torch ${ref.loss}), worst gradient relative error ${worst.toExponential(2)}`);
      expect(worst).toBeLessThan(1e-4);
    });
  }
});
