/**
 * Quadratic anchors to the aligned weights, computed in TypeScript:
 * EWC (λ/2 · Σ F ⊙ (W_eff − W_aligned)², F = diagonal Fisher of the aligned model on safety data)
 * and L2-SP (λ/2 · ‖W_eff − W_aligned‖²). With LoRA W_eff = W_base + scale · B·A; with
 * full-parameter training W_eff is the trained weight itself. The aligned weights are the model's
 * weights before training; `offset` (W_base − W_aligned) covers a base that is not the aligned model.
 */
import { createSession, defaultThreads, ort } from '../../graph';
import { SafetensorsFile, writeSafetensors } from '../../hf/safetensors';
import { writeFileDurable } from '../fsutil';
import type { LoadedModel } from '../../model/loaded';
import { makeBatch, type TrainExample } from '../data';
import { buildTrainGraph } from '../graph';
import type { LoraParams, LoraTarget } from '../lora';
import type { TermContext, TrainingTerm } from '../trainer';

/**
 * Σ over targets of λ/2 Σ_ij F_ij D_ij², D = offset + scale·B·A (F = 1 where `fisher` has no entry
 * and `fisher` is null: L2-SP). Adds dP/dA and dP/dB into `grads` when given; returns P.
 */
export function anchorPenalty(
  targets: LoraTarget[],
  params: LoraParams,
  lambda: number,
  fisher: Map<string, Float32Array> | null,
  grads?: Map<string, Float32Array>,
  offset?: Map<string, Float32Array>,
): number {
  let total = 0;
  for (const t of targets) {
    const F = fisher ? fisher.get(t.weight) : undefined;
    if (fisher && !F) continue; // EWC only on matrices with a Fisher estimate
    const A = params.tensors.get(`${t.weight}.lora_A`)!;
    const B = params.tensors.get(`${t.weight}.lora_B`)!;
    const off = offset?.get(t.weight);
    const { rank: r, inFeatures: n, outFeatures: m, scale } = t;
    if (F && F.length !== m * n) throw new Error(`Fisher of ${t.weight} has ${F.length} values, expected ${m * n}`);
    const gA = grads?.get(`${t.weight}.lora_A`);
    const gB = grads?.get(`${t.weight}.lora_B`);
    const row = new Float64Array(n);
    for (let o = 0; o < m; o++) {
      // D[o,:] = off[o,:] + scale Σ_k B[o,k] A[k,:];  G[o,:] = λ F[o,:] D[o,:]
      row.fill(0);
      for (let k = 0; k < r; k++) {
        const b = B[o * r + k]! * scale;
        if (b === 0) continue;
        const ak = k * n;
        for (let i = 0; i < n; i++) row[i]! += b * A[ak + i]!;
      }
      if (off) for (let i = 0; i < n; i++) row[i]! += off[o * n + i]!;
      let p = 0;
      for (let i = 0; i < n; i++) {
        const f = F ? F[o * n + i]! : 1;
        const d = row[i]!;
        p += f * d * d;
        row[i] = lambda * f * d; // G
      }
      total += 0.5 * lambda * p;
      if (!gA || !gB) continue;
      // dB[o,k] = scale Σ_i G[o,i] A[k,i];  dA[k,i] += scale B[o,k] G[o,i]
      for (let k = 0; k < r; k++) {
        const ak = k * n;
        let s = 0;
        for (let i = 0; i < n; i++) s += row[i]! * A[ak + i]!;
        gB[o * r + k]! += scale * s;
        const bs = scale * B[o * r + k]!;
        if (bs !== 0) for (let i = 0; i < n; i++) gA[ak + i]! += bs * row[i]!;
      }
    }
  }
  return total;
}

/**
 * Full-parameter training: Σ over the trained weights of λ/2 Σ_i F_i D_i², D = W − W_0 + offset
 * (W_0: the weight before training; F = 1 where `fisher` is null: L2-SP; with a Fisher, weights
 * without an estimate are not anchored). Adds dP/dW = λ F D into `grads` when given; returns P.
 */
export function fullAnchorPenalty(
  params: Map<string, Float32Array>,
  initial: (name: string) => Float32Array,
  lambda: number,
  fisher: Map<string, Float32Array> | null,
  grads?: Map<string, Float32Array>,
  offset?: Map<string, Float32Array>,
): number {
  let total = 0;
  for (const [name, W] of params) {
    const F = fisher ? fisher.get(name) : undefined;
    if (fisher && !F) continue;
    const W0 = initial(name);
    const off = offset?.get(name);
    for (const [what, a] of [
      ['Fisher', F],
      ['initial weight', W0],
      ['offset', off],
    ] as const)
      if (a && a.length !== W.length) throw new Error(`${what} of ${name} has ${a.length} values, expected ${W.length}`);
    const g = grads?.get(name);
    let p = 0;
    for (let i = 0; i < W.length; i++) {
      const d = W[i]! - W0[i]! + (off ? off[i]! : 0);
      const f = F ? F[i]! : 1;
      p += f * d * d;
      if (g) g[i]! += lambda * f * d;
    }
    total += 0.5 * lambda * p;
  }
  return total;
}

