/**
 * Shared pieces of the samplers: the pool representation (flat typed arrays, no per-record
 * objects), budgets, a documented seeded PRNG, and eligibility (category filter, T1 subset).
 */

import { mulberry32, randInt, shuffleInPlace } from '../util/prng';

export { mulberry32, randInt, shuffleInPlace };

/** Cossim's reference sets (./cossim.ts), defined here so that the samplers' inputs can name it without an import cycle. */
export type CossimReference =
  /** C × dim centroids aligned with `pool.categories` (all of them, in order). */
  | { kind: 'categories'; centroids: Float32Array }
  /** Mean of the task-data embeddings (dim). */
  | { kind: 'task'; centroid: Float32Array };

export type BehaviourCode = 0 | 1 | 2 | 3 | 4; // 0 unknown, 1..4 = T1..T4

/** The candidate pool: n records as column arrays. */
export interface SelectionPool {
  size: number;
  /** Category ids; bit c of labels[i] = record i has categories[c]. At most 32. */
  categories: readonly string[];
  labels: Uint32Array;
  /** Behaviour type per record: 1..4 for T1..T4, 0 unknown. Needed by the -B variants. */
  behaviour?: Uint8Array;
  /** n × dim unit-length rows. Needed by PSS and Cossim. */
  embeddings?: Float32Array;
  dim?: number;
}

export type Budget = { count: number } | { fraction: number; taskSize: number };

/** Budget → a record count: a count as given, or round(fraction × task-data size). */
export function budgetCount(b: Budget): number {
  const n = 'count' in b ? b.count : Math.round(b.fraction * b.taskSize);
  if (!Number.isFinite(n) || n < 0) throw new Error(`invalid budget ${JSON.stringify(b)}`);
  return Math.floor(n);
}

export interface CommonOptions {
  budget: Budget;
  seed?: number;
  /** Categories to stratify over (ids from pool.categories); default all. With a subset, records
   *  carrying none of them are not eligible. */
  categories?: readonly string[];
}

/** What a sampler is told: the common options, whether to keep T1 examples only, a reference for those that score against one, and its method's parameters. */
export interface SamplerOptions extends CommonOptions {
  t1Only: boolean;
  reference?: CossimReference;
  /** The method's own parameters (its row's schema, parsed). */
  params?: Readonly<Record<string, unknown>>;
}

/** One sampler (src/main/select/<name>.ts); the selection method table maps its rows onto these. */
export interface Sampler {
  /** The selection, computed in JS. */
  select(pool: SelectionPool, opts: SamplerOptions): SelectionResult;
  /** The same selection with the heavy matrix products in onnxruntime (faster on big pools); default: select. */
  selectAsync?(pool: SelectionPool, opts: SamplerOptions): Promise<SelectionResult>;
}

export interface SelectedItem {
  index: number;
  /** 'stratum': taken for a category; 'fill': taken to complete the budget. */
  phase: 'stratum' | 'fill';
  /** The category it was taken for (stratum phase). */
  category: string | null;
  /** Similarity used to rank it (PSS: to the prototype; Cossim: mean cosine), if any. */
  score: number | null;
}

export interface SelectionResult {
  method: string;
  seed: number;
  /** Requested count. */
  budget: number;
  /** Selected pool indices, in selection order; no duplicates. */
  indices: Int32Array;
  items: SelectedItem[];
  /** Eligible pool size (after category and -B filters). */
  eligible: number;
  /** budget - selected (> 0 when the eligible pool is smaller than the budget). */
  shortfall: number;
  /** Per category id: selected records carrying that category (multi-label records count for each). */
  perCategory: Record<string, number>;
  /** Categories used for stratification, in the order they were processed. */
  strata: string[];
  /** k per stratum. */
  perStratum: number;
}

export function categoryMask(pool: SelectionPool, categories?: readonly string[]): { mask: number; ids: number[] } {
  if (pool.categories.length > 32) throw new Error('at most 32 categories');
  if (!categories) return { mask: pool.categories.length === 32 ? 0xffffffff : (1 << pool.categories.length) - 1, ids: pool.categories.map((_, i) => i) };
  const ids = categories.map((c) => {
    const i = pool.categories.indexOf(c);
    if (i < 0) throw new Error(`unknown category "${c}" (pool has ${pool.categories.join(', ')})`);
    return i;
  });
  return { mask: ids.reduce((m, i) => (m | (1 << i)) >>> 0, 0), ids };
}

/** Eligible record indices: with a category subset, records carrying one of them; -B: T1 only. */
export function eligibleIndices(pool: SelectionPool, opts: { categories?: readonly string[]; t1Only?: boolean }): Int32Array {
  const { mask } = categoryMask(pool, opts.categories);
  if (opts.t1Only && !pool.behaviour) throw new Error('the -B variants need behaviour types (T1–T4) for the pool');
  const out: number[] = [];
  for (let i = 0; i < pool.size; i++) {
    if (opts.categories && !(pool.labels[i]! & mask)) continue;
    if (opts.t1Only && pool.behaviour![i] !== 1) continue;
    out.push(i);
  }
  return Int32Array.from(out);
}

