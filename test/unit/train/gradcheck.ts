/** Finite-difference gradient checking for graphs with appended backward passes (test helper). */
import { addGradients } from '../../../src/main/engine/autodiff';
import { createSession, ort, type Graph, type Value } from '../../../src/main/engine/graph';
import { mulberry32 } from '../../../src/main/util/prng';

export type Feed = { data: Float64Array | Float32Array | BigInt64Array | Uint8Array; dims: number[] };

export function randn(n: number, r: () => number, scale = 1): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()) * scale);
  }
  return out;
}

function tensorOf(f: Feed): ort.Tensor {
  if (f.data instanceof Float64Array) return new ort.Tensor('float64', f.data, f.dims);
  if (f.data instanceof Float32Array) return new ort.Tensor('float32', f.data, f.dims);
  if (f.data instanceof BigInt64Array) return new ort.Tensor('int64', f.data, f.dims);
  return new ort.Tensor('bool', f.data, f.dims);
}

/** loss = Σ y · R with a fixed random R (so every output element gets a distinct weight) */
export function projectLoss(g: Graph, y: Value, seed = 7): Value {
  if (!y.shape || y.shape.some((d) => typeof d !== 'number')) throw new Error('projectLoss needs a static shape');
  const dims = y.shape as number[];
  const n = dims.reduce((a, b) => a * b, 1);
  const vals = randn(n, mulberry32(seed));
  const R =
    y.dtype === 'float64'
      ? g.initializer(g.uniqueName('R'), Float64Array.from(vals), dims, 'float64')
      : g.initializer(g.uniqueName('R'), Float32Array.from(vals), dims, 'float32');
  return g.op('ReduceSum', [g.mul(y, R)], { keepdims: 0 });
}

export interface GradCheckResult {
  /** per differentiated input: max |analytic - numeric| / max(|numeric|, floor) */
  errors: Record<string, number>;
  worst: number;
  loss: number;
}

/**
 * Append gradients of `loss` w.r.t. `wrt`, then compare them with central differences of the
 * loss in `feeds` (only the `wrt` feeds are perturbed). Checks at most `maxPerInput` elements per input.
 */
export async function gradCheck(
  g: Graph,
  loss: Value,
  wrt: string[],
  feeds: Record<string, Feed>,
  opts: { eps?: number; maxPerInput?: number; floor?: number } = {},
): Promise<GradCheckResult> {
  const grads = addGradients(g, loss, wrt);
  g.output(loss, 'loss__');
  for (const w of wrt) g.output(grads.get(w)!, `grad__${w}`);
  const sess = await createSession(g.build(), { intraOpThreads: 1 });
  const run = async (f: Record<string, Feed>) => {
    const t: Record<string, ort.Tensor> = {};
    for (const [k, v] of Object.entries(f)) t[k] = tensorOf(v);
    return sess.run(t);
  };
  const base = await run(feeds);
  const eps = opts.eps ?? 1e-6;
  const errors: Record<string, number> = {};
  let worst = 0;
  for (const w of wrt) {
    const an = base[`grad__${w}`]!.data as Float64Array | Float32Array;
    const f = feeds[w]!;
    const data = f.data as Float64Array | Float32Array;
    const n = Math.min(data.length, opts.maxPerInput ?? 64);
    const stride = Math.max(1, Math.floor(data.length / n));
    let num = 0;
    let den = opts.floor ?? 1e-3;
    for (let i = 0; i < data.length; i += stride) {
      const orig = data[i]!;
      const copy = data.slice() as Float64Array | Float32Array;
      copy[i] = orig + eps;
      const lp = Number((await run({ ...feeds, [w]: { data: copy, dims: f.dims } }))['loss__']!.data[0]);
      copy[i] = orig - eps;
      const lm = Number((await run({ ...feeds, [w]: { data: copy, dims: f.dims } }))['loss__']!.data[0]);
      const nd = (lp - lm) / (2 * eps);
      num = Math.max(num, Math.abs(nd - an[i]!));
      den = Math.max(den, Math.abs(nd));
    }
    errors[w] = num / den;
    worst = Math.max(worst, errors[w]!);
  }
  await sess.release();
  return { errors, worst, loss: Number(base['loss__']!.data[0]) };
}
