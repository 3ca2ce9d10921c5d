/**
 * PEFT LoRA adapters applied to a model at inference: merge W' = W + scale·B·A into the weights
 * (mergeLora) or pass the modules to the runtime (RuntimeOptions.lora) for unmerged low-rank
 * MatMuls in the graph. Reading (and refusing) adapter folders is hf/peftAdapter.ts.
 */
import type { LoraAdapter } from './hf/peftAdapter';
import type { LoraModule } from './model/decoderGraph';
import type { LoadedModel } from './model/loaded';
import type { WeightSource } from './model/weights';

/** Check an adapter's modules against a model (names and shapes). */
export function checkAdapter(model: LoadedModel, adapter: LoraAdapter): void {
  for (const [name, m] of adapter.modules) {
    if (!model.weights.has(name)) throw new Error(`${adapter.path}: adapter targets ${name}, which the model does not have`);
    const [out, inn] = model.weights.shape(name);
    if (m.a.length !== m.rank * inn! || m.b.length !== out! * m.rank)
      throw new Error(`${adapter.path}: adapter for ${name} has A ${m.a.length / m.rank}x${m.rank}, B ${m.b.length / m.rank}; weight is [${out}, ${inn}]`);
  }
}

/** W + scale·B·A for one module (W: [out, in], A: [r, in], B: [out, r]). */
export function mergeModule(w: Float32Array, out: number, inn: number, m: LoraModule): Float32Array {
  const res = Float32Array.from(w);
  const r = m.rank;
  for (let o = 0; o < out; o++) {
    const row = o * inn;
    for (let k = 0; k < r; k++) {
      const bk = m.b[o * r + k]! * m.scale;
      if (bk === 0) continue;
      const ar = k * inn;
      for (let i = 0; i < inn; i++) res[row + i]! += bk * m.a[ar + i]!;
    }
  }
  return res;
}

/** A model whose weights have the adapter merged in (lazily, per tensor). */
export function mergeLora(model: LoadedModel, adapter: LoraAdapter): LoadedModel {
  checkAdapter(model, adapter);
  const base = model.weights;
  const merged: WeightSource = {
    origin: `${base.origin} + ${adapter.path}`,
    names: () => base.names(),
    has: (n) => base.has(n),
    shape: (n) => base.shape(n),
    dtype: (n) => base.dtype(n),
    // merged modules become float32; the others keep their quantised form
    quantized: (n) => (adapter.modules.has(n) ? null : (base.quantized?.(n) ?? null)),
    f32: (n) => {
      const m = adapter.modules.get(n);
      const w = base.f32(n);
      if (!m) return w;
      const [out, inn] = base.shape(n);
      return mergeModule(w, out!, inn!, m);
    },
  };
  return { ...model, weights: merged, name: `${model.name}+lora` };
}