/**
 * The anchor of the run's mode. Full-parameter training keeps a copy of each anchored weight's
 * starting value (read once from the model: 4 bytes per anchored parameter).
 */
function anchorTerm(name: string, lambda: number, fisher: Map<string, Float32Array> | null, offset?: Map<string, Float32Array>): TrainingTerm {
  const initial = new Map<string, Float32Array>();
  return {
    name,
    async addToStep(ctx: TermContext, grads: Map<string, Float32Array>) {
      if (ctx.mode === 'lora') return anchorPenalty(ctx.targets, { targets: ctx.targets, tensors: ctx.params }, lambda, fisher, grads, offset);
      const w0 = (n: string) => {
        let w = initial.get(n);
        if (!w) initial.set(n, (w = Float32Array.from(ctx.initialWeight(n))));
        return w;
      };
      return fullAnchorPenalty(ctx.params, w0, lambda, fisher, grads, offset);
    },
  };
}

/** EWC as a trainer term (LoRA or full-parameter training; `fisher` by weight name, from estimateFisher). */
export function ewcTerm(opts: { fisher: Map<string, Float32Array>; lambda: number; offset?: Map<string, Float32Array> }): TrainingTerm {
  return anchorTerm('ewc', opts.lambda, opts.fisher, opts.offset);
}

/** L2-SP as a trainer term (LoRA or full-parameter training). */
export function l2spTerm(opts: { lambda: number; offset?: Map<string, Float32Array> }): TrainingTerm {
  return anchorTerm('l2sp', opts.lambda, null, opts.offset);
}

/**
 * Diagonal (empirical) Fisher of a model on examples for the given weight matrices:
 * F = mean over examples of (∂ log p(targets | example) / ∂W)², one example per backward pass.
 * `weights` are base weight names (e.g. the LoRA targets' `weight`).
 */
export async function estimateFisher(
  model: LoadedModel,
  examples: TrainExample[],
  weights: string[],
  opts: { threads?: number; maxLength?: number; normalise?: 'none' | 'max' } = {},
): Promise<Map<string, Float32Array>> {
  if (examples.length === 0) throw new Error('estimateFisher: no examples');
  const wanted = new Set(weights);
  const tg = buildTrainGraph(model.config, model.weights, { lora: [], trainWeights: (n) => wanted.has(n) });
  for (const w of weights) if (!tg.params.includes(w)) throw new Error(`estimateFisher: ${w} is not a weight of the model graph`);
  const sess = await createSession(tg.graph.build(), { intraOpThreads: opts.threads ?? defaultThreads() });
  const feedsW: Record<string, ort.Tensor> = {};
  for (const w of tg.params) feedsW[w] = new ort.Tensor('float32', model.weights.f32(w), model.weights.shape(w));
  const fisher = new Map<string, Float32Array>(tg.params.map((w) => [w, new Float32Array(model.weights.shape(w).reduce((a, b) => a * b, 1))]));
  try {
    for (const ex of examples) {
      const b = makeBatch([ex], { maxLength: opts.maxLength });
      if (b.tokens === 0) continue;
      const dims = [1, b.seq];
      const out = await sess.run({
        ...feedsW,
        input_ids: new ort.Tensor('int64', b.inputIds, dims),
        attention_mask: new ort.Tensor('int64', b.attentionMask, dims),
        position_ids: new ort.Tensor('int64', b.positionIds, dims),
        labels: new ort.Tensor('int64', b.labels, dims),
        // gradient of the summed log-likelihood of this example
        label_weights: new ort.Tensor('float32', b.labelMask, dims),
      });
      for (const w of tg.params) {
        const g = out[`grad.${w}`]!.data as Float32Array;
        const f = fisher.get(w)!;
        for (let i = 0; i < f.length; i++) f[i]! += (g[i]! * g[i]!) / examples.length;
      }
    }
  } finally {
    await sess.release();
  }
  if (opts.normalise === 'max') {
    let mx = 0;
    for (const f of fisher.values()) for (const x of f) mx = Math.max(mx, x);
    if (mx > 0) for (const f of fisher.values()) for (let i = 0; i < f.length; i++) f[i]! /= mx;
  }
  return fisher;
}

/** Save a diagonal Fisher (weight name → values, in the weight's [out, in] layout) as safetensors. */
export function saveFisher(path: string, fisher: Map<string, Float32Array>, shapes: (name: string) => number[]): void {
  writeSafetensors(
    path,
    [...fisher].map(([name, f]) => ({ name, shape: shapes(name), dtype: 'F32' as const, data: () => f })),
    { format: 'safetune-fisher' },
  );
  writeFileDurable(path, null);
}

export function loadFisher(path: string): Map<string, Float32Array> {
  const f = new SafetensorsFile(path);
  if (f.metadata['format'] !== 'safetune-fisher') throw new Error(`${path}: not a Fisher file`);
  return new Map([...f.tensors.keys()].map((k) => [k, f.readF32(k)]));
}
