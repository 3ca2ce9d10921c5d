/**
 * Safety-data samplers (RESEARCH.md §1): Random, SSS, PSS, Cossim and the -B variants (T1 only).
 * Pure and deterministic: the same pool, options and seed give the same selection.
 */
import type { CommonOptions, SelectionPool, SelectionResult } from './common';
import { type CossimReference, cossimScores, selectCossim } from './cossim';
import { pssPrecompute, selectPSS } from './pss';
import { selectRandom } from './random';
import { selectSSS } from './sss';

export * from './common';
export { selectCossim, cossimScores, cossimGroups, type CossimReference, type CossimOptions } from './cossim';
export { selectPSS, pssPrecompute, type PSSOptions, type PSSPrecomputed } from './pss';
export { selectRandom } from './random';
export { selectSSS } from './sss';
export * from './export';

export const SELECTION_METHODS = ['random', 'sss', 'pss', 'cossim', 'sss-b', 'pss-b', 'cossim-b'] as const;
export type SelectionMethod = (typeof SELECTION_METHODS)[number];

export interface SelectOptions extends CommonOptions {
  method: SelectionMethod;
  /** Cossim / Cossim-B only. */
  reference?: CossimReference;
}

export function select(pool: SelectionPool, opts: SelectOptions): SelectionResult {
  const t1Only = opts.method.endsWith('-b');
  switch (opts.method) {
    case 'random':
      return selectRandom(pool, opts);
    case 'sss':
    case 'sss-b':
      return selectSSS(pool, { ...opts, t1Only });
    case 'pss':
    case 'pss-b':
      return selectPSS(pool, { ...opts, t1Only });
    case 'cossim':
    case 'cossim-b':
      if (!opts.reference) throw new Error(`${opts.method} needs a reference (category centroids or the task centroid)`);
      return selectCossim(pool, { ...opts, t1Only, reference: opts.reference });
  }
}

/**
 * select(), with the heavy matrix products of PSS (prototypes, similarities) and Cossim (pool ×
 * reference scores) done by onnxruntime's MatMul: much faster for large pools than the JS loops,
 * and the same selection up to float32 rounding of near-equal scores.
 */
export async function selectAsync(pool: SelectionPool, opts: SelectOptions): Promise<SelectionResult> {
  if (opts.method === 'pss' || opts.method === 'pss-b') {
    const t1Only = opts.method === 'pss-b';
    const precomputed = await pssPrecompute(pool, { ...(opts.categories ? { categories: opts.categories } : {}), t1Only });
    return selectPSS(pool, { ...opts, t1Only, precomputed });
  }
  if (!opts.method.startsWith('cossim') || !opts.reference) return select(pool, opts);
  const scores = await cossimScores(pool, opts.reference, opts.categories);
  return selectCossim(pool, { ...opts, t1Only: opts.method.endsWith('-b'), reference: opts.reference, scores });
}
