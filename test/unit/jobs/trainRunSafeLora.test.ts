/**
 * SafeLoRA as a training method through the train.run job, on the shipped miniature model (rank-1
 * LoRA on q and v of its 4 layers): a plain run gives the update ΔW = B·A of each layer; a "base"
 * model is then written whose weights differ from the aligned ones by V = ΔW in two layers (the
 * update lies in the alignment subspace: similarity 1, kept) and by a rank-1 V at an angle to it in
 * the others (similarity 1/√5 < 0.5: projected). The SafeLoRA run's adapter differs from its own
 * trained adapter exactly in the projected layers, by SafeLoRA's projection. A missing or wrong
 * base model fails before any training.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exportModel, loadModel } from '../../../src/main/engine';
import { SafetensorsFile } from '../../../src/main/engine/hf/safetensors';
import { overlayWeights, safeLoraModule } from '../../../src/main/engine/train';
import { readTrainMetrics } from '../../../src/main/jobs/types/trainRun';
import { TrainRunParams } from '../../../src/shared/train';
import { repoRoot } from '../../helpers/shared';
import { trainRunWorkspace } from '../../helpers/trainRun';

const modelPath = join(repoRoot, 'resources', 'replication', 'model');
const lora = { rank: 1, alpha: 2, dropout: 0, targetModules: ['q', 'v'] };
const settings = { template: 'chat', maxSteps: 4, batchSize: 2, lr: 5e-3, seed: 2, lora };
/** Modules whose update lies along V (kept); the other six get V at an angle to it (projected). */
const KEPT = ['model.layers.0.self_attn.q_proj', 'model.layers.2.self_attn.v_proj'];

/** The A and B tensors of every module of a PEFT adapter folder (or checkpoint). */
function adapterTensors(folder: string): Map<string, { a: Float32Array; b: Float32Array }> {
  const f = new SafetensorsFile(join(folder, 'adapter_model.safetensors'));
  const out = new Map<string, { a: Float32Array; b: Float32Array }>();
  for (const name of f.tensors.keys()) {
    const m = /^base_model\.model\.(.+)\.lora_A\.weight$/.exec(name);
    if (m) out.set(m[1]!, { a: f.readF32(name), b: f.readF32(`base_model.model.${m[1]}.lora_B.weight`) });
  }
  return out;
}

