/**
 * Harm categories named on the command line. Six of the fourteen BeaverTails ids contain commas
 * ("controversial_topics,politics"), so a comma cannot separate them: `--category` is repeatable,
 * and `--categories` takes a list separated by ";" or "|". Each entry may be an id or the name the
 * app shows ("Controversial topics, politics"), in any case; a plain comma-separated list of ids
 * is still read when it splits into known categories in exactly one way.
 */
import { AppError } from '../../shared/errors';
import type { HarmTaxonomy } from '../data/taxonomy';

/** Every way `text` splits at commas into known categories (at most two are needed to call it ambiguous). */
function commaSplits(text: string, tax: HarmTaxonomy, limit = 2): string[][] {
  const parts = text.split(',');
  const out: string[][] = [];
  const walk = (from: number, acc: string[]) => {
    if (out.length >= limit) return;
    if (from === parts.length) {
      out.push(acc);
      return;
    }
    for (let to = from + 1; to <= parts.length; to++) {
      const id = tax.resolve(parts.slice(from, to).join(','));
      if (id) walk(to, [...acc, id]);
    }
  };
  walk(0, []);
  return out;
}

function unknown(entry: string, tax: HarmTaxonomy): AppError {
  const valid = tax.categories.map((c) => `  ${c.id}  (${c.name})`).join('\n');
  return new AppError(
    'invalid_input',
    `unknown harm category "${entry}"; give one per --category, or separate them with ";" in --categories (ids contain commas). Valid categories:\n${valid}`,
  );
}

/** The categories named by `--category` (repeatable) and `--categories a;b`, as canonical ids in the order given; undefined when none. */
export function parseCategoryOptions(tax: HarmTaxonomy, single: readonly string[] | undefined, list: string | undefined): string[] | undefined {
  const ids: string[] = [];
  for (const entry of single ?? []) {
    const id = tax.resolve(entry);
    if (!id) throw unknown(entry, tax);
    ids.push(id);
  }
  for (const raw of (list ?? '').split(/[;|]/)) {
    const entry = raw.trim();
    if (!entry) continue;
    const id = tax.resolve(entry);
    if (id) {
      ids.push(id);
      continue;
    }
    const splits = commaSplits(entry, tax);
    if (splits.length !== 1) throw unknown(entry, tax);
    ids.push(...splits[0]!);
  }
  return ids.length ? [...new Set(ids)] : undefined;
}
