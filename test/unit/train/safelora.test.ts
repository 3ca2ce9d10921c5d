/**
 * SafeLoRA's projection of one LoRA module (src/main/engine/train/continual/safelora.ts) on tiny
 * tensors: with an alignment matrix V = u·vᵀ (unit u, v), an update along u is left alone, one
 * orthogonal to u is removed, and a mixed one under the threshold keeps exactly its u part.
 */
import { describe, expect, it } from 'vitest';
import { alignmentProjector, safeLoraModule } from '../../../src/main/engine/train/continual/safelora';

const f32 = (xs: number[]) => Float32Array.from(xs);
/** V = u·vᵀ, [u.length, v.length]. */
const outer = (u: number[], v: number[]) => f32(u.flatMap((x) => v.map((y) => x * y)));
const unit = (xs: number[]) => {
  const n = Math.hypot(...xs);
  return xs.map((x) => x / n);
};

describe('SafeLoRA projection', () => {
  const v = unit([3, 4]); // in = 2
  const a = f32([0.5, -1]); // r = 1
  const V = outer([1, 0, 0], v); // out = 3, aligned direction e0

  it('the projector is V·Vᵀ/‖V‖_F: e0·e0ᵀ for a unit rank-1 V; none for a zero V', () => {
    expect(Array.from(alignmentProjector(V, 3, 2)!)).toEqual([1, 0, 0, 0, 0, 0, 0, 0, 0].map((x) => expect.closeTo(x, 6)));
    expect(alignmentProjector(new Float32Array(6), 3, 2)).toBeNull();
    // scaled V: V·Vᵀ/‖V‖_F scales with ‖V‖_F (the paper's approximation, not an exact projector)
    expect(alignmentProjector(f32(Array.from(V, (x) => 2 * x)), 3, 2)![0]).toBeCloseTo(2, 6);
  });

  it('leaves an update along the aligned direction alone', () => {
    const r = safeLoraModule({ a, b: f32([2, 0, 0]), rank: 1 }, V, 3, 2, 0.5);
    expect(r.similarity).toBeCloseTo(1, 6);
    expect(r.projected).toBe(false);
    expect(Array.from(r.b)).toEqual([2, 0, 0]);
    // even when forced (threshold above 1) the projection changes nothing
    const forced = safeLoraModule({ a, b: f32([2, 0, 0]), rank: 1 }, V, 3, 2, 1.5);
    expect(forced.projected).toBe(true);
    expect(Array.from(forced.b).map((x) => Number(x.toFixed(6)))).toEqual([2, 0, 0]);
  });

  it('removes an update orthogonal to it', () => {
    const r = safeLoraModule({ a, b: f32([0, 3, -1]), rank: 1 }, V, 3, 2, 0.5);
    expect(r.similarity).toBe(0);
    expect(r.projected).toBe(true);
    expect(Array.from(r.b).map(Math.abs)).toEqual([0, 0, 0]);
  });

  it('a mixed update under the threshold keeps exactly its aligned part; over it, stays whole', () => {
    // B = e0 + 2·e1: C·ΔW = e0·A, cosine 1/√5 ≈ 0.447
    const r = safeLoraModule({ a, b: f32([1, 2, 0]), rank: 1 }, V, 3, 2, 0.5);
    expect(r.similarity).toBeCloseTo(1 / Math.sqrt(5), 6);
    expect(r.projected).toBe(true);
    expect(Array.from(r.b).map((x) => Number(x.toFixed(6)))).toEqual([1, 0, 0]);
    const kept = safeLoraModule({ a, b: f32([1, 2, 0]), rank: 1 }, V, 3, 2, 0.4);
    expect(kept.projected).toBe(false);
    expect(Array.from(kept.b)).toEqual([1, 2, 0]);
  });

  it('in any frame, rank 2: the aligned part of every column of B survives, the orthogonal part goes', () => {
    const u = unit([1, -2, 2, 4]); // out = 4
    const w = unit([2, 1, 0, 0]); // w ⊥ u
    expect(u.reduce((s, x, i) => s + x * w[i]!, 0)).toBeCloseTo(0, 12);
    const Vr = outer(u, unit([1, 1, -1])); // in = 3
    // B [4, 2]: column 0 = 0.5u + 3w, column 1 = -u + 2w
    const b = f32(u.flatMap((ui, i) => [0.5 * ui + 3 * w[i]!, -ui + 2 * w[i]!]));
    const r = safeLoraModule({ a: f32([1, 0, 2, 0, 1, -1]), b, rank: 2 }, Vr, 4, 3, 0.5);
    expect(r.projected).toBe(true);
    const want = u.flatMap((ui) => [0.5 * ui, -ui]);
    Array.from(r.b).forEach((x, i) => expect(x).toBeCloseTo(want[i]!, 5));
  });

  it('refuses a module whose shapes do not match the weight', () => {
    expect(() => safeLoraModule({ a, b: f32([1, 2]), rank: 1 }, V, 3, 2, 0.5)).toThrow(/the weight is \[3, 2\]/);
  });
});
