/**
 * The selection methods (RESEARCH.md §1): one row of facts per sampler variant — label, one line,
 * parameters, and what it needs: behaviour types (the -B variants keep T1 examples only), prompt
 * embeddings, a reference to score against. The `select.run` job schema, the `safetune select`
 * options and the Select form are derived from this table; the samplers are src/main/select.
 */
import type { z } from 'zod';
import { NO_PARAMS, methodEnum, type MethodRow, type MethodTable } from './table';

export interface SelectionMethodRow extends MethodRow {
  /** Keeps T1 examples (harmful prompt, refused) only: the pool needs behaviour types. */
  t1Only: boolean;
  /** Ranks by prompt embeddings: the pool is embedded first (built-in word vectors or a sentence encoder). */
  usesEmbeddings: boolean;
  /** Scores against a reference: per-category reference prompts, or the project's task data. */
  usesReference: boolean;
}

const PAPER = 'https://arxiv.org/abs/2505.17196';
const T1 = '; T1 examples only (harmful prompt, refused)';

const random = {
  label: 'Random',
  description: 'Uniformly at random from the pool',
  params: NO_PARAMS,
  t1Only: false,
  usesEmbeddings: false,
  usesReference: false,
};
const sss = {
  label: 'SSS',
  description: 'Stratified: the same number of examples from each harm category, at random',
  params: NO_PARAMS,
  t1Only: false,
  usesEmbeddings: false,
  usesReference: false,
  reference: PAPER,
};
const pss = {
  label: 'PSS',
  description: 'Prototypical: per harm category, the examples closest to its mean embedding',
  params: NO_PARAMS,
  t1Only: false,
  usesEmbeddings: true,
  usesReference: false,
  reference: PAPER,
};
const cossim = {
  label: 'Cossim',
  description: 'Similarity: per harm category, the examples most similar to reference prompts or to your task data',
  params: NO_PARAMS,
  t1Only: false,
  usesEmbeddings: true,
  usesReference: true,
  reference: PAPER,
};

/** The selection methods, in the order the form and the CLI list them. */
export const SELECTION_METHODS = {
  random,
  sss,
  pss,
  cossim,
  'sss-b': { ...sss, label: 'SSS-B', description: sss.description + T1, t1Only: true },
  'pss-b': { ...pss, label: 'PSS-B', description: pss.description + T1, t1Only: true },
  'cossim-b': { ...cossim, label: 'Cossim-B', description: cossim.description + T1, t1Only: true },
} as const satisfies MethodTable<SelectionMethodRow>;

export type SelectionMethodTable = MethodTable<SelectionMethodRow>;
export const SelectionMethod = methodEnum(SELECTION_METHODS);
export type SelectionMethod = z.infer<typeof SelectionMethod>;

/** What a selection method needs before it can run, in words (the Select form lists them). */
export function selectionMethodNeeds(row: SelectionMethodRow): string[] {
  const needs: string[] = [];
  if (row.t1Only) needs.push('behaviour types on the safety pool (analyse it in the Data tab)');
  if (row.usesEmbeddings) needs.push('prompt embeddings (the built-in word vectors, or a sentence encoder folder)');
  if (row.usesReference) needs.push('a reference: prompts per harm category (a folder, or the shipped centroids), or your task data');
  return needs;
}
