/**
 * Evaluating an adapter trained elsewhere (LLaMA-Factory, Axolotl, plain PEFT): the adapters in
 * test/fixtures/engine/peft are written by make_peft_adapters.py in Hugging Face PEFT's exact
 * save_pretrained layout and config fields (PEFT itself cannot be installed here, so the script
 * follows PEFT's documented key naming and LoraConfig fields, commit noted in the script), with
 * torch reference logits of W + (alpha/r)·B·A (alpha/√r for rsLoRA) on the tiny-llama fixture.
 * Unsupported PEFT variants are refused naming the config field.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLoraAdapter, loadModel, mergeLora, openModel } from '../../../src/main/engine';
import { SafetensorsFile, writeSafetensors } from '../../../src/main/engine/hf/safetensors';
import { DecoderRuntime } from '../../../src/main/engine/model/runtime';
import { repoRoot } from '../../helpers/shared';

const FIX = join(repoRoot, 'test', 'fixtures', 'engine');
const MODEL = join(FIX, 'hf', 'tiny-llama');
const PEFT = join(FIX, 'peft');
const tmp = mkdtempSync(join(tmpdir(), 'peft-import-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const ref = JSON.parse(readFileSync(join(MODEL, 'reference.json'), 'utf8')) as { input_ids: number[][]; attention_mask: number[][] };
const model = loadModel(MODEL);
const V = model.config.vocabSize;

/** max |a − e| over unmasked positions, relative to max |e| there. */
function relErr(a: Float32Array, e: Float32Array): number {
  let num = 0;
  let den = 0;
  const S = ref.attention_mask[0]!.length;
  ref.attention_mask.forEach((row, b) =>
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

async function logits(rt: DecoderRuntime): Promise<Float32Array> {
  try {
    return (await rt.forward(ref.input_ids, ref.attention_mask)).logits;
  } finally {
    await rt.release();
  }
}

const baseLogits = logits(await DecoderRuntime.create(model, { threads: 1 }));

/** A copy of a fixture adapter with its config changed, or with other tensors. */
function variant(
  name: string,
  from: string,
  config: (c: Record<string, unknown>) => Record<string, unknown>,
  tensors?: Parameters<typeof writeSafetensors>[1],
): string {
  const dir = join(tmp, name);
  mkdirSync(dir, { recursive: true });
  const cfg = JSON.parse(readFileSync(join(PEFT, from, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config(cfg)));
  if (tensors) writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
  else copyFileSync(join(PEFT, from, 'adapter_model.safetensors'), join(dir, 'adapter_model.safetensors'));
  return dir;
}

/** The fixture's own tensors plus extra ones, as PEFT would save them next to the LoRA factors. */
function withExtra(from: string, extra: Array<{ name: string; shape: number[] }>): Parameters<typeof writeSafetensors>[1] {
  const f = new SafetensorsFile(join(PEFT, from, 'adapter_model.safetensors'));
  return [
    ...[...f.tensors.keys()].map((name) => ({ name, shape: f.info(name).shape, dtype: 'F32' as const, data: () => f.readF32(name) })),
    ...extra.map((e) => ({ name: e.name, shape: e.shape, dtype: 'F32' as const, data: () => new Float32Array(e.shape.reduce((a, b) => a * b, 1)).fill(0.01) })),
  ];
}

describe('PEFT adapters written as PEFT saves them load and apply W + scale·B·A', () => {
  const cases: Array<[string, string, number]> = [
    ['lora-list', 'target_modules as a list, alpha/r', 3],
    ['rslora-regex-bf16', 'target_modules as a regex string, rsLoRA alpha/√r, bf16 tensors', 4],
    ['rank-alpha-patterns', 'per-module rank_pattern and alpha_pattern', 5],
  ];
  for (const [name, what, modulesPerLayer] of cases) {
    it(`${name} (${what}): merged and unmerged logits match the torch reference to 1e-4`, async () => {
      const want = new SafetensorsFile(join(PEFT, `${name}.reference.safetensors`)).readF32('logits');
      const adapter = loadLoraAdapter(join(PEFT, name));
      expect(adapter.modules.size).toBe(modulesPerLayer * model.config.numLayers);
      const merged = await logits(await DecoderRuntime.create(mergeLora(model, adapter), { threads: 1 }));
      const unmerged = await logits(await DecoderRuntime.create(model, { threads: 1, lora: adapter.modules }));
      expect(relErr(merged, want)).toBeLessThan(1e-4);
      expect(relErr(unmerged, want)).toBeLessThan(1e-4);
      // The adapter changes the model: the base logits are far from the reference.
      expect(relErr(await baseLogits, want)).toBeGreaterThan(1e-2);
    });
  }

  it('per-module scales follow PEFT: pattern keys match the end of the module name at a dot, first key wins', () => {
    const a = loadLoraAdapter(join(PEFT, 'rank-alpha-patterns'));
    const mod = (n: string) => a.modules.get(`model.layers.${n}.weight`)!;
    expect([mod('0.self_attn.q_proj').rank, mod('0.self_attn.q_proj').scale]).toEqual([2, 8 / 2]);
    expect([mod('0.self_attn.k_proj').rank, mod('0.self_attn.k_proj').scale]).toEqual([4, 20 / 4]);
    expect([mod('1.self_attn.k_proj').rank, mod('1.self_attn.k_proj').scale]).toEqual([4, 8 / 4]);
    expect([mod('1.self_attn.v_proj').rank, mod('1.self_attn.v_proj').scale]).toEqual([4, 3 / 4]);
    expect([mod('1.mlp.up_proj').rank, mod('0.mlp.up_proj').rank]).toEqual([6, 4]);
    const rs = loadLoraAdapter(join(PEFT, 'rslora-regex-bf16'));
    expect(rs.modules.get('model.layers.0.mlp.down_proj.weight')!.scale).toBeCloseTo(16 / Math.sqrt(8), 12);
    expect(rs.targetModules).toEqual(['model\\.layers\\.\\d+\\.(self_attn\\.k_proj|mlp\\.(gate|up|down)_proj)']);
  });

  it('fan_in_fan_out: true changes nothing for Linear layers (PEFT turns it off for them)', async () => {
    const dir = variant('fan-in-fan-out', 'lora-list', (c) => ({ ...c, fan_in_fan_out: true }));
    const want = new SafetensorsFile(join(PEFT, 'lora-list.reference.safetensors')).readF32('logits');
    const rt = await openModel(MODEL, { threads: 1, lora: dir, loraMode: 'unmerged', executionProvider: 'cpu' });
    expect(relErr(await logits(rt), want)).toBeLessThan(1e-4);
  });

  it('a rank that disagrees with r or rank_pattern is refused', () => {
    const dir = variant('wrong-rank', 'lora-list', (c) => ({ ...c, r: 8 }));
    expect(() => loadLoraAdapter(dir)).toThrow(/model\.layers\.0\.self_attn\.q_proj has rank 4, but the config gives it 8 \(r\)/);
  });
});

describe('unsupported PEFT variants are refused naming the field', () => {
  const q = 'base_model.model.model.layers.0.self_attn.q_proj';
  const refusals: Array<[string, (c: Record<string, unknown>) => Record<string, unknown>, RegExp, Parameters<typeof writeSafetensors>[1]?]> = [
    [
      'dora',
      (c) => ({ ...c, use_dora: true }),
      /use_dora is true: DoRA adapters .* are not supported/,
      withExtra('lora-list', [{ name: `${q}.lora_magnitude_vector`, shape: [32] }]),
    ],
    [
      'modules-to-save',
      (c) => ({ ...c, modules_to_save: ['lm_head'] }),
      /modules_to_save is \["lm_head"\]: adapters that carry whole trained modules are not supported/,
      withExtra('lora-list', [{ name: 'base_model.model.lm_head.modules_to_save.weight', shape: [64, 32] }]),
    ],
    ['pissa', (c) => ({ ...c, init_lora_weights: 'pissa_niter_4' }), /init_lora_weights is "pissa_niter_4": this initialisation rewrites the base weights/],
    ['olora', (c) => ({ ...c, init_lora_weights: 'olora' }), /init_lora_weights is "olora"/],
    ['lora-bias', (c) => ({ ...c, lora_bias: true }), /lora_bias is true/],
    ['not-lora', (c) => ({ ...c, peft_type: 'IA3' }), /peft_type is "IA3": only LoRA adapters/],
    [
      'trained-bias',
      (c) => ({ ...c, bias: 'all' }),
      /q_proj\.bias is a trained bias \(bias "all" or "lora_only"\)/,
      withExtra('lora-list', [{ name: `${q}.bias`, shape: [32] }]),
    ],
    [
      'embedding-lora',
      (c) => c,
      /lora_embedding_A is a LoRA on an embedding layer/,
      withExtra('lora-list', [{ name: 'base_model.model.model.embed_tokens.lora_embedding_A', shape: [4, 64] }]),
    ],
    [
      'resized-vocab',
      (c) => c,
      /embed_tokens\.weight is a full embedding or output matrix/,
      withExtra('lora-list', [{ name: 'base_model.model.model.embed_tokens.weight', shape: [64, 32] }]),
    ],
    ['bad-pattern', (c) => ({ ...c, rank_pattern: { 'q_proj(': 2 } }), /rank_pattern key "q_proj\(" is not a regular expression/],
  ];
  for (const [name, config, message, tensors] of refusals) {
    it(name, () => {
      expect(() => loadLoraAdapter(variant(name, 'lora-list', config, tensors))).toThrow(message);
    });
  }

  it('adapter_model.bin alone is refused as a pickle, never read', () => {
    const dir = join(tmp, 'bin-only');
    mkdirSync(dir);
    copyFileSync(join(PEFT, 'lora-list', 'adapter_config.json'), join(dir, 'adapter_config.json'));
    writeFileSync(join(dir, 'adapter_model.bin'), 'not really a pickle');
    expect(() => loadLoraAdapter(dir)).toThrow(/only adapter_model\.bin is there, a Python pickle, which is never loaded/);
  });

  it('a broken adapter_config.json names the file', () => {
    const dir = variant('broken-json', 'lora-list', (c) => c);
    writeFileSync(join(dir, 'adapter_config.json'), '{"r": 4,');
    expect(() => loadLoraAdapter(dir)).toThrow(/adapter_config\.json: not a readable JSON file/);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({ r: -1 }));
    expect(() => loadLoraAdapter(dir)).toThrow(/r must be a positive number, got -1/);
  });
});
