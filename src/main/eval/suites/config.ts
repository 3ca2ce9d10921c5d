/**
 * The built-in suite definitions (resources/eval/suites.v1.json): where each built-in suite's file
 * lives under a data folder and which format reads it, the task suites' prompt templates, and the
 * Safety-Tuned LLaMAs files' expected behaviour and harm categories. Checked once on first use.
 */
import { z } from 'zod';
import suitesJson from '../../../../resources/eval/suites.v1.json';
import { SuiteKind } from '../../../shared/methods/judges';
import { SuiteFormat } from '../../../shared/methods/suites';
import { getHarmTaxonomy } from '../../data/taxonomy';
import { parseOrThrow } from '../../data/zodUtil';

const SuitesFile = z.object({
  id: z.string(),
  version: z.string(),
  description: z.string(),
  builtin: z.array(
    z.object({
      id: z.string(),
      kind: SuiteKind,
      loader: SuiteFormat,
      path: z.string(),
      title: z.string(),
    }),
  ),
  templates: z.object({ gsm8k: z.string(), sst2: z.string(), humaneval: z.string() }),
  stl: z.object({
    files: z.record(z.string(), z.object({ expected: z.enum(['refuse', 'comply']), categories: z.array(z.string()), note: z.string().optional() })),
    tags: z.record(z.string(), z.array(z.string())),
  }),
});
export type SuitesFile = z.infer<typeof SuitesFile>;

let suitesConfig: SuitesFile | null = null;
export function getSuitesConfig(): SuitesFile {
  if (!suitesConfig) {
    const cfg = parseOrThrow(SuitesFile, suitesJson, 'eval suites');
    const tax = getHarmTaxonomy();
    const check = (ids: string[], where: string) => {
      for (const id of ids) if (!tax.ids.includes(id)) throw new Error(`eval suites: ${where}: unknown BeaverTails category "${id}"`);
    };
    for (const [k, f] of Object.entries(cfg.stl.files)) check(f.categories, `stl.files.${k}`);
    for (const [k, c] of Object.entries(cfg.stl.tags)) check(c, `stl.tags.${k}`);
    suitesConfig = cfg;
  }
  return suitesConfig;
}

/** `${id}@${version}` of the suite definitions, recorded as part of every loader id. */
export function suitesVersion(): string {
  const c = getSuitesConfig();
  return `${c.id}@${c.version}`;
}
