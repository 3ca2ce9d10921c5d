/**
 * Model merging beyond the reference cases: DARE's seeded drop (reproducible, kept fraction, L1
 * rescale), SLERP's closed form and collinear fallback, output dtypes, shards, GGUF inputs and
 * outputs, PEFT adapters applied on the fly, and every kind of bad input (refused by name, nothing
 * left on disk).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../../src/main/engine';
import { exportGguf } from '../../../src/main/engine/gguf/export';
import { readGguf } from '../../../src/main/engine/gguf/reader';
import { configFromGguf } from '../../../src/main/engine/gguf/model';
import { GgufWeights } from '../../../src/main/engine/gguf/weights';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { loadLoraAdapter } from '../../../src/main/engine/hf/peftAdapter';
import { mergeModule } from '../../../src/main/engine/lora';
import { MergeCancelled, parseMergeYaml, readMergeYaml, runMerge, toMergeYaml } from '../../../src/main/merge';
import { slerp, slerpCoefficients } from '../../../src/main/merge/slerp';
import type { TensorInputs } from '../../../src/main/merge/types';
import { MergeConfig, type MergeConfigInput } from '../../../src/shared/merge';
import { writeRandomAdapter } from '../../helpers/lora';
import { tempDir } from '../../helpers/services';
import { llamaShapes, randomTensors, readFolder, SMALL, writeLlamaFolder, type LlamaShape } from './helpers';

const t = tempDir('merge-test-');
afterAll(() => t.cleanup());
const dir = (name: string) => join(t.dir, name);
const cfg = (c: MergeConfigInput) => MergeConfig.parse(c);
const ref = (modelPath: string, adapterPath?: string) => (adapterPath ? { modelPath, adapterPath } : { modelPath });

const baseT = randomTensors(SMALL, 1);
const base = writeLlamaFolder(dir('base'), SMALL, baseT);
const ft1 = writeLlamaFolder(dir('ft1'), SMALL, randomTensors(SMALL, 2, baseT));
const ft2 = writeLlamaFolder(dir('ft2'), SMALL, randomTensors(SMALL, 3, baseT));

/** A GGUF's weights in Hugging Face naming and order (whatever its tokenizer). */
function ggufWeights(path: string): GgufWeights {
  const g = readGguf(path);
  const c = configFromGguf(g);
  return new GgufWeights(g, { numHeads: c.numHeads, numKvHeads: c.numKvHeads });
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function sameFolderBytes(a: string, b: string): boolean {
  return Buffer.compare(readFileSync(join(a, 'model.safetensors')), readFileSync(join(b, 'model.safetensors'))) === 0;
}

describe('DARE', () => {
  const BIG: LlamaShape = { vocab: 64, hidden: 64, layers: 2, heads: 4, kvHeads: 2, ff: 128 };
  const bigBaseT = randomTensors(BIG, 11);
  const bigBase = writeLlamaFolder(dir('big-base'), BIG, bigBaseT);
  const bigFtT = randomTensors(BIG, 12, bigBaseT);
  const bigFt = writeLlamaFolder(dir('big-ft'), BIG, bigFtT);
  const dare = (density: number, extra: Record<string, number | boolean> = {}, method: 'dare_linear' | 'dare_ties' = 'dare_linear') =>
    cfg({ method, base: ref(bigBase), models: [{ model: ref(bigFt), parameters: { weight: 1, density } }], parameters: extra });

  it('keeps each entry with probability density (within 1%), and the same seed gives the same merge', async () => {
    for (const density of [0.1, 0.3, 0.7]) {
      const out = dir(`dare-${density}`);
      await runMerge(dare(density, { rescale: false, seed: 5 }), out);
      const got = readFolder(out);
      let kept = 0;
      let total = 0;
      for (const [name, b] of bigBaseT) {
        const o = got.get(name)!;
        const ft = bigFtT.get(name)!;
        for (let i = 0; i < b.length; i++) {
          if (ft[i] === b[i]) continue;
          total++;
          // without rescale a kept entry is the fine-tuned value, a dropped one the base's
          if (o[i] === b[i]) continue;
          expect(Math.abs(o[i]! - ft[i]!)).toBeLessThan(1e-6);
          kept++;
        }
      }
      expect(total).toBeGreaterThan(80_000);
      expect(Math.abs(kept / total - density)).toBeLessThan(0.01);
    }
    const again = dir('dare-0.3-again');
    await runMerge(dare(0.3, { rescale: false, seed: 5 }), again);
    expect(sameFolderBytes(again, dir('dare-0.3'))).toBe(true);
    // streamed in small chunks: the same masks
    const chunked = dir('dare-0.3-chunked');
    await runMerge(dare(0.3, { rescale: false, seed: 5 }), chunked, { chunkBudgetBytes: 5000 });
    expect(sameFolderBytes(chunked, dir('dare-0.3'))).toBe(true);
    const other = dir('dare-0.3-seed6');
    await runMerge(dare(0.3, { rescale: false, seed: 6 }), other);
    expect(sameFolderBytes(other, dir('dare-0.3'))).toBe(false);
  });

  it('rescales each task vector to its original L1 norm (rescale, on by default)', async () => {
    const out = dir('dare-rescaled');
    await runMerge(dare(0.3, { seed: 1 }), out, { chunkBudgetBytes: 20_000 });
    const got = readFolder(out);
    for (const [name, b] of bigBaseT) {
      const ft = bigFtT.get(name)!;
      const o = got.get(name)!;
      let l1 = 0;
      let merged = 0;
      for (let i = 0; i < b.length; i++) {
        l1 += Math.abs(ft[i]! - b[i]!);
        merged += Math.abs(o[i]! - b[i]!);
      }
      expect(Math.abs(merged / l1 - 1), name).toBeLessThan(1e-4);
    }
  });

  it('dare_ties at density 1 is TIES without trimming', async () => {
    const models = [
      { model: ref(ft1), parameters: { weight: 0.7, density: 1 } },
      { model: ref(ft2), parameters: { weight: 0.4, density: 1 } },
    ];
    await runMerge(cfg({ method: 'dare_ties', base: ref(base), models, parameters: { normalize: true } }), dir('dare-ties-1'));
    await runMerge(cfg({ method: 'ties', base: ref(base), models }), dir('ties-1'));
    const a = readFolder(dir('dare-ties-1'));
    const b = readFolder(dir('ties-1'));
    for (const [name, x] of a) expect(maxAbsDiff(x, b.get(name)!)).toBe(0);
  });
});

/** A one-tensor input for a method, in chunks of `chunk` values. */
function fakeInputs(base: Float32Array, others: Float32Array[], chunk: number): TensorInputs {
  return {
    name: 'model.layers.0.mlp.up_proj.weight',
    numel: base.length,
    count: others.length,
    forEachChunk(fn) {
      for (let s = 0; s < base.length; s += chunk)
        fn(
          s,
          base.slice(s, s + chunk),
          others.map((o) => o.slice(s, s + chunk)),
        );
    },
    mask: () => new Uint8Array(chunk),
  };
}

function runSlerp(v0: number[], v1: number[], t: number, chunk = 2): Float32Array {
  const out = new Float32Array(v0.length);
  slerp.merge(fakeInputs(Float32Array.from(v0), [Float32Array.from(v1)], chunk), { global: { t }, perModel: [{}] }, (s, v) => out.set(v, s), 0);
  return out;
}

describe('SLERP', () => {
  it('follows the great circle: orthogonal tensors at t = 0.5 give (v0/‖v0‖·sin45°)… in closed form', async () => {
    // v0 = [3, 0, 0, 0], v1 = [0, 4, 0, 0]: θ = 90°, s0 = s1 = sin 45° / sin 90°
    const r = runSlerp([3, 0, 0, 0], [0, 4, 0, 0], 0.5);
    expect(maxAbsDiff(r, [3 * Math.SQRT1_2, 4 * Math.SQRT1_2, 0, 0])).toBeLessThan(1e-6);
    // a random pair at t = 0.3: sin((1−t)θ)/sin θ · v0 + sin(tθ)/sin θ · v1 with θ the angle between them
    const a = [0.3, -1.2, 0.8, 2.0, -0.5, 0.1];
    const b = [1.1, 0.4, -0.7, 0.9, 0.2, -1.5];
    const norm = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    const theta = Math.acos(a.reduce((s, x, i) => s + x * b[i]!, 0) / (norm(a) * norm(b)));
    const want = a.map((x, i) => (Math.sin(0.7 * theta) / Math.sin(theta)) * x + (Math.sin(0.3 * theta) / Math.sin(theta)) * b[i]!);
    expect(maxAbsDiff(runSlerp(a, b, 0.3, 4), want)).toBeLessThan(1e-6);
    expect(maxAbsDiff(runSlerp(a, b, 0), a)).toBeLessThan(1e-6);
    expect(maxAbsDiff(runSlerp(a, b, 1), b)).toBeLessThan(1e-6);
  });

  it('falls back to linear interpolation for (nearly) collinear tensors', async () => {
    const v = [1, 2, -3, 0.5];
    expect(slerpCoefficients(0.25, 14.25, 57, 28.5).collinear).toBe(true);
    expect(
      maxAbsDiff(
        runSlerp(
          v,
          v.map((x) => 2 * x),
          0.25,
        ),
        v.map((x) => 0.75 * x + 0.25 * 2 * x),
      ),
    ).toBeLessThan(1e-6);
    expect(
      maxAbsDiff(
        runSlerp(
          v,
          v.map((x) => -x),
          0.5,
        ),
        [0, 0, 0, 0],
      ),
    ).toBeLessThan(1e-6);
    // cos = 0.9996 (> 0.9995): linear; cos = 0.999 (< 0.9995): spherical
    const near = (c: number) => [c, Math.sqrt(1 - c * c)];
    expect(maxAbsDiff(runSlerp([1, 0], near(0.9996), 0.5), [(1 + 0.9996) / 2, near(0.9996)[1]! / 2])).toBeLessThan(1e-7);
    const sph = runSlerp([1, 0], near(0.999), 0.5);
    const half = Math.acos(0.999) / 2;
    expect(maxAbsDiff(sph, [Math.cos(half), Math.sin(half)])).toBeLessThan(1e-6);
  });

  it('merges two folders per tensor, the base at t = 0 and the other model at t = 1', async () => {
    const scaled = writeLlamaFolder(dir('base-x2'), SMALL, new Map([...baseT].map(([n, v]) => [n, v.map((x) => 2 * x)])));
    const out = dir('slerp-collinear');
    await runMerge(cfg({ method: 'slerp', base: ref(base), models: [{ model: ref(scaled) }], parameters: { t: 0.25 } }), out);
    for (const [name, v] of readFolder(out))
      expect(
        maxAbsDiff(
          v,
          baseT.get(name)!.map((x) => 1.25 * x),
        ),
      ).toBeLessThan(1e-5);
  });
});

describe('outputs', () => {
  const ties = (extra: Partial<MergeConfigInput> = {}) =>
    cfg({
      method: 'ties',
      base: ref(base),
      models: [
        { model: ref(ft1), parameters: { weight: 1, density: 0.5 } },
        { model: ref(ft2), parameters: { weight: 0.5, density: 0.5 } },
      ],
      ...extra,
    });
  const f32 = dir('ties-f32');
  beforeAll(async () => {
    await runMerge(ties(), f32, { mergeYaml: toMergeYaml(ties()) });
  });

  it('writes the base’s config and tokenizer, the dtype it is asked for, and mergekit_config.yml', async () => {
    const files = readdirSync(f32).sort();
    expect(files).toEqual(['config.json', 'mergekit_config.yml', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json']);
    expect(readMergeYaml(join(f32, 'mergekit_config.yml'))).toEqual(ties());
    const want = readFolder(f32);
    for (const [dtype, st, tol] of [
      ['bfloat16', 'BF16', 2 ** -8],
      ['float16', 'F16', 2 ** -11],
    ] as const) {
      const out = dir(`ties-${dtype}`);
      await runMerge(ties({ dtype }), out);
      const f = new SafetensorsFile(join(out, 'model.safetensors'));
      expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).torch_dtype).toBe(dtype);
      for (const [name, w] of want) {
        expect(f.info(name).dtype).toBe(st);
        const got = f.readF32(name);
        for (let i = 0; i < w.length; i++) expect(Math.abs(got[i]! - w[i]!)).toBeLessThanOrEqual(Math.abs(w[i]!) * tol + 1e-7);
      }
    }
    // inputs stored in F16 (no dtype asked): the output keeps F16
    const h1 = writeLlamaFolder(dir('h-base'), SMALL, baseT, { dtype: 'F16' });
    const h2 = writeLlamaFolder(dir('h-ft'), SMALL, randomTensors(SMALL, 2, baseT), { dtype: 'BF16' });
    const out = dir('h-merged');
    await runMerge(cfg({ method: 'task_arithmetic', base: ref(h1), models: [{ model: ref(h2), parameters: { weight: 0.5 } }] }), out);
    expect(new Set([...new SafetensorsFile(join(out, 'model.safetensors')).tensors.values()].map((x) => x.dtype))).toEqual(new Set(['F16']));
  });

  it('shards a big output with an index the engine loads, same values', async () => {
    const out = dir('ties-sharded');
    await runMerge(ties(), out, { maxShardBytes: 16 * 1024 });
    const shards = readdirSync(out).filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(3);
    const m = loadModel(out);
    const want = readFolder(f32);
    for (const name of m.weights.names()) expect(maxAbsDiff(m.weights.f32(name), want.get(name)!)).toBe(0);
  });

  it('writes a GGUF from a folder base, and merges GGUF inputs with folder inputs (Q/K rows in either order)', async () => {
    const gguf = dir('ties.gguf');
    await runMerge(ties(), gguf);
    const g = readGguf(gguf);
    expect(g.metadata.get('general.architecture')).toBe('llama');
    expect(g.metadata.get('tokenizer.ggml.model')).toBe('gpt2');
    const want = readFolder(f32);
    const fromGguf = ggufWeights(gguf);
    for (const name of llamaShapes(SMALL).keys()) {
      const w = want.get(name)!;
      // F16 storage (the base's is F32, but GGUF 2-D tensors default to F16 like the exporter's)
      expect(maxAbsDiff(fromGguf.f32(name), w), name).toBeLessThan(1e-3);
    }
    // the base as an F32 GGUF (llama.cpp's Q/K row order) merged with the folder fine-tunes: the same merge
    const baseGguf = dir('base-f32.gguf');
    exportGguf(loadModel(base), baseGguf, { type: 'F32' });
    const mixedOut = dir('mixed.gguf');
    await runMerge(ties({ base: ref(baseGguf), dtype: 'float32' }), mixedOut, { chunkBudgetBytes: 4000 });
    expect(readGguf(mixedOut).metadata.get('general.file_type')).toBe(0);
    const mixed = ggufWeights(mixedOut);
    for (const name of llamaShapes(SMALL).keys()) expect(maxAbsDiff(mixed.f32(name), want.get(name)!), name).toBeLessThan(1e-6);
    await expect(runMerge(ties({ base: ref(baseGguf) }), dir('mixed-folder'))).rejects.toThrow(/is a GGUF file, so the merged model is one too/);
  });

  it('applies a PEFT adapter onto its base on the fly (base + α·(fine-tuned − base))', async () => {
    const adapter = dir('adapter');
    writeRandomAdapter(adapter, loadModel(base), ['q_proj', 'v_proj'], 4, 8, 9);
    const out = dir('adapter-half');
    await runMerge(cfg({ method: 'task_arithmetic', base: ref(base), models: [{ model: ref(base, adapter), parameters: { weight: 0.5 } }] }), out, {
      chunkBudgetBytes: 3000,
    });
    const got = readFolder(out);
    const lora = loadLoraAdapter(adapter);
    for (const [name, w] of baseT) {
      const m = lora.modules.get(name);
      const [o, i] = llamaShapes(SMALL).get(name)!;
      const want = m ? mergeModule(w, o!, i!, { ...m, scale: m.scale * 0.5 }) : w;
      expect(maxAbsDiff(got.get(name)!, want), name).toBeLessThan(1e-5);
    }
    expect([...lora.modules.keys()].some((n) => maxAbsDiff(got.get(n)!, baseT.get(n)!) > 1e-3)).toBe(true);
  });
});

describe('worker threads', () => {
  it('give the same bytes as one thread (TIES, DARE, a GGUF output), and cancel leaves nothing', async () => {
    const models = [
      { model: ref(ft1), parameters: { weight: 1, density: 0.4 } },
      { model: ref(ft2), parameters: { weight: 0.6, density: 0.7 } },
    ];
    for (const [method, ext] of [
      ['ties', ''],
      ['dare_ties', ''],
      ['ties', '.gguf'],
    ] as const) {
      const c = cfg({ method, base: ref(base), models });
      const one = dir(`${method}-1thread${ext}`);
      const three = dir(`${method}-3threads${ext}`);
      await runMerge(c, one);
      const r = await runMerge(c, three, { threads: 3, chunkBudgetBytes: 60_000 });
      expect(r.tensors).toBe(llamaShapes(SMALL).size);
      const bytes = (p: string) => readFileSync(ext ? p : join(p, 'model.safetensors'));
      expect(Buffer.compare(bytes(one), bytes(three)), `${method}${ext}`).toBe(0);
    }
    await expect(runMerge(cfg({ method: 'ties', base: ref(base), models }), dir('cancelled-threads'), { threads: 2, shouldStop: () => true })).rejects.toThrow(
      MergeCancelled,
    );
    expect(existsSync(dir('cancelled-threads'))).toBe(false);
    expect(readdirSync(t.dir).filter((f) => f.includes('.partial-'))).toEqual([]);
  });
});

describe('bad input is refused by name, and nothing is left on disk', () => {
  const ta = (models: { model: { modelPath: string }; parameters?: Record<string, unknown> }[], baseRef = ref(base)) =>
    cfg({ method: 'task_arithmetic', base: baseRef, models: models.map((m) => ({ parameters: { weight: 1 }, ...m })) as MergeConfigInput['models'] });
  const leftovers = () => readdirSync(t.dir).filter((f) => f.includes('.partial-'));

  it('mixed architectures, missing tensors and mismatched shapes', async () => {
    const wide = writeLlamaFolder(dir('wide'), { ...SMALL, hidden: 16 }, randomTensors({ ...SMALL, hidden: 16 }, 4));
    await expect(runMerge(ta([{ model: ref(wide) }]), dir('x1'))).rejects.toThrow(
      new RegExp(`cannot merge ${wide} with ${base}: hiddenSize is 16 in one and 32 in the other`),
    );
    const holey = writeLlamaFolder(dir('holey'), SMALL, randomTensors(SMALL, 5, baseT), { omit: ['model.layers.1.mlp.up_proj.weight'] });
    await expect(runMerge(ta([{ model: ref(holey) }]), dir('x2'))).rejects.toThrow(
      `tensor model.layers.1.mlp.up_proj.weight is missing from ${holey} (it is in ${base})`,
    );
    const bent = writeLlamaFolder(dir('bent'), SMALL, randomTensors(SMALL, 6, baseT), { reshape: { 'model.embed_tokens.weight': [132, 64] } });
    await expect(runMerge(ta([{ model: ref(bent) }]), dir('x3'))).rejects.toThrow(
      `tensor model.embed_tokens.weight has shape [132, 64] in ${bent} but [264, 32] in ${base}`,
    );
    await expect(runMerge(ta([{ model: ref(dir('nowhere')) }]), dir('x4'))).rejects.toThrow(/nowhere: not found/);
    for (const x of ['x1', 'x2', 'x3', 'x4']) expect(existsSync(dir(x))).toBe(false);
    expect(leftovers()).toEqual([]);
  });

  it('YAML with unknown keys, unsupported features and bad values, naming the key and line', async () => {
    const y = (s: string) => () => parseMergeYaml(s, 'm.yml', t.dir);
    expect(y('merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\nfoo: 1\nbar: 2\n')).toThrow(
      /^m\.yml:5: foo: unknown keys foo, bar \(expected: merge_method, base_model/,
    );
    expect(y('merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n    paramters: {weight: 1}\n')).toThrow(
      /^m\.yml:5: models\.0\.paramters: unknown key paramters/,
    );
    expect(y('merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n    parameters: {weigth: 1}\n')).toThrow(
      /^m\.yml:5: models\.0\.parameters\.weigth: weigth is not a parameter here; ties takes: weight, density/,
    );
    expect(y('merge_method: slerp\nbase_model: base\nmodels:\n  - model: ft1\nparameters: {t: 0.5, density: 0.5}\n')).toThrow(
      /parameters\.density: density is not a parameter here/,
    );
    expect(y('merge_method: passthrough\nslices: []\n')).toThrow(/slices \(layer ranges/);
    expect(y('merge_method: frankenstein\nmodels:\n  - model: ft1\n')).toThrow(/^m\.yml:1: merge_method: Invalid option/);
    expect(y('merge_method: ties\nmodels:\n  - model: ft1\n    parameters: {weight: 1}\n')).toThrow(/base_model: ties needs a base model/);
    expect(y('merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n')).toThrow(/missing required parameter weight for .*ft1/);
    expect(y('merge_method: slerp\nbase_model: base\nmodels:\n  - model: ft1\n  - model: ft2\nparameters: {t: 0.5}\n')).toThrow(
      /slerp merges exactly 2 models/,
    );
    expect(y('merge_method: linear\nmodels:\n  - model: ft1\n    parameters: {weight: 1}\ntokenizer_source: union\n')).toThrow(
      /tokenizer_source: "union" is not supported/,
    );
    expect(y('merge_method: [unclosed\n')).toThrow(/^m\.yml:\d+: not valid YAML/);
    const big = join(t.dir, 'big.yml');
    writeFileSync(big, `# ${'x'.repeat(1 << 20)}\n`);
    expect(() => readMergeYaml(big)).toThrow(/too large for a merge config/);
  });

  it('densities outside (0, 1]', async () => {
    for (const d of [0, 1.5, -0.2]) {
      const text = `merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n    parameters:\n      weight: 1\n      density: ${d}\n`;
      expect(() => parseMergeYaml(text, 'd.yml', t.dir)).toThrow(new RegExp(`^d\\.yml:7: models\\.0\\.parameters\\.density: ${d}: must be in \\(0, 1\\]`));
    }
    // in a filter condition too
    expect(() =>
      parseMergeYaml(
        'merge_method: ties\nbase_model: base\nmodels:\n  - model: ft1\n    parameters: {weight: 1}\nparameters:\n  density:\n    - filter: mlp\n      value: 2\n',
        'd.yml',
        t.dir,
      ),
    ).toThrow(/parameters\.density: 2: must be in \(0, 1\]/);
    // a density that keeps no entry of a tensor
    await expect(
      runMerge(cfg({ method: 'ties', base: ref(base), models: [{ model: ref(ft1), parameters: { weight: 1, density: 0.001 } }] }), dir('x5')),
    ).rejects.toThrow(/tensor model\.layers\.0\.self_attn\.k_proj\.weight: density 0\.001 keeps no entry of its 512 \(model 1\); raise the density/);
    expect(existsSync(dir('x5'))).toBe(false);
  });

  it('weights that sum to 0 with normalize', async () => {
    const zero = cfg({
      method: 'linear',
      models: [
        { model: ref(ft1), parameters: { weight: 0.5 } },
        { model: ref(ft2), parameters: { weight: -0.5 } },
      ],
    });
    await expect(runMerge(zero, dir('x6'))).rejects.toThrow(
      /tensor model\.embed_tokens\.weight: the weights \(0\.5, -0\.5\) sum to 0, so normalize cannot divide by them/,
    );
    const filtered = cfg({ ...zero, models: [{ model: ref(ft1), parameters: { weight: [{ filter: 'mlp', value: -0.5 }, { value: 0.5 }] } }, zero.models[1]!] });
    await expect(runMerge(filtered, dir('x6'))).rejects.toThrow(/tensor model\.layers\.0\.mlp\.gate_proj\.weight: the weights \(-0\.5, -0\.5\)|sum to 0/);
    await expect(runMerge(cfg({ ...zero, parameters: { normalize: false } }), dir('x6-ok'))).resolves.toBeDefined();
    await expect(
      runMerge(
        cfg({
          method: 'task_arithmetic',
          base: ref(base),
          models: [
            { model: ref(ft1), parameters: { weight: 1 } },
            { model: ref(ft2), parameters: { weight: -1 } },
          ],
          parameters: { normalize: true },
        }),
        dir('x7'),
      ),
    ).rejects.toThrow(/sum to 0/);
    expect(existsSync(dir('x6'))).toBe(false);
    expect(existsSync(dir('x7'))).toBe(false);
  });

  it('an output that exists is never overwritten', async () => {
    const out = dir('exists');
    await runMerge(ta([{ model: ref(ft1) }]), out);
    const before = readFileSync(join(out, 'model.safetensors'));
    await expect(runMerge(ta([{ model: ref(ft2) }]), out)).rejects.toThrow(/exists already|already exists/);
    expect(Buffer.compare(before, readFileSync(join(out, 'model.safetensors')))).toBe(0);
    writeFileSync(dir('exists.gguf'), 'keep me');
    await expect(runMerge(ta([{ model: ref(ft2) }]), dir('exists.gguf'))).rejects.toThrow(/already exists/);
    expect(readFileSync(dir('exists.gguf'), 'utf8')).toBe('keep me');
  });

  it('a full disk mid-write, or a cancel, leaves no partial output', async () => {
    for (const out of [dir('full'), dir('full.gguf')]) {
      let written = 0;
      const full = (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
        if (written + len > 20_000) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
        written += len;
        return require('node:fs').writeSync(fd, buf, off, len, pos) as number;
      };
      await expect(runMerge(ta([{ model: ref(ft1) }]), out, { writeFn: full, chunkBudgetBytes: 4000 })).rejects.toThrow(
        /disk full while writing .*full.* nothing was kept/,
      );
      expect(existsSync(out)).toBe(false);
      expect(leftovers()).toEqual([]);
    }
    let polls = 0;
    await expect(runMerge(ta([{ model: ref(ft1) }]), dir('cancelled'), { shouldStop: () => ++polls > 5 })).rejects.toThrow(MergeCancelled);
    expect(existsSync(dir('cancelled'))).toBe(false);
    expect(leftovers()).toEqual([]);
  });
});
