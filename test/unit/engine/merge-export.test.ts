import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forwardLogits, generate, loadModel, openModel } from '../../../src/main/engine';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { exportMergedModel } from '../../../src/main/engine/mergeExport';
import { exportModel } from '../../../src/main/engine/modelExport';
import { writeRandomAdapter } from '../../helpers/lora';
import { SHARED_MISSING, repoRoot, sharedPath } from '../../helpers/shared';

const tmp = mkdtempSync(join(tmpdir(), 'merge-export-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const tinyLlama = join(repoRoot, 'test', 'fixtures', 'engine', 'hf', 'tiny-llama');
const stories = sharedPath('models', 'stories260K.gguf');

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** Logits of `ids` from a model path, optionally with an unmerged adapter. */
async function logits(path: string, ids: number[][], lora?: string): Promise<Float32Array> {
  const rt = await openModel(path, { threads: 1, ...(lora ? { lora, loraMode: 'unmerged' as const } : {}) });
  try {
    return (await forwardLogits(rt, ids)).logits;
  } finally {
    await rt.release();
  }
}

describe('merged-model export', () => {
  const adapter = join(tmp, 'adapter');
  writeRandomAdapter(adapter, loadModel(tinyLlama), ['q_proj', 'v_proj']);
  const ids = [[1, 5, 9, 13, 17, 21, 25]];

  it('writes a Hugging Face folder that computes what base + adapter computes', async () => {
    const out = join(tmp, 'merged-hf');
    const seen: number[] = [];
    const r = exportMergedModel(tinyLlama, adapter, out, { onProgress: (done) => seen.push(done) });
    expect(r).toMatchObject({ modelPath: out, format: 'hf', cancelled: false });
    const files = readdirSync(out).sort();
    expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']));
    // the source's other files are copied, its weight files are not (the fixture's reference.* are test data)
    expect(files.filter((f) => f.endsWith('.safetensors'))).toEqual(['model.safetensors']);
    expect(files).toContain('reference.json');
    expect(readFileSync(join(out, 'config.json'), 'utf8')).toBe(readFileSync(join(tinyLlama, 'config.json'), 'utf8'));
    expect(seen.at(-1)).toBe(r.tensors);
    const merged = await logits(out, ids);
    expect(maxAbsDiff(merged, await logits(tinyLlama, ids, adapter))).toBeLessThan(1e-4);
    expect(maxAbsDiff(merged, await logits(tinyLlama, ids))).toBeGreaterThan(1e-2);
  });

  it('shards big models with a Hugging Face index that loads the same', async () => {
    const out = join(tmp, 'merged-sharded');
    exportMergedModel(tinyLlama, adapter, out, { maxShardBytes: 16 * 1024 });
    const shards = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(2);
    const index = JSON.parse(readFileSync(join(out, 'model.safetensors.index.json'), 'utf8')) as { weight_map: Record<string, string> };
    expect(new Set(Object.values(index.weight_map))).toEqual(new Set(shards));
    expect(maxAbsDiff(await logits(out, ids), await logits(join(tmp, 'merged-hf'), ids))).toBe(0);
  });

  it('keeps the precision each tensor is stored in (an F16 folder stays F16, through exportModel’s source dtype)', async () => {
    const half = join(tmp, 'tiny-f16');
    exportModel(loadModel(tinyLlama), half, { dtype: 'F16' });
    const out = join(tmp, 'merged-f16');
    exportMergedModel(half, adapter, out);
    const st = new SafetensorsFile(join(out, 'model.safetensors'));
    expect(new Set([...st.tensors.values()].map((t) => t.dtype))).toEqual(new Set(['F16']));
    expect(maxAbsDiff(await logits(out, ids), await logits(half, ids, adapter))).toBeLessThan(5e-3);
  });

  it('never overwrites, and a cancelled export leaves nothing behind', () => {
    expect(() => exportMergedModel(tinyLlama, adapter, join(tmp, 'merged-hf'))).toThrow(/already exists/);
    const out = join(tmp, 'cancelled');
    let calls = 0;
    const r = exportMergedModel(tinyLlama, adapter, out, { shouldStop: () => ++calls > 3 });
    expect(r.cancelled).toBe(true);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp).filter((f) => f.includes('partial'))).toEqual([]);
  });

  it.skipIf(!stories)(`writes a GGUF for a GGUF model that generates what base + adapter generates${stories ? '' : ` — ${SHARED_MISSING}`}`, async () => {
    const ad = join(tmp, 'stories-adapter');
    writeRandomAdapter(ad, loadModel(stories!), ['q_proj', 'v_proj'], 4, 8, 5);
    expect(() => exportMergedModel(stories!, ad, join(tmp, 'stories-merged'))).toThrow(/ending in \.gguf/);
    const out = join(tmp, 'stories-merged.gguf');
    const r = exportMergedModel(stories!, ad, out);
    expect(r.format).toBe('gguf');
    const prompt = [1, 403, 407, 261, 378];
    const a = await logits(out, [prompt]);
    expect(maxAbsDiff(a, await logits(stories!, [prompt], ad))).toBeLessThan(1e-3);
    const merged = await openModel(out, { threads: 1 });
    const unmerged = await openModel(stories!, { threads: 1, lora: ad, loraMode: 'unmerged' });
    try {
      expect((await generate(merged, prompt, { maxNewTokens: 12 })).tokenIds).toEqual((await generate(unmerged, prompt, { maxNewTokens: 12 })).tokenIds);
    } finally {
      await Promise.all([merged.release(), unmerged.release()]);
    }
  });
});
