/**
 * SafeLoRA (Hsu et al., arXiv 2405.16833), the post-hoc projection of one LoRA module, as the
 * authors' code computes it: the alignment matrix V = W_aligned − W_base of the module's weight
 * ([out, in], from the aligned model and its base), the projector C = V·Vᵀ / ‖V‖_F ([out, out]),
 * and the module's update ΔW = B·A replaced by C·ΔW — by projecting B, so the adapter keeps its
 * shape — when the cosine similarity of C·ΔW and ΔW is under the threshold. C is the orthogonal
 * projector onto V's column space when V has one singular value 1 (the rank-1 case the tests use);
 * in general it weights V's left singular directions by σᵢ² / ‖V‖_F, as the paper's approximation
 * does. safeLoraAdapter applies it to every module of a trained adapter, reading the aligned and
 * base weights from their weight sources (no files written). The `safelora` training method
 * (src/main/train-methods/safelora.ts) runs it on the adapter a LoRA run ends with.
 */
import type { WeightSource } from '../../model/weights';
import type { LoraParams } from '../lora';

/** C = V·Vᵀ / ‖V‖_F for V [out, in] (row-major); null when V is zero (aligned and base weights equal). */
export function alignmentProjector(v: Float32Array, out: number, inn: number): Float64Array | null {
  if (v.length !== out * inn) throw new Error(`alignment matrix has ${v.length} values, expected ${out}×${inn}`);
  let norm2 = 0;
  for (const x of v) norm2 += x * x;
  if (norm2 === 0) return null;
  const norm = Math.sqrt(norm2);
  const c = new Float64Array(out * out);
  for (let i = 0; i < out; i++) {
    for (let j = i; j < out; j++) {
      let s = 0;
      for (let k = 0; k < inn; k++) s += v[i * inn + k]! * v[j * inn + k]!;
      c[i * out + j] = c[j * out + i] = s / norm;
    }
  }
  return c;
}

/** C·B for C [out, out] and B [out, r]. */
function project(c: Float64Array, b: Float32Array, out: number, r: number): Float32Array {
  const res = new Float32Array(out * r);
  for (let i = 0; i < out; i++) {
    for (let k = 0; k < r; k++) {
      let s = 0;
      for (let j = 0; j < out; j++) s += c[i * out + j]! * b[j * r + k]!;
      res[i * r + k] = s;
    }
  }
  return res;
}

/** B·A for B [out, r] and A [r, in]. */
function product(b: Float32Array, a: Float32Array, out: number, r: number, inn: number): Float64Array {
  const res = new Float64Array(out * inn);
  for (let i = 0; i < out; i++)
    for (let k = 0; k < r; k++) {
      const bk = b[i * r + k]!;
      if (bk !== 0) for (let j = 0; j < inn; j++) res[i * inn + j]! += bk * a[k * inn + j]!;
    }
  return res;
}

function cosine(x: Float64Array, y: Float64Array): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < x.length; i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  return xx === 0 || yy === 0 ? 0 : xy / Math.sqrt(xx * yy);
}

export interface SafeLoraModuleResult {
  /** B after SafeLoRA: C·B when projected, else the original B. */
  b: Float32Array;
  /** Cosine similarity of C·ΔW and ΔW (0 when either is zero). */
  similarity: number;
  projected: boolean;
}

/**
 * One module: A [r, in], B [out, r], the alignment matrix V [out, in]; B is projected when the
 * similarity is under `threshold` (the authors' default 0.5). A zero V (no alignment direction)
 * projects nothing.
 */
export function safeLoraModule(
  m: { a: Float32Array; b: Float32Array; rank: number },
  v: Float32Array,
  out: number,
  inn: number,
  threshold: number,
): SafeLoraModuleResult {
  const r = m.rank;
  if (m.a.length !== r * inn || m.b.length !== out * r)
    throw new Error(`LoRA module is A ${m.a.length / r}/${r}, B ${m.b.length / r}/${r}; the weight is [${out}, ${inn}]`);
  const c = alignmentProjector(v, out, inn);
  if (!c) return { b: m.b, similarity: 0, projected: false };
  const pb = project(c, m.b, out, r);
  const similarity = cosine(product(pb, m.a, out, r, inn), product(m.b, m.a, out, r, inn));
  return similarity < threshold ? { b: pb, similarity, projected: true } : { b: m.b, similarity, projected: false };
}

/** One module of an adapter after SafeLoRA. */
export interface SafeLoraLayer {
  /** PEFT module path (model.layers.0.self_attn.q_proj) */
  module: string;
  similarity: number;
  projected: boolean;
}

/**
 * SafeLoRA over a whole adapter: each module's B projected where its similarity is under
 * `threshold`, with V = aligned − base for the module's weight. The adapter itself is not changed:
 * the result holds new B tensors for projected modules and the same arrays for the others.
 * A weight whose shape differs between the two models (not the aligned model's base) is an error.
 */
export function safeLoraAdapter(
  adapter: LoraParams,
  aligned: WeightSource,
  base: WeightSource,
  threshold: number,
): { params: LoraParams; layers: SafeLoraLayer[] } {
  const tensors = new Map(adapter.tensors);
  const layers: SafeLoraLayer[] = [];
  for (const t of adapter.targets) {
    for (const [w, src] of [
      ['aligned', aligned],
      ['base', base],
    ] as const) {
      if (!src.has(t.weight)) throw new Error(`SafeLoRA: the ${w} model (${src.origin}) has no ${t.weight}`);
      const shape = src.shape(t.weight).join(', ');
      if (shape !== `${t.outFeatures}, ${t.inFeatures}`)
        throw new Error(
          `SafeLoRA: ${t.weight} is [${shape}] in the ${w} model (${src.origin}), [${t.outFeatures}, ${t.inFeatures}] in the adapter: the base model must be the aligned model’s own base`,
        );
    }
    const wa = aligned.f32(t.weight);
    const wb = base.f32(t.weight);
    const v = new Float32Array(wa.length);
    for (let i = 0; i < v.length; i++) v[i] = wa[i]! - wb[i]!;
    const r = safeLoraModule(
      { a: adapter.tensors.get(`${t.weight}.lora_A`)!, b: adapter.tensors.get(`${t.weight}.lora_B`)!, rank: t.rank },
      v,
      t.outFeatures,
      t.inFeatures,
      threshold,
    );
    tensors.set(`${t.weight}.lora_B`, r.b);
    layers.push({ module: t.module, similarity: r.similarity, projected: r.projected });
  }
  return { params: { targets: adapter.targets, tensors }, layers };
}
