/**
 * buildDecoderGraph's output pinned on twelve config/option variants (the five tiny architectures;
 * fused and plain ops; full and KV-cache step graphs; fp16 storage; block-quantised weights with and
 * without minimums; unmerged LoRA, LoRA inputs, weights as inputs and a linear hook): each built
 * ONNX model (nodes, names, attributes, initializers and their external data) is hashed, so a
 * restructuring of the builder that changes any node shows here, naming the variant.
 * The hashes were taken from the builder before it was split into top-level steps. When a graph is
 * changed on purpose, check the change with the numerical tests (api, quant-compute, hf-reference,
 * torch-reference) and take the new hashes from this test's failure message.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildDecoderGraph, loadModel, type DecoderGraphOptions } from '../../../src/main/engine';
import type { Graph } from '../../../src/main/engine/graph';
import { QuantizingWeights } from '../../../src/main/engine/model/quantizeOnLoad';
import type { WeightSource } from '../../../src/main/engine/model/weights';
import { seededRandom } from '../../../src/main/engine/generate';
import { repoRoot } from '../../helpers/shared';

const HF = join(repoRoot, 'test', 'fixtures', 'engine', 'hf');
const model = (name: string) => loadModel(join(HF, name));

/** sha256 over the ModelProto bytes and every in-memory external data file, with the node count. */
function fingerprint(g: Graph): string {
  const built = g.build();
  const h = createHash('sha256').update(built.bytes);
  for (const f of built.externalData) h.update(f.path).update(f.data);
  return `${g.nodes.length} ${h.digest('hex').slice(0, 24)}`;
}

/** Unmerged LoRA factors for q and v of every layer, random but seeded. */
function loraFor(src: WeightSource, layers: number): NonNullable<DecoderGraphOptions['lora']> {
  const rand = seededRandom(5);
  const m: NonNullable<DecoderGraphOptions['lora']> = new Map();
  for (let l = 0; l < layers; l++)
    for (const t of ['q', 'v']) {
      const name = `model.layers.${l}.self_attn.${t}_proj.weight`;
      const [out, inn] = src.shape(name) as [number, number];
      const r = 2;
      m.set(name, {
        a: Float32Array.from({ length: r * inn }, () => rand() - 0.5),
        b: Float32Array.from({ length: out * r }, () => rand() - 0.5),
        rank: r,
        scale: 0.5,
      });
    }
  return m;
}

const trainable = (n: string) => n.includes('.mlp.up_proj.') || n.endsWith('norm.weight');
const loraInputs = (layers: number) =>
  new Map(
    [...Array(layers).keys()].flatMap((l) =>
      ['q', 'k', 'v', 'o'].map((t) => [`model.layers.${l}.self_attn.${t}_proj.weight`, { rank: 2, scale: 0.25 }] as const),
    ),
  );

/** Each variant: a tiny architecture fixture, its weights (as stored, or quantised on load) and builder options. */
const VARIANTS: Record<string, () => Graph> = {
  'llama fused full': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, m.weights, { kvCache: false, logits: 'all' });
  },
  'llama fused step, last logits, unmerged LoRA': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, m.weights, { kvCache: true, logits: 'last', lora: loraFor(m.weights, m.config.numLayers) });
  },
  'llama fused fp16 step': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, m.weights, { kvCache: true, logits: 'last', weightDtype: 'float16' });
  },
  'llama plain, weights as inputs, LoRA inputs': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, m.weights, {
      kvCache: false,
      logits: 'all',
      fused: false,
      weightAsInput: trainable,
      loraInputs: loraInputs(m.config.numLayers),
    });
  },
  'llama plain fp16 storage': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, m.weights, {
      kvCache: false,
      logits: 'all',
      fused: false,
      weightDtype: 'float16',
      loraInputs: loraInputs(m.config.numLayers),
    });
  },
  'llama fused Q4_0 step (grouped q/k/v, gate/up)': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, new QuantizingWeights(m.weights, 'Q4_0'), { kvCache: true, logits: 'last', quant: { accuracyLevel: 4 } });
  },
  'llama plain Q4_1 (dequantised, minimums) with LoRA inputs': () => {
    const m = model('tiny-llama');
    return buildDecoderGraph(m.config, new QuantizingWeights(m.weights, 'Q4_1'), {
      kvCache: false,
      logits: 'all',
      fused: false,
      quant: { accuracyLevel: 0 },
      loraInputs: loraInputs(m.config.numLayers),
    });
  },
  'gemma fused Q4_1 full (quantised tied embedding and head)': () => {
    const m = model('tiny-gemma');
    return buildDecoderGraph(m.config, new QuantizingWeights(m.weights, 'Q4_1'), { kvCache: false, logits: 'all', quant: { accuracyLevel: 0 } });
  },
  'gemma plain step': () => {
    const m = model('tiny-gemma');
    return buildDecoderGraph(m.config, m.weights, { kvCache: true, logits: 'all', fused: false, weightAsInput: trainable });
  },
  'gemma2 fused step (sandwich norms, softcaps, sliding window)': () => {
    const m = model('tiny-gemma2');
    return buildDecoderGraph(m.config, m.weights, { kvCache: true, logits: 'last' });
  },
  'mistral plain with a linear hook, opset 19': () => {
    const m = model('tiny-mistral');
    return buildDecoderGraph(m.config, m.weights, {
      kvCache: false,
      logits: 'all',
      fused: false,
      opset: 19,
      linearHook: (g, x, y, w, label) => (w.includes('down_proj') ? g.add(y, g.reduceMean(x, [-1], true, `${label}_hook`), `${label}_hooked`) : y),
    });
  },
  'qwen2 fused fp16 full (attention bias, tied head)': () => {
    const m = model('tiny-qwen2');
    return buildDecoderGraph(m.config, m.weights, { kvCache: false, logits: 'all', weightDtype: 'float16' });
  },
};

/** Taken from the builder as it was before the split (commit 49ab6e4). */
const EXPECTED: Record<string, string> = {
  'llama fused full': '84 09f405733c44f1e0c48ab6ed',
  'llama fused step, last logits, unmerged LoRA': '104 3746600084f04a3e49bb7c26',
  'llama fused fp16 step': '159 9d8fc22622cd79e16ae4ac59',
  'llama plain, weights as inputs, LoRA inputs': '215 02e013e77b16e625c77c6f5e',
  'llama plain fp16 storage': '259 c3fd975072db254538131f1c',
  'llama fused Q4_0 step (grouped q/k/v, gate/up)': '90 f7f1b2e534d81adabb364c3f',
  'llama plain Q4_1 (dequantised, minimums) with LoRA inputs': '312 4f173abd5df5e90e0b5310ca',
  'gemma fused Q4_1 full (quantised tied embedding and head)': '130 4826f7504f173728d206fde6',
  'gemma plain step': '194 87f6513a30b09856003240db',
  'gemma2 fused step (sandwich norms, softcaps, sliding window)': '127 e00f4b33bd72bf2f607f266a',
  'mistral plain with a linear hook, opset 19': '174 6af38182f6964318ea900cf3',
  'qwen2 fused fp16 full (attention bias, tied head)': '150 33e54686d63512178d344e93',
};

describe('buildDecoderGraph builds the same graphs', () => {
  it('on twelve config/option variants, node for node', () => {
    const got = Object.fromEntries(Object.entries(VARIANTS).map(([name, build]) => [name, fingerprint(build())]));
    expect(Object.keys(got)).toHaveLength(12);
    expect(got).toEqual(EXPECTED);
  });
});
