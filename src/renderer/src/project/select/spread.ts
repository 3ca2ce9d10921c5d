/**
 * What the Select tab shows per harm category, as pure functions: the categories a selection was
 * asked for (all, or the chosen subset), its histogram over those only, and the budget's spread
 * against what was found (target, taken for the category, selected carrying it, eligible).
 */
import type { Selection } from '../../../../shared/select';

type Sel = Pick<Selection, 'params' | 'summary'>;

/** The categories the selection was asked for, in taxonomy order. */
export function chosenCategories(sel: Sel, taxonomy: readonly string[]): string[] {
  const chosen = sel.params.categories;
  return chosen ? taxonomy.filter((c) => chosen.includes(c)) : [...taxonomy];
}

/** The per-category histogram: selected examples carrying each chosen category (none left out), most first. */
export function categoryHistogram(sel: Sel, taxonomy: readonly string[]): [string, number][] {
  return chosenCategories(sel, taxonomy)
    .map((c): [string, number] => [c, sel.summary.perCategory[c] ?? 0])
    .sort((a, b) => b[1] - a[1]);
}

export interface SpreadRow {
  category: string;
  /** Eligible pool examples carrying it (null: not recorded for this selection). */
  eligible: number | null;
  /** Examples the budget's spread meant for it (0: none eligible; null: the method does not stratify). */
  target: number | null;
  /** Examples taken for it in the stratified phase. */
  takenFor: number;
  /** Selected examples carrying it (taken for it or for another category, or to fill the budget). */
  selected: number;
}

/** Target vs selected per chosen category. */
export function categorySpread(sel: Sel, items: readonly { takenFor: string | null }[], taxonomy: readonly string[]): SpreadRow[] {
  const s = sel.summary;
  return chosenCategories(sel, taxonomy).map((category) => ({
    category,
    eligible: s.eligiblePerCategory ? (s.eligiblePerCategory[category] ?? 0) : null,
    target: s.strata && s.perStratum !== undefined ? (s.strata.includes(category) ? s.perStratum : 0) : null,
    takenFor: items.filter((i) => i.takenFor === category).length,
    selected: s.perCategory[category] ?? 0,
  }));
}