/** Members of each category among `eligible` (category index → record indices, ascending). */
export function membersByCategory(pool: SelectionPool, eligible: Int32Array, catIds: number[]): Map<number, Int32Array> {
  let mask = 0;
  for (const c of catIds) mask = (mask | (1 << c)) >>> 0;
  const counts = new Int32Array(32);
  for (let k = 0; k < eligible.length; k++) {
    let lab = pool.labels[eligible[k]!]! & mask;
    while (lab) {
      counts[31 - Math.clz32(lab & -lab)]!++;
      lab &= lab - 1;
    }
  }
  const lists = new Map<number, Int32Array>(catIds.map((c) => [c, new Int32Array(counts[c]!)]));
  const fill = new Int32Array(32);
  for (let k = 0; k < eligible.length; k++) {
    const i = eligible[k]!;
    let lab = pool.labels[i]! & mask;
    while (lab) {
      const c = 31 - Math.clz32(lab & -lab);
      lists.get(c)![fill[c]!++] = i;
      lab &= lab - 1;
    }
  }
  return lists;
}

/** Collects picks without duplicates and builds the result. */
export class Picker {
  readonly chosen: Uint8Array;
  readonly items: SelectedItem[] = [];
  constructor(
    readonly pool: SelectionPool,
    readonly budget: number,
  ) {
    this.chosen = new Uint8Array(pool.size);
  }
  get full(): boolean {
    return this.items.length >= this.budget;
  }
  take(index: number, phase: SelectedItem['phase'], category: string | null, score: number | null): boolean {
    if (this.chosen[index] || this.full) return false;
    this.chosen[index] = 1;
    this.items.push({ index, phase, category, score });
    return true;
  }
  /** Fill the rest uniformly at random from `eligible` (partial Fisher–Yates over the unchosen). */
  fillRandom(eligible: Int32Array, rng: () => number): void {
    const rest: number[] = [];
    for (const i of eligible) if (!this.chosen[i]) rest.push(i);
    const need = Math.min(this.budget - this.items.length, rest.length);
    for (let t = 0; t < need; t++) {
      const j = t + randInt(rng, rest.length - t);
      const v = rest[j]!;
      rest[j] = rest[t]!;
      rest[t] = v;
      this.take(v, 'fill', null, null);
    }
  }
  result(method: string, seed: number, eligible: number, strata: string[], perStratum: number): SelectionResult {
    const perCategory: Record<string, number> = Object.fromEntries(this.pool.categories.map((c) => [c, 0]));
    for (const it of this.items) {
      const lab = this.pool.labels[it.index]!;
      this.pool.categories.forEach((c, k) => {
        if (lab & (1 << k)) perCategory[c]!++;
      });
    }
    return {
      method,
      seed,
      budget: this.budget,
      indices: Int32Array.from(this.items.map((i) => i.index)),
      items: this.items,
      eligible,
      shortfall: this.budget - this.items.length,
      perCategory,
      strata,
      perStratum,
    };
  }
}

/**
 * Categories to stratify over, smallest first (by eligible members; ties in pool order), keeping
 * only those with at least one eligible member; k = floor(N / their number).
 */
export function strata(
  pool: SelectionPool,
  eligible: Int32Array,
  categories: readonly string[] | undefined,
  n: number,
): { order: number[]; members: Map<number, Int32Array>; k: number } {
  const { ids } = categoryMask(pool, categories);
  const members = membersByCategory(pool, eligible, ids);
  const order = ids.filter((c) => members.get(c)!.length > 0).sort((a, b) => members.get(a)!.length - members.get(b)!.length || a - b);
  const k = order.length ? Math.floor(n / order.length) : 0;
  return { order, members, k };
}

/** Build a pool from per-record category ids and behaviour types (T1..T4 or null). */
export function poolFromRecords(
  records: ReadonlyArray<{ categories: readonly string[]; behaviour?: 'T1' | 'T2' | 'T3' | 'T4' | null }>,
  categories: readonly string[],
  embeddings?: { data: Float32Array; dim: number },
): SelectionPool {
  const idx = new Map(categories.map((c, i) => [c, i]));
  if (categories.length > 32) throw new Error('at most 32 categories');
  const labels = new Uint32Array(records.length);
  const behaviour = new Uint8Array(records.length);
  let anyBehaviour = false;
  records.forEach((r, i) => {
    let m = 0;
    for (const c of r.categories) {
      const k = idx.get(c);
      if (k === undefined) throw new Error(`record ${i}: unknown category "${c}"`);
      m |= 1 << k;
    }
    labels[i] = m >>> 0;
    if (r.behaviour) {
      behaviour[i] = Number(r.behaviour.slice(1));
      anyBehaviour = true;
    }
  });
  if (embeddings && embeddings.data.length !== records.length * embeddings.dim)
    throw new Error(`embeddings: expected ${records.length} × ${embeddings.dim} values`);
  return {
    size: records.length,
    categories,
    labels,
    ...(anyBehaviour ? { behaviour } : {}),
    ...(embeddings ? { embeddings: embeddings.data, dim: embeddings.dim } : {}),
  };
}
