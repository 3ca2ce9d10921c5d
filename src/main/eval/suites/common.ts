/**
 * What the suite loaders share: SuiteFormatError (a required column or field is missing), the
 * table reader with it (src/main/data/readers' readTable), cell helpers, harm category names
 * resolved to canonical BeaverTails ids through the taxonomy (src/main/data/taxonomy), and
 * makeSuite, which gives item ids their uniqueness and the loader id its definitions' version.
 */
import { MissingColumnError, type TableReadOptions, type TableRow, readTable } from '../../data/readers';
import { getHarmTaxonomy } from '../../data/taxonomy';
import type { Suite, SuiteIssue, SuiteItem, SuiteKind } from '../types';
import { suitesVersion } from './config';

/** A required column/field is missing: names file, line and column. */
export class SuiteFormatError extends Error {
  constructor(
    readonly file: string,
    readonly line: number | null,
    readonly column: string,
    detail: string,
  ) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${detail}`);
    this.name = 'SuiteFormatError';
  }
}

/**
 * All rows of a suite file (see readTable); a missing required column throws SuiteFormatError
 * naming file, line and column, and unreadable rows go to `issues`.
 */
export async function readSuiteTable(file: string, issues: SuiteIssue[], opts: TableReadOptions): Promise<{ rows: TableRow[]; columns: string[] }> {
  try {
    return await readTable(file, issues, opts);
  } catch (e) {
    if (e instanceof MissingColumnError) throw new SuiteFormatError(e.file, e.line, e.column, e.detail);
    throw e;
  }
}

/** A cell as text: '' for null/undefined, JSON for objects and arrays. */
export function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** The suite of a loader's items; `loader` ("name@version") is recorded with the definitions' version. */
export function makeSuite(
  id: string,
  kind: SuiteKind,
  title: string,
  loader: string,
  files: string[],
  items: SuiteItem[],
  issues: SuiteIssue[],
  extra: Partial<Suite> = {},
): Suite {
  // Ids must be unique: later duplicates get a "#n" suffix and an issue.
  const seen = new Map<string, number>();
  for (const it of items) {
    const n = seen.get(it.id) ?? 0;
    seen.set(it.id, n + 1);
    if (n > 0) {
      issues.push({ file: it.source.file, line: it.source.line, row: -1, reason: `duplicate item id "${it.id}": renamed "${it.id}#${n + 1}"` });
      it.id = `${it.id}#${n + 1}`;
    }
  }
  return { id, kind, title, loader: `${loader}|${suitesVersion()}`, files, items, issues, notes: [], ...extra };
}

/** Records a row skipped for an empty prompt (or `what`). */
export function emptyPrompt(issues: SuiteIssue[], file: string, r: TableRow, what = 'prompt') {
  issues.push({ file, line: r.line, row: r.row, reason: `empty ${what}: skipped` });
}

/** Resolve category names (BeaverTails ids/names, HarmBench ids, S-codes) to BeaverTails ids. */
export function resolveCategories(names: readonly string[]): string[] {
  const tax = getHarmTaxonomy();
  const out = new Set<string>();
  const hb = new Set(tax.file.harmbench.map((h) => h.id));
  const lg = new Set(tax.file.llamaGuard3.map((h) => h.id));
  for (const raw of names) {
    const n = raw.trim();
    if (!n) continue;
    const bt = tax.resolve(n);
    if (bt) {
      out.add(bt);
      continue;
    }
    const folded = n
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '');
    if (hb.has(folded)) for (const c of tax.fromHarmBench([folded])) out.add(c);
    else if (lg.has(n.toUpperCase())) for (const c of tax.fromLlamaGuard3([n.toUpperCase()])) out.add(c);
  }
  return tax.ids.filter((id) => out.has(id));
}

/** Split a category cell: an array, an object of booleans, or one name / "a;b" / "a|b" list. */
export function categoryNames(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.map(str).filter(Boolean);
  if (typeof v === 'object')
    return Object.entries(v as Record<string, unknown>)
      .filter(([, b]) => b === true || b === 1 || b === 'true')
      .map(([k]) => k);
  const s = str(v).trim();
  // BeaverTails ids contain commas ("drug_abuse,weapons,banned_substance"): try the whole cell first.
  if (getHarmTaxonomy().resolve(s)) return [s];
  return s
    .split(/[;|]/)
    .map((x) => x.trim())
    .filter(Boolean);
}
