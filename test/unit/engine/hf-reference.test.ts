import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadHfModel } from '../../../src/main/engine/hf/model';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { DecoderRuntime } from '../../../src/main/engine/model/runtime';
import { repoRoot } from '../../helpers/shared';

const FIX = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const MODELS = ['tiny-llama', 'tiny-mistral', 'tiny-qwen2', 'tiny-gemma', 'tiny-gemma2'];

function reference(name: string) {
  const dir = join(FIX, name);
  const inp = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][] };
  const logits = new SafetensorsFile(join(dir, 'reference.safetensors')).readF32('logits');
  return { dir, ...inp, logits };
}

/** max |a - e| over positions with mask 1, relative to max |e| there */
function relErr(a: Float32Array, e: Float32Array, mask: number[][], V: number): number {
  let num = 0;
  let den = 0;
  const S = mask[0]!.length;
  mask.forEach((row, b) =>
    row.forEach((m, t) => {
      if (!m) return;
      for (let v = 0; v < V; v++) {
        const i = (b * S + t) * V + v;
        num = Math.max(num, Math.abs(a[i]! - e[i]!));
        den = Math.max(den, Math.abs(e[i]!));
      }
    }),
  );
  return num / den;
}

describe('HF reference models (torch, written from the architecture definitions)', () => {
  for (const name of MODELS) {
    it(`${name}: full-sequence logits match the torch reference to 1e-4`, async () => {
      const ref = reference(name);
      const model = loadHfModel(ref.dir);
      const rt = await DecoderRuntime.create(model, { threads: 1 });
      try {
        const out = await rt.forward(ref.input_ids, ref.attention_mask);
        expect(relErr(out.logits, ref.logits, ref.attention_mask, model.config.vocabSize)).toBeLessThan(1e-4);
      } finally {
        await rt.release();
      }
    });

    it(`${name}: KV-cache decoding (left-padded batch) matches the reference`, async () => {
      const ref = reference(name);
      const model = loadHfModel(ref.dir);
      const rt = await DecoderRuntime.create(model, { threads: 1, fused: name !== 'tiny-gemma' });
      try {
        const B = ref.input_ids.length;
        const S = ref.input_ids[0]!.length;
        const V = model.config.vocabSize;
        const prefill = 6;
        let cache = rt.emptyCache(B);
        const got = new Float32Array(B * S * V);
        const want = new Float32Array(B * S * V);
        const mask: number[][] = [];
        const feed = async (from: number, to: number) => {
          const ids = new BigInt64Array(B * (to - from));
          const pos = new BigInt64Array(B * (to - from));
          for (let b = 0; b < B; b++) {
            for (let t = from; t < to; t++) {
              ids[b * (to - from) + t - from] = BigInt(ref.input_ids[b]![t]!);
              const before = ref.attention_mask[b]!.slice(0, t).reduce((x, y) => x + y, 0);
              pos[b * (to - from) + t - from] = BigInt(ref.attention_mask[b]![t] ? before : 0);
            }
          }
          const m = BigInt64Array.from(
            ref.attention_mask.flatMap((r) => r.slice(0, to)),
            (x) => BigInt(x),
          );
          const r = await rt.step(ids, B, m, pos, cache);
          cache = r.cache;
          for (let b = 0; b < B; b++) {
            got.set(r.logits.subarray(b * V, (b + 1) * V), (b * S + to - 1) * V);
            want.set(ref.logits.subarray((b * S + to - 1) * V, (b * S + to) * V), (b * S + to - 1) * V);
          }
        };
        await feed(0, prefill);
        for (let t = prefill; t < S; t++) await feed(t, t + 1);
        for (let b = 0; b < B; b++) mask.push(ref.attention_mask[b]!.map((m, t) => (m && t >= prefill - 1 ? 1 : 0)));
        expect(relErr(got, want, mask, V)).toBeLessThan(1e-4);
      } finally {
        await rt.release();
      }
    });
  }

  it('config families are parsed with their quirks', () => {
    const g2 = loadHfModel(join(FIX, 'tiny-gemma2')).config;
    expect(g2.sandwichNorms).toBe(true);
    expect(g2.normAddOne).toBe(true);
    expect(g2.embedScale).toBeCloseTo(Math.sqrt(32));
    expect(g2.attnSoftcap).toBe(5);
    expect(g2.finalSoftcap).toBe(3);
    expect(g2.attnScale).toBeCloseTo(24 ** -0.5);
    expect(g2.slidingWindow).toEqual([4, null]);
    expect(g2.headDim).toBe(16);
    const q = loadHfModel(join(FIX, 'tiny-qwen2')).config;
    expect(q.attentionBias).toBe(true);
    expect(q.tieWordEmbeddings).toBe(true);
    expect(q.slidingWindow).toEqual([null, null]);
    const m = loadHfModel(join(FIX, 'tiny-mistral')).config;
    expect(m.slidingWindow).toEqual([4, 4]);
    const l = loadHfModel(join(FIX, 'tiny-llama')).config;
    expect(l.ropeScaling).toEqual({ type: 'llama3', factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 16 });
  });
});