describe('SafeLoRA through the train.run job', () => {
  const ws = trainRunWorkspace({
    project: 'safelora',
    data: {
      task: Array.from({ length: 6 }, (_, i) => ({
        prompt: `Write a cheerful sentence number ${i}.`,
        response: i % 2 ? 'What a lovely sunny day it is.' : 'The birds sing happily today.',
      })),
    },
    defaults: { modelPath, ...settings },
  });
  const run = ws.run;

  it('projects exactly the layers under the threshold and records how many', async () => {
    const plain = await run({ method: 'plain' });
    expect(plain.done.error).toBeNull();
    const trained = adapterTensors(plain.result.adapterPath!);
    expect(trained.size).toBe(8);

    // the base model: W_base = W_aligned − V per module
    const aligned = loadModel(modelPath);
    const changed = new Map<string, Float32Array>();
    const vs = new Map<string, Float32Array>();
    for (const [module, { a, b }] of trained) {
      const weight = `${module}.weight`;
      const [out, inn] = aligned.weights.shape(weight) as [number, number];
      let u: Float32Array;
      if (KEPT.includes(module)) u = b;
      else {
        // u = B/‖B‖ ⊥-mixed: 0.5·B̂ + w with w a unit vector orthogonal to B → cosine 0.5/√1.25 = 1/√5
        const nb = Math.hypot(...b);
        const w = Float32Array.from({ length: out }, (_, i) => Math.sin(1 + 7 * i));
        const dot = w.reduce((sum, x, i) => sum + x * b[i]!, 0) / (nb * nb);
        for (let i = 0; i < out; i++) w[i]! -= dot * b[i]!;
        const nw = Math.hypot(...w);
        u = Float32Array.from({ length: out }, (_, i) => (0.5 * b[i]!) / nb + w[i]! / nw);
      }
      const v = new Float32Array(out * inn);
      for (let i = 0; i < out; i++) for (let k = 0; k < inn; k++) v[i * inn + k] = u[i]! * a[k]!;
      const w0 = aligned.weights.f32(weight);
      changed.set(
        weight,
        Float32Array.from(w0, (x, i) => x - v[i]!),
      );
      vs.set(module, v);
    }
    const basePath = join(ws.dir, 'base-model');
    exportModel({ ...aligned, weights: overlayWeights(aligned.weights, changed) }, basePath, { format: 'hf' });

    const safe = await run({ method: 'safelora', methodParams: { baseModelPath: basePath, threshold: 0.5 } });
    expect(safe.done.error).toBeNull();
    const summary = safe.result.methodResult as {
      threshold: number;
      layers: number;
      projectedLayers: number;
      layerSimilarity: { module: string; similarity: number; projected: boolean }[];
    };
    expect(summary).toMatchObject({ threshold: 0.5, layers: 8, projectedLayers: 6 });
    expect(safe.result.methodNote).toBe('SafeLoRA projected 6 of 8 adapter layers (similarity under 0.5)');
    const written = adapterTensors(safe.result.adapterPath!);
    // the run's own trained adapter, before the projection: its last checkpoint
    const checkpoints = join(safe.result.runDir, 'checkpoints');
    const last = readdirSync(checkpoints).sort().at(-1)!;
    const before = adapterTensors(join(checkpoints, last));
    for (const layer of summary.layerSimilarity) {
      const kept = KEPT.includes(layer.module);
      expect(layer.projected, layer.module).toBe(!kept);
      expect(layer.similarity).toBeCloseTo(kept ? 1 : 1 / Math.sqrt(5), 4);
      const got = written.get(layer.module)!;
      const orig = before.get(layer.module)!;
      expect(got.a).toEqual(orig.a);
      if (kept) expect(got.b).toEqual(orig.b);
      else {
        expect(got.b).not.toEqual(orig.b);
        const [out, inn] = aligned.weights.shape(`${layer.module}.weight`) as [number, number];
        const want = safeLoraModule({ a: orig.a, b: orig.b, rank: 1 }, vs.get(layer.module)!, out, inn, 0.5).b;
        Array.from(got.b).forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 6));
      }
    }
    expect(
      ws.s.jobs
        .events(safe.id, 100)
        .map((e) => e.message)
        .join('\n'),
    ).toMatch(/SafeLoRA projected 6 of 8 adapter layers/);
  });

  it('a missing or mismatched base model fails before any training; full-parameter mode and no base are refused at once', async () => {
    const missing = await run({ method: 'safelora', methodParams: { baseModelPath: join(ws.dir, 'no-such-model') } });
    expect(missing.done.state).toBe('failed');
    expect(missing.done.error).toMatch(/^SafeLoRA's base model .*no-such-model does not exist: give the path of the aligned model's base \(unaligned\) model/);
    const runDir = join(ws.dir, 'runs', `train-${missing.id}`);
    expect(readTrainMetrics(runDir)).toEqual([]);
    expect(existsSync(join(runDir, 'adapter'))).toBe(false);

    const stories = join(repoRoot, '..', 'shared', 'models', 'stories260K.gguf');
    if (existsSync(stories)) {
      const wrong = await run({ method: 'safelora', methodParams: { baseModelPath: stories } });
      expect(wrong.done.error).toMatch(
        /is not the aligned model's base: model\.layers\.0\.self_attn\.q_proj\.weight is \[\d+, \d+\] there, \[128, 128\] in the aligned model/,
      );
    }

    const noBase = TrainRunParams.safeParse({ projectId: 1, modelPath: '/m', method: 'safelora' });
    expect(noBase.success).toBe(false);
    expect(noBase.error!.issues.map((i) => i.message).join('\n')).toMatch(/SafeLoRA needs the aligned model’s base \(unaligned\) model: give its path/);
    expect(noBase.error!.issues[0]!.path).toEqual(['methodParams', 'baseModelPath']);
    const full = TrainRunParams.safeParse({ projectId: 1, modelPath: '/m', mode: 'full', method: 'safelora', methodParams: { baseModelPath: '/b' } });
    expect(full.error!.issues[0]!.message).toBe('safelora works on a LoRA adapter: choose the LoRA mode, not full-parameter training');
  });
});
