/** AdamW, learning-rate schedules and global-norm gradient clipping on Float32Arrays. */

export interface AdamWConfig {
  lr: number;
  betas?: [number, number];
  eps?: number;
  /** decoupled weight decay (PyTorch AdamW), default 0 */
  weightDecay?: number;
}

export interface AdamWState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

/** PyTorch's AdamW update (decoupled decay, bias-corrected moments). */
export class AdamW {
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  state: AdamWState = { step: 0, m: new Map(), v: new Map() };

  constructor(readonly config: AdamWConfig) {
    this.betas = config.betas ?? [0.9, 0.999];
    this.eps = config.eps ?? 1e-8;
    this.weightDecay = config.weightDecay ?? 0;
  }

  /** One update of every parameter in `params` with the matching gradient, at learning rate `lr`. */
  step(params: Map<string, Float32Array>, grads: Map<string, Float32Array>, lr: number): void {
    const [b1, b2] = this.betas;
    const t = ++this.state.step;
    const bc1 = 1 - b1 ** t;
    const bc2 = 1 - b2 ** t;
    const stepSize = lr / bc1;
    const sqrtBc2 = Math.sqrt(bc2);
    const decay = 1 - lr * this.weightDecay;
    for (const [name, p] of params) {
      const g = grads.get(name);
      if (!g) throw new Error(`AdamW: no gradient for ${name}`);
      if (g.length !== p.length) throw new Error(`AdamW: gradient of ${name} has ${g.length} values, parameter ${p.length}`);
      let m = this.state.m.get(name);
      let v = this.state.v.get(name);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.state.m.set(name, m);
        this.state.v.set(name, v);
      }
      for (let i = 0; i < p.length; i++) {
        const gi = g[i]!;
        const mi = b1 * m[i]! + (1 - b1) * gi;
        const vi = b2 * v[i]! + (1 - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtBc2 + this.eps);
      }
    }
  }
}

export interface ScheduleConfig {
  type: 'constant' | 'linear' | 'cosine';
  /** linear warm-up from lr/warmupSteps to lr over this many steps (default 0) */
  warmupSteps?: number;
  /** total optimiser steps (decay reaches its end here) */
  totalSteps: number;
  /** floor of the decay as a fraction of the peak (default 0) */
  minLrRatio?: number;
}

/** Learning rate for optimiser step `step` (0-based: the update about to be applied). */
export function lrAt(base: number, step: number, s: ScheduleConfig): number {
  const warm = s.warmupSteps ?? 0;
  if (step < warm) return (base * (step + 1)) / warm;
  if (s.type === 'constant') return base;
  const min = base * (s.minLrRatio ?? 0);
  const span = Math.max(1, s.totalSteps - warm);
  const progress = Math.min(1, (step - warm) / span);
  if (s.type === 'linear') return min + (base - min) * (1 - progress);
  return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/** Global L2 norm of all gradients. */
export function globalNorm(grads: Iterable<Float32Array>): number {
  let s = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  return Math.sqrt(s);
}

/** Scale gradients in place so their global norm is at most maxNorm (PyTorch clip_grad_norm_); returns the norm before clipping. */
export function clipGradNorm(grads: Iterable<Float32Array>, maxNorm: number): number {
  const list = [...grads];
  const norm = globalNorm(list);
  if (maxNorm > 0 && norm > maxNorm) {
    const k = maxNorm / (norm + 1e-6);
    for (const g of list) for (let i = 0; i < g.length; i++) g[i]! *= k;
  }
  return norm;
}
