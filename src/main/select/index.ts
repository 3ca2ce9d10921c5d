/**
 * Safety-data samplers (RESEARCH.md §1): Random, SSS, PSS, Cossim; each row of the shared
 * selection method table (src/shared/methods/select.ts) maps onto one of them — the -B variants are
 * rows with `t1Only`. `satisfies` makes a row without a sampler a compile error.
 * Pure and deterministic: the same pool, options and seed give the same selection.
 */
import { SELECTION_METHODS, type SelectionMethod, type SelectionMethodTable } from '../../shared/select';
import type { CommonOptions, Sampler, SelectionPool, SelectionResult } from './common';
import { type CossimReference, cossimSampler } from './cossim';
import { pssSampler } from './pss';
import { randomSampler } from './random';
import { sssSampler } from './sss';

export * from './common';
export { selectCossim, cossimScores, cossimGroups, cossimSampler, type CossimReference, type CossimOptions } from './cossim';
export { selectPSS, pssPrecompute, pssSampler, type PSSOptions, type PSSPrecomputed } from './pss';
export { selectRandom, randomSampler } from './random';
export { selectSSS, sssSampler } from './sss';
export * from './export';

export const SELECTION_SAMPLERS = {
  random: randomSampler,
  sss: sssSampler,
  pss: pssSampler,
  cossim: cossimSampler,
  'sss-b': sssSampler,
  'pss-b': pssSampler,
  'cossim-b': cossimSampler,
} satisfies Record<SelectionMethod, Sampler>;

/** A method table and the samplers of its rows (tests extend both). */
export interface SelectionRegistry {
  methods: SelectionMethodTable;
  samplers: Readonly<Record<string, Sampler>>;
}

export const SHIPPED_SELECTION: SelectionRegistry = { methods: SELECTION_METHODS, samplers: SELECTION_SAMPLERS };

export interface SelectOptions extends CommonOptions {
  /** A method id of the table. */
  method: string;
  /** Methods that score against a reference (Cossim / Cossim-B). */
  reference?: CossimReference;
  /** The method's own parameters (its row's schema, parsed). */
  params?: Readonly<Record<string, unknown>>;
}

function sampler(opts: SelectOptions, registry: SelectionRegistry): { sampler: Sampler; t1Only: boolean } {
  const row = registry.methods[opts.method];
  const s = registry.samplers[opts.method];
  if (!row || !s) throw new Error(`unknown selection method "${opts.method}" (have: ${Object.keys(registry.methods).join(', ')})`);
  return { sampler: s, t1Only: row.t1Only };
}

export function select(pool: SelectionPool, opts: SelectOptions, registry: SelectionRegistry = SHIPPED_SELECTION): SelectionResult {
  const { sampler: s, t1Only } = sampler(opts, registry);
  return { ...s.select(pool, { ...opts, t1Only }), method: opts.method };
}

/**
 * select(), with the heavy matrix products of PSS (prototypes, similarities) and Cossim (pool ×
 * reference scores) done by onnxruntime's MatMul: much faster for large pools than the JS loops,
 * and the same selection up to float32 rounding of near-equal scores.
 */
export async function selectAsync(pool: SelectionPool, opts: SelectOptions, registry: SelectionRegistry = SHIPPED_SELECTION): Promise<SelectionResult> {
  const { sampler: s, t1Only } = sampler(opts, registry);
  const result = s.selectAsync ? await s.selectAsync(pool, { ...opts, t1Only }) : s.select(pool, { ...opts, t1Only });
  return { ...result, method: opts.method };
}
