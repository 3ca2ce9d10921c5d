/**
 * Lisa (Huang et al., "Lazy Safety Alignment for Large Language Models against Harmful
 * Fine-tuning", arXiv 2405.18641): bi-state optimisation — cycles of `alignSteps` optimiser steps on
 * the alignment data (the saved safety examples) followed by `userSteps` steps on the user's task
 * data — with a proximal term ρ/2 ‖w − w̃‖² in every step, w̃ being the trainable weights as the
 * previous phase left them (at the first phase: as training started). Each cycle starts with the
 * alignment phase. ρ = 0 is plain bi-state optimisation.
 */
import { makeBatch, type TrainExample } from '../data';
import type { TermContext, TrainingTerm } from '../trainer';

export interface LisaOptions {
  /** the alignment data: the safety examples */
  alignment: TrainExample[];
  /** steps of each alignment phase (≥ 1) */
  alignSteps: number;
  /** steps of each user-data phase (≥ 1) */
  userSteps: number;
  /** strength ρ of the proximal term (≥ 0) */
  rho: number;
  /** alignment examples per alignment step (default 4) */
  batchSize?: number;
  maxLength?: number;
}

export type LisaPhase = 'alignment' | 'user';

/** The phase of optimiser step `step` (0-based). */
export function lisaPhase(step: number, o: Pick<LisaOptions, 'alignSteps' | 'userSteps'>): LisaPhase {
  return step % (o.alignSteps + o.userSteps) < o.alignSteps ? 'alignment' : 'user';
}

/** Whether step `step` starts a phase (its anchor is the weights as the previous phase left them). */
function startsPhase(step: number, o: Pick<LisaOptions, 'alignSteps' | 'userSteps'>): boolean {
  const r = step % (o.alignSteps + o.userSteps);
  return r === 0 || r === o.alignSteps;
}

const toBase64 = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const fromBase64 = (s: string) => {
  const b = Buffer.from(s, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/**
 * Lisa as a trainer term: it owns the alignment phases' steps (a batch of alignment examples drawn
 * with the trainer's RNG) and adds the proximal pull in every step. Its anchor (a copy of the
 * trainable weights) is saved in checkpoints, so use it with LoRA (an adapter-sized copy).
 */
export function lisaTerm(opts: LisaOptions): TrainingTerm & { anchor(): Map<string, Float32Array> | null } {
  if (opts.alignment.length === 0) throw new Error('Lisa: the alignment data is empty');
  if (!(Number.isInteger(opts.alignSteps) && opts.alignSteps >= 1 && Number.isInteger(opts.userSteps) && opts.userSteps >= 1)) {
    throw new Error(`Lisa: phase lengths must be whole numbers of steps ≥ 1 (got ${opts.alignSteps} and ${opts.userSteps})`);
  }
  if (!(opts.rho >= 0)) throw new Error(`Lisa: ρ must be ≥ 0 (got ${opts.rho})`);
  let anchor: Map<string, Float32Array> | null = null;
  let anchorStep = -1;
  return {
    name: 'lisa',
    anchor: () => anchor,
    ownsStep: (step) => lisaPhase(step, opts) === 'alignment',
    async addToStep(ctx: TermContext, grads: Map<string, Float32Array>): Promise<number> {
      if (!anchor || (startsPhase(ctx.step, opts) && anchorStep !== ctx.step)) {
        anchor = new Map([...ctx.params].map(([k, v]) => [k, Float32Array.from(v)]));
        anchorStep = ctx.step;
      }
      let loss = 0;
      if (lisaPhase(ctx.step, opts) === 'alignment') {
        const n = Math.min(opts.batchSize ?? 4, opts.alignment.length);
        const picked = ctx.rng.shuffle([...opts.alignment.keys()]).slice(0, n);
        const batch = makeBatch(
          picked.map((i) => opts.alignment[i]!),
          { maxLength: opts.maxLength },
        );
        const ceWeight = batch.labelMask.map((m) => (batch.tokens ? m / batch.tokens : 0));
        const r = await ctx.run({ batch, ceWeight });
        for (const [k, g] of r.grads) {
          const a = grads.get(k)!;
          for (let i = 0; i < a.length; i++) a[i]! += g[i]!;
        }
        loss += r.loss;
      }
      if (opts.rho > 0) {
        let sq = 0;
        for (const [k, w] of ctx.params) {
          const w0 = anchor.get(k)!;
          const g = grads.get(k)!;
          for (let i = 0; i < w.length; i++) {
            const d = w[i]! - w0[i]!;
            g[i]! += opts.rho * d;
            sq += d * d;
          }
        }
        loss += (opts.rho / 2) * sq;
      }
      return loss;
    },
    saveState: () => ({ anchorStep, anchor: anchor ? Object.fromEntries([...anchor].map(([k, v]) => [k, toBase64(v)])) : null }),
    loadState(s: unknown) {
      const st = s as { anchorStep: number; anchor: Record<string, string> | null };
      anchorStep = st.anchorStep;
      anchor = st.anchor ? new Map(Object.entries(st.anchor).map(([k, v]) => [k, fromBase64(v)])) : null;
    },
  };
}
