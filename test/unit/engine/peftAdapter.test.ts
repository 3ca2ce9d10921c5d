/**
 * PEFT adapter folders written and read in one module (engine/hf/peftAdapter): what the trainer
 * writes reads back (for resuming and for inference) as the same tensors, names and configuration,
 * and an adapter saved in PEFT's own naming (test/fixtures/engine/peft, see make_peft_adapters.py)
 * reads into the trainer's layout.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../../../src/main/engine';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { loadLoraAdapter, readPeftAdapter, writePeftAdapter } from '../../../src/main/engine/hf/peftAdapter';
import { initLoraParams, resolveLoraTargets, type LoraConfig } from '../../../src/main/engine/train/lora';
import { Rng } from '../../../src/main/engine/train/rng';
import { repoRoot } from '../../helpers/shared';

const FIX = join(repoRoot, 'test', 'fixtures', 'engine');
const model = loadModel(join(FIX, 'hf', 'tiny-llama'));
const tmp = mkdtempSync(join(tmpdir(), 'peft-adapter-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A trained-looking adapter (B not zero) written to a fresh folder. */
function written(name: string, cfg: LoraConfig) {
  const targets = resolveLoraTargets(model.config, cfg);
  const params = initLoraParams(targets, new Rng(11), { bStd: 0.1 });
  const dir = join(tmp, name);
  mkdirSync(dir);
  writePeftAdapter(dir, params, cfg, { baseModel: 'models/tiny-llama' });
  return { dir, targets, params };
}

describe('PEFT adapter round trip', () => {
  const cases: Array<[string, LoraConfig]> = [
    ['q, v', { rank: 4, alpha: 8 }],
    ['rsLoRA on every projection of layer 1', { rank: 2, alpha: 4, useRslora: true, layers: [1], targetModules: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] }],
  ];
  for (const [name, cfg] of cases)
    it(`reads back what it writes (${name})`, () => {
      const { dir, targets, params } = written(name.replace(/\W+/g, '-'), cfg);
      expect([...params.tensors.values()].some((t) => t.some((v) => v !== 0))).toBe(true);

      // resume: the same tensors, bit for bit, under the same names
      const back = readPeftAdapter(dir, targets);
      expect(back.targets).toBe(targets);
      expect([...back.tensors.keys()].sort()).toEqual([...params.tensors.keys()].sort());
      for (const [k, v] of params.tensors) expect(back.tensors.get(k)).toEqual(v);

      // PEFT's config fields
      const json = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
      const kinds = [...new Set(targets.map((t) => t.kind))];
      expect(json).toMatchObject({
        peft_type: 'LORA',
        task_type: 'CAUSAL_LM',
        r: cfg.rank,
        lora_alpha: cfg.alpha,
        use_rslora: cfg.useRslora ?? false,
        layers_to_transform: cfg.layers ?? null,
        bias: 'none',
        base_model_name_or_path: 'models/tiny-llama',
      });
      expect([...(json.target_modules as string[])].sort()).toEqual(kinds.sort());
      // PEFT's tensor names
      expect([...new SafetensorsFile(join(dir, 'adapter_model.safetensors')).tensors.keys()].sort()).toEqual(
        targets.flatMap((t) => [`base_model.model.${t.module}.lora_A.weight`, `base_model.model.${t.module}.lora_B.weight`]).sort(),
      );

      // inference: the same modules, factors and scale
      const adapter = loadLoraAdapter(dir);
      expect(adapter).toMatchObject({ path: dir, rank: cfg.rank, alpha: cfg.alpha });
      expect([...adapter.targetModules].sort()).toEqual(kinds.sort());
      expect([...adapter.modules.keys()].sort()).toEqual(targets.map((t) => t.weight).sort());
      for (const t of targets) {
        const m = adapter.modules.get(t.weight)!;
        expect(m.rank).toBe(t.rank);
        expect(m.scale).toBeCloseTo(t.scale, 12);
        expect(m.a).toEqual(params.tensors.get(`${t.weight}.lora_A`));
        expect(m.b).toEqual(params.tensors.get(`${t.weight}.lora_B`));
      }
    });

  it('names the tensor whose shape does not fit the run being resumed', () => {
    const { dir } = written('rank-4', { rank: 4, alpha: 8 });
    const other = resolveLoraTargets(model.config, { rank: 2, alpha: 8 });
    expect(() => readPeftAdapter(dir, other)).toThrow(
      /base_model\.model\.model\.layers\.0\.self_attn\.q_proj\.lora_A\.weight has shape \[4, 32\], expected \[2, 32\]/,
    );
    rmSync(join(dir, 'adapter_model.safetensors'));
    expect(() => readPeftAdapter(dir, other)).toThrow(/missing adapter_model\.safetensors/);
  });

  it("reads an adapter saved in PEFT's own naming into the trainer's layout", () => {
    const dir = join(FIX, 'peft', 'lora-list');
    const cfg = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8')) as { r: number; lora_alpha: number; target_modules: string[] };
    const targets = resolveLoraTargets(model.config, { rank: cfg.r, alpha: cfg.lora_alpha, targetModules: cfg.target_modules });
    const params = readPeftAdapter(dir, targets);
    const adapter = loadLoraAdapter(dir);
    expect(params.tensors.size).toBe(2 * targets.length);
    expect([...adapter.modules.keys()].sort()).toEqual(targets.map((t) => t.weight).sort());
    for (const t of targets) {
      const m = adapter.modules.get(t.weight)!;
      expect(params.tensors.get(`${t.weight}.lora_A`)).toEqual(m.a);
      expect(params.tensors.get(`${t.weight}.lora_B`)).toEqual(m.b);
      expect(m.scale).toBeCloseTo(t.scale, 12);
    }
  });
});
