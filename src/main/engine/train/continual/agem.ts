/** A-GEM: project the task gradient when it conflicts with the gradient on a reference (safety) batch. */
import { makeBatch, type TrainExample } from '../data';
import type { TrainingTerm } from '../trainer';

/**
 * In place: if g·g_ref < 0, g ← g − (g·g_ref / g_ref·g_ref) g_ref. Returns whether it projected
 * and the dot product before projection.
 */
export function agemProject(g: Float32Array[], gRef: Float32Array[]): { projected: boolean; dot: number } {
  if (g.length !== gRef.length) throw new Error('agemProject: gradient lists differ in length');
  let dot = 0;
  let rr = 0;
  g.forEach((a, k) => {
    const b = gRef[k]!;
    if (a.length !== b.length) throw new Error('agemProject: gradient shapes differ');
    for (let i = 0; i < a.length; i++) {
      dot += a[i]! * b[i]!;
      rr += b[i]! * b[i]!;
    }
  });
  if (dot >= 0 || rr === 0) return { projected: false, dot };
  const k = dot / rr;
  g.forEach((a, j) => {
    const b = gRef[j]!;
    for (let i = 0; i < a.length; i++) a[i] = a[i]! - k * b[i]!;
  });
  return { projected: true, dot };
}

export interface AgemOptions {
  /** reference memory (safety examples) */
  reference: TrainExample[];
  /** reference examples per step (default 4) */
  batchSize?: number;
  maxLength?: number;
}

/** A-GEM as a trainer term: each step, a reference batch's gradient (sampled with the trainer's RNG). */
export function agemTerm(opts: AgemOptions): TrainingTerm & { projections: number } {
  if (opts.reference.length === 0) throw new Error('A-GEM: the reference memory is empty');
  const term = {
    name: 'agem',
    projections: 0,
    async transformGradient(ctx: Parameters<NonNullable<TrainingTerm['transformGradient']>>[0], grads: Map<string, Float32Array>) {
      const n = Math.min(opts.batchSize ?? 4, opts.reference.length);
      const picked = ctx.rng.shuffle([...opts.reference.keys()]).slice(0, n);
      const batch = makeBatch(
        picked.map((i) => opts.reference[i]!),
        { maxLength: opts.maxLength },
      );
      const r = await ctx.run({ batch, ceWeight: batch.labelMask.map((m) => (batch.tokens ? m / batch.tokens : 0)), eval: true });
      const names = [...grads.keys()];
      const res = agemProject(
        names.map((k) => grads.get(k)!),
        names.map((k) => r.grads.get(k)!),
      );
      if (res.projected) term.projections++;
    },
    saveState: () => ({ projections: term.projections }),
    loadState: (s: unknown) => {
      term.projections = (s as { projections: number }).projections;
    },
  };
  return term;
}
