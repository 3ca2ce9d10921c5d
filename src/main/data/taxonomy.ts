/**
 * Harm taxonomy: BeaverTails' 14 categories are canonical (ids exactly as BeaverTails writes them,
 * e.g. "controversial_topics,politics"); mappings to HarmBench's 7 semantic categories and to
 * Llama Guard 3 / MLCommons S1–S14, both ways. Versioned in resources/taxonomy/harm-taxonomy.v1.json.
 */
import { z } from 'zod';
import v1Json from '../../../resources/taxonomy/harm-taxonomy.v1.json';
import { parseOrThrow } from './zodUtil';

export const HarmCategoryDef = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  referenceFile: z.string().regex(/\.txt$/),
  harmbench: z.array(z.string()),
  llamaGuard3: z.array(z.string()),
});
export type HarmCategoryDef = z.infer<typeof HarmCategoryDef>;

const TargetDef = z.object({ id: z.string().min(1), name: z.string().min(1) });

export const HarmTaxonomyFile = z
  .object({
    id: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    description: z.string(),
    canonical: z.literal('beavertails'),
    categories: z.array(HarmCategoryDef).length(14),
    harmbench: z.array(TargetDef).length(7),
    llamaGuard3: z.array(TargetDef).length(14),
  })
  .superRefine((t, ctx) => {
    const uniq = (xs: string[], what: string) => {
      const seen = new Set<string>();
      for (const x of xs) {
        if (seen.has(x)) ctx.addIssue({ code: 'custom', message: `duplicate ${what} "${x}"` });
        seen.add(x);
      }
      return seen;
    };
    uniq(
      t.categories.map((c) => c.id),
      'category id',
    );
    uniq(
      t.categories.map((c) => c.referenceFile),
      'reference file',
    );
    const hb = uniq(
      t.harmbench.map((c) => c.id),
      'HarmBench id',
    );
    const lg = uniq(
      t.llamaGuard3.map((c) => c.id),
      'Llama Guard id',
    );
    for (const c of t.categories) {
      for (const h of c.harmbench) if (!hb.has(h)) ctx.addIssue({ code: 'custom', message: `${c.id}: unknown HarmBench category "${h}"` });
      for (const l of c.llamaGuard3) if (!lg.has(l)) ctx.addIssue({ code: 'custom', message: `${c.id}: unknown Llama Guard category "${l}"` });
    }
  });
export type HarmTaxonomyFile = z.infer<typeof HarmTaxonomyFile>;

export type TaxonomyScheme = 'beavertails' | 'harmbench' | 'llamaGuard3';

/** Fold a category name for lenient lookup: lower case, every non-alphanumeric run to "_". */
function fold(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_|_$/g, '');
}

export class HarmTaxonomy {
  readonly file: HarmTaxonomyFile;
  /** `${id}@${version}` */
  readonly version: string;
  /** Canonical ids in file order (index = category index used by samplers). */
  readonly ids: readonly string[];
  private readonly byFold = new Map<string, string>();
  private readonly byId = new Map<string, HarmCategoryDef>();

  constructor(json: unknown) {
    this.file = parseOrThrow(HarmTaxonomyFile, json, 'harm taxonomy');
    this.version = `${this.file.id}@${this.file.version}`;
    this.ids = this.file.categories.map((c) => c.id);
    for (const c of this.file.categories) {
      this.byId.set(c.id, c);
      for (const alias of [c.id, c.name, c.referenceFile.replace(/\.txt$/, ''), c.referenceFile.replace(/^beavertails_|\.txt$/g, '')]) {
        this.byFold.set(fold(alias), c.id);
      }
    }
  }

  get categories(): readonly HarmCategoryDef[] {
    return this.file.categories;
  }

  category(id: string): HarmCategoryDef {
    const c = this.byId.get(id);
    if (!c) throw new Error(`unknown harm category "${id}"`);
    return c;
  }

  indexOf(id: string): number {
    return this.ids.indexOf(id);
  }

  /**
   * Resolve a loosely written BeaverTails category (id, display name, reference file name, with
   * commas/underscores/spaces/case in any mix) to its canonical id, or null.
   */
  resolve(name: string): string | null {
    return this.byFold.get(fold(name)) ?? null;
  }

  /** BeaverTails ids → target scheme ids (deduplicated, in target file order). */
  toScheme(ids: readonly string[], scheme: Exclude<TaxonomyScheme, 'beavertails'>): string[] {
    const hit = new Set<string>();
    for (const id of ids) for (const t of this.category(id)[scheme]) hit.add(t);
    return this.file[scheme].map((t) => t.id).filter((t) => hit.has(t));
  }

  /** Target scheme ids → the BeaverTails ids that map to any of them (canonical order). */
  fromScheme(targets: readonly string[], scheme: Exclude<TaxonomyScheme, 'beavertails'>): string[] {
    const known = new Set(this.file[scheme].map((t) => t.id));
    for (const t of targets) if (!known.has(t)) throw new Error(`unknown ${scheme} category "${t}"`);
    const want = new Set(targets);
    return this.file.categories.filter((c) => c[scheme].some((t) => want.has(t))).map((c) => c.id);
  }

  toHarmBench(ids: readonly string[]): string[] {
    return this.toScheme(ids, 'harmbench');
  }
  fromHarmBench(targets: readonly string[]): string[] {
    return this.fromScheme(targets, 'harmbench');
  }
  toLlamaGuard3(ids: readonly string[]): string[] {
    return this.toScheme(ids, 'llamaGuard3');
  }
  fromLlamaGuard3(targets: readonly string[]): string[] {
    return this.fromScheme(targets, 'llamaGuard3');
  }
}

let bundled: HarmTaxonomy | null = null;

/** The bundled taxonomy (validated once). */
export function getHarmTaxonomy(): HarmTaxonomy {
  bundled ??= new HarmTaxonomy(v1Json);
  return bundled;
}

/** The 14 canonical BeaverTails ids, in taxonomy order. */
export function beavertailsIds(): readonly string[] {
  return getHarmTaxonomy().ids;
}
