/**
 * Suite loaders: harmful prompt suites with harm categories (AdvBench, HarmBench-style CSV,
 * BeaverTails-style prompts, Safety-Tuned-LLaMAs JSON, a user's own CSV/JSONL), the XSTest
 * over-refusal suite, and task suites (GSM8K, SST-2, a user's own exact/regex/contains data).
 *
 * One file per suite format (its loader and its detection rule), one row per format in the shared
 * table (src/shared/methods/suites.ts) and its implementation in SUITE_FORMAT_IMPLS below. Row
 * files are read with the data readers' readTable (src/main/data/readers). A required column that
 * is missing throws SuiteFormatError naming file, line and column; empty prompts and malformed
 * rows are reported in `suite.issues` and skipped. Categories are resolved to canonical BeaverTails
 * ids through the harm taxonomy (src/main/data/taxonomy); the source's own names are kept too.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SUITE_FORMATS, type SuiteFormat } from '../../../shared/methods/suites';
import { detectContainer, readDelimitedHeader, readRows } from '../../data/readers';
import type { Suite, SuiteKind } from '../types';
import { advbench } from './advbench';
import { beavertails } from './beavertails';
import { SuiteFormatError } from './common';
import { getSuitesConfig } from './config';
import { custom, loadCustomSuite } from './custom';
import { gsm8k } from './gsm8k';
import { harmbench } from './harmbench';
import { humaneval } from './humaneval';
import { loadStlJson, stl } from './stl';
import { sst2 } from './sst2';
import { subsetSuite } from './subset';
import type { CustomSuiteOptions, SuiteFormatImpl, SuiteShape, TaskLoadOptions } from './types';
import { xstest } from './xstest';

export { loadAdvBench } from './advbench';
export { loadBeaverTails } from './beavertails';
export { SuiteFormatError, resolveCategories } from './common';
export { type SuitesFile, getSuitesConfig, suitesVersion } from './config';
export { loadCustomSuite } from './custom';
export { renderTemplate } from './fewShot';
export { loadGsm8k } from './gsm8k';
export { loadHarmBenchCsv } from './harmbench';
export { loadHumanEval } from './humaneval';
export { importedPromptsSuite } from './imported';
export { loadSst2 } from './sst2';
export { loadStlJson } from './stl';
export { subsetSuite } from './subset';
export type { CustomSuiteOptions, LoadOptions, SuiteFormatImpl, SuiteLoadOptions, TaskLoadOptions } from './types';
export { loadXSTest } from './xstest';
export type { SuiteFormat };

/** The implementation of every suite format; detection tries them in the shared table's order. */
export const SUITE_FORMAT_IMPLS = { stl, advbench, harmbench, xstest, sst2, gsm8k, humaneval, beavertails, custom } satisfies Record<
  SuiteFormat,
  SuiteFormatImpl
>;

const formatsInOrder = () => Object.keys(SUITE_FORMATS) as SuiteFormat[];

/**
 * A user's own suite file as the Evaluate form gives it: a Safety-Tuned LLaMAs JSON file
 * ({"instructions": [...]}, as the Data tab imports it) read as such, any other file as a custom
 * suite of the given kind.
 */
export async function loadUserSuiteFile(file: string, opts: CustomSuiteOptions): Promise<Suite> {
  if ((await detectSuiteFormat(file).catch(() => null))?.format === 'stl') {
    if (opts.kind === 'task')
      throw new SuiteFormatError(
        file,
        1,
        'instructions',
        'a Safety-Tuned LLaMAs file holds prompts without answers: choose harmful or benign prompts, not task prompts',
      );
    return loadStlJson(file, { ...(opts.id ? { id: opts.id } : {}), expected: opts.kind === 'harmful' ? 'refuse' : 'comply', signal: opts.signal });
  }
  return loadCustomSuite(file, opts);
}

// ---------------------------------------------------------------- built-ins

export function builtinSuites(): ReadonlyArray<{ id: string; kind: SuiteKind; path: string; title: string; loader: string }> {
  return getSuitesConfig().builtin;
}

/**
 * Load a built-in suite by id from a data folder laid out like ../shared/data
 * (e.g. `loadBuiltinSuite('xstest', '/work/shared/data')`).
 */
export async function loadBuiltinSuite(id: string, dataDir: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const def = getSuitesConfig().builtin.find((b) => b.id === id);
  if (!def)
    throw new Error(
      `unknown built-in suite "${id}" (have: ${builtinSuites()
        .map((b) => b.id)
        .join(', ')})`,
    );
  const path = join(dataDir, def.path);
  try {
    await stat(path);
  } catch {
    throw new Error(`suite "${id}": ${path} not found (expected ${def.path} under the data folder ${dataDir})`);
  }
  if (def.loader === 'custom') throw new Error(`suite "${id}": loader ${def.loader} needs explicit options; use loadCustomSuite`);
  return SUITE_FORMAT_IMPLS[def.loader].load(path, { ...opts, id: opts.id ?? def.id, title: opts.title ?? def.title });
}

