/**
 * A real merge: stories260K (../shared) with a LoRA adapter merged back at α = 0.5 — task
 * arithmetic of the aligned model + 0.5·(fine-tuned − aligned), the fine-tuned model being the base
 * with the adapter applied on the fly. The merged GGUF computes what the base with the adapter at
 * half its scale computes, generates in the engine, and loads and generates the same tokens in
 * llama.cpp (node-llama-cpp).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { forwardLogits, generate, loadModel, openModel } from '../../../src/main/engine';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { runMerge } from '../../../src/main/merge';
import { MergeConfig } from '../../../src/shared/merge';
import { writeRandomAdapter } from '../../helpers/lora';
import { tempDir } from '../../helpers/services';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';

const stories = sharedPath('models', 'stories260K.gguf');
type Nlc = typeof import('node-llama-cpp');
let nlc: Nlc | null = null;
try {
  nlc = await import('node-llama-cpp');
} catch {
  nlc = null;
}
const t = tempDir('merge-stories-');
afterAll(() => t.cleanup());

async function logitsOf(path: string, ids: number[], lora?: string): Promise<Float32Array> {
  const rt = await openModel(path, { threads: 1, ...(lora ? { lora, loraMode: 'unmerged' as const } : {}) });
  try {
    return (await forwardLogits(rt, [ids])).logits;
  } finally {
    await rt.release();
  }
}

describe.skipIf(!stories)(`stories260K + LoRA merged back at α = 0.5${stories ? '' : ` — ${SHARED_MISSING}`}`, () => {
  const adapter = join(t.dir, 'adapter');
  const half = join(t.dir, 'adapter-half-alpha');
  const out = join(t.dir, 'merged-0.5.gguf');
  const prompt = [1, 403, 407, 261, 378];

  it('equals the base with the adapter at half scale, and generates in the engine', async () => {
    const model = loadModel(stories!);
    // the same random A and B, once at lora_alpha 8 and once at 4 (half the scale)
    writeRandomAdapter(adapter, model, ['q_proj', 'v_proj'], 4, 8, 5);
    writeRandomAdapter(half, model, ['q_proj', 'v_proj'], 4, 4, 5);
    const config = MergeConfig.parse({
      method: 'task_arithmetic',
      base: { modelPath: stories! },
      models: [{ model: { modelPath: stories!, adapterPath: adapter }, parameters: { weight: 0.5 } }],
    });
    const r = await runMerge(config, out);
    expect(r).toMatchObject({ format: 'gguf', method: 'task_arithmetic', tensors: readGguf(stories!).tensors.length });
    expect(readGguf(out).metadata.get('tokenizer.ggml.model')).toBe('llama');
    const merged = await logitsOf(out, prompt);
    let diff = 0;
    const want = await logitsOf(stories!, prompt, half);
    for (let i = 0; i < merged.length; i++) diff = Math.max(diff, Math.abs(merged[i]! - want[i]!));
    expect(diff).toBeLessThan(1e-3);
    let moved = 0;
    const plain = await logitsOf(stories!, prompt);
    for (let i = 0; i < merged.length; i++) moved = Math.max(moved, Math.abs(merged[i]! - plain[i]!));
    expect(moved).toBeGreaterThan(1e-2);
    const rt = await openModel(out, { threads: 1 });
    try {
      const g = await generate(rt, 'Once upon a time', { maxNewTokens: 16 });
      expect(g.tokenIds).toHaveLength(16);
      expect(g.text.length).toBeGreaterThan(10);
    } finally {
      await rt.release();
    }
  });

  it('writes the dtype asked for (float16, bfloat16) as a GGUF the engine reads', async () => {
    const want = await logitsOf(out, prompt);
    for (const [dtype, type, tol] of [
      ['float16', 'F16', 0.05],
      ['bfloat16', 'BF16', 0.3],
    ] as const) {
      const path = join(t.dir, `merged-${dtype}.gguf`);
      await runMerge(
        MergeConfig.parse({
          method: 'task_arithmetic',
          base: { modelPath: stories! },
          models: [{ model: { modelPath: stories!, adapterPath: adapter }, parameters: { weight: 0.5 } }],
          dtype,
        }),
        path,
      );
      const g = readGguf(path);
      expect(g.tensorMap.get('blk.0.attn_q.weight')!.typeName).toBe(type);
      expect(g.tensorMap.get('blk.0.attn_norm.weight')!.typeName).toBe('F32');
      const got = await logitsOf(path, prompt);
      let diff = 0;
      for (let i = 0; i < got.length; i++) diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
      expect(diff, dtype).toBeLessThan(tol);
    }
  });

  it.skipIf(!nlc)('llama.cpp loads the merged GGUF and generates the engine’s greedy tokens', async () => {
    const llama = await nlc!.getLlama({ gpu: false, build: 'never', logLevel: nlc!.LlamaLogLevel.error });
    const lm = await llama.loadModel({ modelPath: out });
    const ctx = await lm.createContext({ contextSize: 128, threads: 1 });
    const got: number[] = [];
    try {
      for await (const tkn of ctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        got.push(tkn as number);
        if (got.length >= 12) break;
      }
    } finally {
      await ctx.dispose();
      await lm.dispose();
    }
    const rt = await openModel(out, { threads: 1 });
    try {
      expect(got).toEqual((await generate(rt, prompt, { maxNewTokens: 12, ignoreEos: true })).tokenIds);
    } finally {
      await rt.release();
    }
    // and the bfloat16 one loads and generates too
    const bf = await llama.loadModel({ modelPath: join(t.dir, 'merged-bfloat16.gguf') });
    const bctx = await bf.createContext({ contextSize: 64, threads: 1 });
    const toks: number[] = [];
    try {
      for await (const tkn of bctx.getSequence().evaluate(prompt as never, { temperature: 0 })) {
        toks.push(tkn as number);
        if (toks.length >= 4) break;
      }
    } finally {
      await bctx.dispose();
      await bf.dispose();
    }
    expect(toks).toHaveLength(4);
  });
});