// ---------------------------------------------------------------- one entry point (CLI / jobs)

/** The columns (CSV/TSV header, else the first object row's fields) and first row of a suite file. */
async function suiteShape(path: string, container: Awaited<ReturnType<typeof detectContainer>>): Promise<SuiteShape> {
  let first: Record<string, unknown> | null = null;
  let header: string[] = [];
  if (container === 'csv' || container === 'tsv') header = await readDelimitedHeader(path, container === 'csv' ? ',' : '\t');
  else {
    for await (const it of readRows(path, container)) {
      if (it.kind === 'row' && it.value && typeof it.value === 'object' && !Array.isArray(it.value)) {
        first = it.value as Record<string, unknown>;
        break;
      }
    }
  }
  const columns = header.length ? header : first ? Object.keys(first) : [];
  return { columns, first, has: (...c) => c.every((x) => columns.includes(x)) };
}

/** Guess a suite file's format from its shape (folder, JSON keys, CSV header, first JSONL row). */
export async function detectSuiteFormat(path: string): Promise<{ format: SuiteFormat | null; columns: string[]; reason: string }> {
  const formats = formatsInOrder();
  if ((await stat(path)).isDirectory()) {
    for (const f of formats) {
      const reason = SUITE_FORMAT_IMPLS[f].detect.folder;
      if (reason) return { format: f, columns: [], reason };
    }
    return { format: null, columns: [], reason: 'a folder, and no suite format reads folders' };
  }
  const container = await detectContainer(path);
  if (container === 'json') {
    const head = (await readFile(path, 'utf8')).slice(0, 4096);
    for (const f of formats) {
      const rule = SUITE_FORMAT_IMPLS[f].detect.jsonHead;
      if (rule?.pattern.test(head)) return { format: f, columns: rule.columns, reason: rule.reason };
    }
  }
  const shape = await suiteShape(path, container);
  for (const f of formats) {
    const reason = SUITE_FORMAT_IMPLS[f].detect.columns?.(shape);
    if (reason) return { format: f, columns: shape.columns, reason };
  }
  return { format: null, columns: shape.columns, reason: `no known suite shape (columns: ${shape.columns.join(', ') || 'none'})` };
}

export interface SuiteSpec extends Partial<CustomSuiteOptions> {
  /** A built-in suite id (see builtinSuites()) or a file/folder path. */
  source: string;
  /** Loader for a path (default: detected; 'custom' needs `kind`). */
  format?: SuiteFormat;
  template?: string;
  /** Task suites: few-shot examples from a training file (see TaskLoadOptions). */
  fewShot?: TaskLoadOptions['fewShot'];
  /** Keep this many items (seeded shuffle when `seed` is given, else the first ones). */
  limit?: number;
  seed?: number;
}

/**
 * Load a suite from a built-in id (resolved under `dataDir`) or a path, e.g. for
 * `safetune eval --suite xstest --suite ./my_prompts.csv`.
 */
export async function loadSuite(spec: SuiteSpec | string, ctx: { dataDir?: string; signal?: AbortSignal } = {}): Promise<Suite> {
  const s: SuiteSpec = typeof spec === 'string' ? { source: spec } : spec;
  const builtin = getSuitesConfig().builtin.find((b) => b.id === s.source);
  let suite: Suite;
  if (builtin) {
    if (!ctx.dataDir) throw new Error(`suite "${s.source}" is built in but no data folder was given (it reads ${builtin.path} under it)`);
    suite = await loadBuiltinSuite(s.source, ctx.dataDir, { id: s.id, title: s.title, template: s.template, fewShot: s.fewShot, signal: ctx.signal });
  } else {
    try {
      await stat(s.source);
    } catch {
      throw new Error(
        `suite "${s.source}": neither a built-in suite (${builtinSuites()
          .map((b) => b.id)
          .join(', ')}) nor an existing file`,
      );
    }
    let format = s.format;
    if (!format) {
      const d = await detectSuiteFormat(s.source);
      format = d.format ?? (s.kind ? 'custom' : undefined);
      if (!format)
        throw new Error(
          `${s.source}: cannot tell the suite format: ${d.reason}; give its kind (harmful, over-refusal or task) and columns to load it as a custom suite`,
        );
    }
    suite = await SUITE_FORMAT_IMPLS[format].load(s.source, { ...s, signal: ctx.signal });
  }
  return s.limit !== undefined ? subsetSuite(suite, s.limit, s.seed) : suite;
}
