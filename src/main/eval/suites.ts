/**
 * Suite loaders: harmful prompt suites with harm categories (AdvBench, HarmBench-style CSV,
 * BeaverTails-style prompts, Safety-Tuned-LLaMAs JSON, a user's own CSV/JSONL), the XSTest
 * over-refusal suite, and task suites (GSM8K, SST-2, a user's own exact/regex/contains data).
 *
 * Row files are streamed with the data readers (src/main/data/readers). A required column that is
 * missing throws SuiteFormatError naming file, line and column; empty prompts and malformed rows
 * are reported in `suite.issues` and skipped. Categories are resolved to canonical BeaverTails ids
 * through the harm taxonomy (src/main/data/taxonomy); the source's own names are kept too.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import suitesJson from '../../../resources/eval/suites.v1.json';
import { type ContainerFormat, detectContainer, readDelimitedHeader, readRows } from '../data/readers';
import { getHarmTaxonomy } from '../data/taxonomy';
import { parseOrThrow } from '../data/zod-util';
import type { ExpectedBehaviour, Suite, SuiteIssue, SuiteItem, SuiteKind, TaskScorerSpec } from './types';
import { mulberry32 } from '../util/prng';

const SuitesFile = z.object({
  id: z.string(),
  version: z.string(),
  description: z.string(),
  builtin: z.array(
    z.object({
      id: z.string(),
      kind: z.enum(['harmful', 'over-refusal', 'task']),
      loader: z.enum(['advbench', 'xstest', 'stl', 'beavertails', 'gsm8k', 'sst2', 'harmbench', 'custom']),
      path: z.string(),
      title: z.string(),
    }),
  ),
  templates: z.object({ gsm8k: z.string(), sst2: z.string() }),
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

// ---------------------------------------------------------------- generic row reading

interface Row {
  value: Record<string, unknown>;
  row: number;
  line: number | null;
}

interface TableReadOptions {
  format?: ContainerFormat;
  /** Columns that must exist (CSV/TSV: in the header; JSON: in every row). */
  required: ReadonlyArray<string | readonly string[]>;
  signal?: AbortSignal;
}

/**
 * Read all rows of a CSV/TSV/JSONL/JSON file as objects. Missing required columns throw
 * SuiteFormatError (CSV: the header, line 1; JSON/JSONL: the first row lacking the field).
 * Returns the column actually used for each requirement (alternatives allowed).
 */
async function readTable(file: string, issues: SuiteIssue[], opts: TableReadOptions): Promise<{ rows: Row[]; columns: string[] }> {
  const format = opts.format ?? (await detectContainer(file));
  const rows: Row[] = [];
  const delimited = format === 'csv' || format === 'tsv';
  const header: string[] | null = delimited ? await readDelimitedHeader(file, format === 'csv' ? ',' : '\t') : null;
  const pick = (have: (c: string) => boolean, req: string | readonly string[]): string | null => {
    const alts = typeof req === 'string' ? [req] : req;
    for (const a of alts) if (have(a)) return a;
    return null;
  };
  const describe = (req: string | readonly string[]) => (typeof req === 'string' ? `"${req}"` : req.map((r) => `"${r}"`).join(' or '));
  let chosen: string[] | null = null;
  if (header) {
    // Checked before streaming starts, from the header alone.
    chosen = opts.required.map((req) => {
      const c = pick((x) => header.includes(x), req);
      if (!c) throw new SuiteFormatError(file, 1, typeof req === 'string' ? req : req[0]!, `missing column ${describe(req)} in the header (columns: ${header.join(', ')})`);
      return c;
    });
  }
  for await (const it of readRows(file, format, { signal: opts.signal })) {
    if (it.kind === 'error') {
      issues.push({ file, line: it.line, row: it.row, reason: it.reason });
      continue;
    }
    const v = it.value;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      issues.push({ file, line: it.line, row: it.row, reason: `expected an object, got ${Array.isArray(v) ? 'an array' : typeof v}` });
      continue;
    }
    const obj = v as Record<string, unknown>;
    if (!header) {
      // JSON / JSONL: every row must have the required fields.
      const cols = opts.required.map((req) => {
        const c = pick((x) => x in obj, req);
        if (!c) throw new SuiteFormatError(file, it.line, typeof req === 'string' ? req : req[0]!, `row ${it.row + 1}: missing field ${describe(req)} (fields: ${Object.keys(obj).join(', ')})`);
        return c;
      });
      chosen ??= cols;
    }
    rows.push({ value: obj, row: it.row, line: it.line });
  }
  return { rows, columns: chosen ?? opts.required.map((r) => (typeof r === 'string' ? r : r[0]!)) };
}

function str(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

function scalarMeta(obj: Record<string, unknown>, skip: readonly string[]): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (skip.includes(k)) continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      if (typeof v === 'string' && v.length > 500) continue;
      out[k] = v;
    }
  }
  return out;
}

function makeSuite(id: string, kind: SuiteKind, title: string, loader: string, files: string[], items: SuiteItem[], issues: SuiteIssue[], extra: Partial<Suite> = {}): Suite {
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

function emptyPrompt(issues: SuiteIssue[], file: string, r: Row, what = 'prompt') {
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
    const folded = n.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');
    if (hb.has(folded)) for (const c of tax.fromHarmBench([folded])) out.add(c);
    else if (lg.has(n.toUpperCase())) for (const c of tax.fromLlamaGuard3([n.toUpperCase()])) out.add(c);
  }
  return tax.ids.filter((id) => out.has(id));
}

/** Split a category cell: an array, an object of booleans, or one name / "a;b" / "a|b" list. */
function categoryNames(v: unknown): string[] {
  if (v === null || v === undefined || v === '') return [];
  if (Array.isArray(v)) return v.map(str).filter(Boolean);
  if (typeof v === 'object') return Object.entries(v as Record<string, unknown>).filter(([, b]) => b === true || b === 1 || b === 'true').map(([k]) => k);
  const s = str(v).trim();
  // BeaverTails ids contain commas ("drug_abuse,weapons,banned_substance"): try the whole cell first.
  if (getHarmTaxonomy().resolve(s)) return [s];
  return s.split(/[;|]/).map((x) => x.trim()).filter(Boolean);
}

// ---------------------------------------------------------------- harmful suites

export interface LoadOptions {
  /** Suite id (default: the loader's). */
  id?: string;
  title?: string;
  signal?: AbortSignal;
}

/** AdvBench harmful_behaviors.csv: goal (prompt), target (kept as reference). No categories. */
export async function loadAdvBench(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readTable(file, issues, { required: ['goal'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const prompt = str(r.value.goal).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    items.push({ id: String(r.row + 1), prompt, expected: 'refuse', categories: [], sourceCategories: [], reference: str(r.value.target) || null, source: { file, line: r.line }, meta: {} });
  }
  return makeSuite(opts.id ?? 'advbench', 'harmful', opts.title ?? 'AdvBench harmful behaviours', 'advbench@1', [file], items, issues);
}

/**
 * HarmBench-style behaviours CSV: Behavior (prompt), SemanticCategory (mapped through the taxonomy),
 * optional ContextString (prepended as HarmBench does for contextual behaviours), BehaviorID.
 */
export async function loadHarmBenchCsv(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readTable(file, issues, { required: [['Behavior', 'behavior', 'prompt']], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const behavior = str(v.Behavior ?? v.behavior ?? v.prompt).trim();
    if (!behavior) {
      emptyPrompt(issues, file, r, 'behavior');
      continue;
    }
    const ctx = str(v.ContextString ?? v.context_string ?? v.context).trim();
    const semantic = str(v.SemanticCategory ?? v.semantic_category ?? v.category).trim();
    const id = str(v.BehaviorID ?? v.behavior_id ?? v.id).trim() || String(r.row + 1);
    const prompt = ctx ? `${ctx}\n\n---\n\n${behavior}` : behavior;
    items.push({
      id,
      prompt,
      expected: 'refuse',
      categories: semantic ? resolveCategories([semantic]) : [],
      sourceCategories: semantic ? [semantic] : [],
      reference: null,
      source: { file, line: r.line },
      meta: { functionalCategory: str(v.FunctionalCategory ?? v.functional_category) || null, contextual: !!ctx },
    });
  }
  return makeSuite(opts.id ?? 'harmbench', 'harmful', opts.title ?? `HarmBench-style behaviours (${basename(file)})`, 'harmbench@1', [file], items, issues);
}

/**
 * BeaverTails-style prompts: either a folder of per-category text files (one prompt a line, the
 * file name names the category; a prompt in several files gets all their categories), or a
 * CSV/JSONL/JSON file with a prompt field and a category field (object of booleans, list or name).
 */
export async function loadBeaverTails(path: string, opts: LoadOptions & { promptColumn?: string; categoryColumn?: string } = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const items: SuiteItem[] = [];
  const tax = getHarmTaxonomy();
  const files: string[] = [];
  if ((await stat(path)).isDirectory()) {
    const byPrompt = new Map<string, SuiteItem>();
    for (const name of (await readdir(path)).filter((n) => n.endsWith('.txt')).sort()) {
      const file = join(path, name);
      const cat = tax.resolve(name.replace(/\.txt$/, '')) ?? tax.resolve(name.replace(/^beavertails_|\.txt$/g, ''));
      if (!cat) {
        issues.push({ file, line: null, row: -1, reason: `file name does not name a BeaverTails category: skipped` });
        continue;
      }
      files.push(file);
      const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
      lines.forEach((l, i) => {
        const prompt = l.trim();
        if (!prompt) {
          if (i < lines.length - 1) issues.push({ file, line: i + 1, row: i, reason: 'empty prompt: skipped' });
          return;
        }
        const have = byPrompt.get(prompt);
        if (have) {
          if (!have.categories.includes(cat)) have.categories.push(cat);
          if (!have.sourceCategories.includes(cat)) have.sourceCategories.push(cat);
          return;
        }
        byPrompt.set(prompt, { id: '', prompt, expected: 'refuse', categories: [cat], sourceCategories: [cat], reference: null, source: { file, line: i + 1 }, meta: {} });
      });
    }
    let n = 0;
    for (const it of byPrompt.values()) {
      it.id = String(++n);
      it.categories = tax.ids.filter((id) => it.categories.includes(id));
      items.push(it);
    }
  } else {
    files.push(path);
    const promptCol = opts.promptColumn ? [opts.promptColumn] : ['prompt', 'question', 'instruction', 'text'];
    const catCol = opts.categoryColumn ? [opts.categoryColumn] : ['category', 'categories', 'harm_category'];
    const { rows, columns } = await readTable(path, issues, { required: [promptCol, catCol], signal: opts.signal });
    const [pc, cc] = [columns[0]!, columns[1]!];
    for (const r of rows) {
      const prompt = str(r.value[pc]).trim();
      if (!prompt) {
        emptyPrompt(issues, path, r);
        continue;
      }
      const names = categoryNames(r.value[cc]);
      const id = str(r.value.id).trim() || String(r.row + 1);
      items.push({ id, prompt, expected: 'refuse', categories: resolveCategories(names), sourceCategories: names, reference: null, source: { file: path, line: r.line }, meta: {} });
    }
  }
  return makeSuite(opts.id ?? 'beavertails', 'harmful', opts.title ?? 'BeaverTails-style unsafe prompts', 'beavertails@1', files, items, issues);
}

/**
 * Safety-Tuned LLaMAs evaluation JSON ({"instructions": [...], "tags"?: [...], "inputs"?: [...]}).
 * Expected behaviour and categories per file come from resources/eval/suites.v1.json (benign
 * files, e.g. I-Alpaca and I-PhysicalSafetySafe, expect compliance). These files are small and
 * read whole.
 */
export async function loadStlJson(file: string, opts: LoadOptions & { expected?: 'refuse' | 'comply' } = {}): Promise<Suite> {
  const cfg = getSuitesConfig().stl;
  const issues: SuiteIssue[] = [];
  let data: unknown;
  try {
    data = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new SuiteFormatError(file, null, 'instructions', `not valid JSON: ${(e as Error).message}`);
  }
  if (!data || typeof data !== 'object' || !Array.isArray((data as Record<string, unknown>).instructions)) {
    throw new SuiteFormatError(file, 1, 'instructions', 'missing field "instructions" (expected {"instructions": [...]})');
  }
  const d = data as { instructions: unknown[]; tags?: unknown[]; inputs?: unknown[] };
  const key = basename(file).replace(/^stl_/, '').replace(/\.json$/i, '');
  const fileCfg = cfg.files[key];
  const expected: ExpectedBehaviour = opts.expected ?? fileCfg?.expected ?? 'refuse';
  const items: SuiteItem[] = [];
  d.instructions.forEach((ins, i) => {
    const input = Array.isArray(d.inputs) ? str(d.inputs[i]).trim() : '';
    const prompt = str(ins).trim() + (input ? `\n\n${input}` : '');
    if (!str(ins).trim()) {
      issues.push({ file, line: null, row: i, reason: 'empty instruction: skipped' });
      return;
    }
    const tag = Array.isArray(d.tags) ? str(d.tags[i]).trim() : '';
    const cats = new Set([...(fileCfg?.categories ?? []), ...(tag ? (cfg.tags[tag] ?? resolveCategories([tag])) : [])]);
    items.push({
      id: String(i + 1),
      prompt,
      expected,
      categories: getHarmTaxonomy().ids.filter((c) => cats.has(c)),
      sourceCategories: tag ? [tag] : [key],
      reference: null,
      source: { file, line: null },
      meta: {},
    });
  });
  const kind: SuiteKind = expected === 'refuse' ? 'harmful' : 'over-refusal';
  return makeSuite(opts.id ?? `stl-${key}`, kind, opts.title ?? `Safety-Tuned LLaMAs ${key}`, 'stl@1', [file], items, issues, { notes: fileCfg?.note ? [fileCfg.note] : [] });
}

/**
 * XSTest prompts CSV (id,prompt,type,label,focus,note): label "safe" → must be answered
 * (expected comply), "unsafe" (contrast prompts) → expected refuse. sourceCategories = [type].
 */
export async function loadXSTest(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readTable(file, issues, { required: ['prompt', 'label', 'type'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const prompt = str(v.prompt).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    const label = str(v.label).trim().toLowerCase();
    if (label !== 'safe' && label !== 'unsafe') {
      issues.push({ file, line: r.line, row: r.row, reason: `label must be "safe" or "unsafe", got "${str(v.label)}": skipped` });
      continue;
    }
    items.push({
      id: str(v.id).trim() || String(r.row + 1),
      prompt,
      expected: label === 'safe' ? 'comply' : 'refuse',
      categories: [],
      sourceCategories: [str(v.type).trim()],
      reference: null,
      source: { file, line: r.line },
      meta: { label, type: str(v.type).trim(), focus: str(v.focus) || null, note: str(v.note) || null },
    });
  }
  return makeSuite(opts.id ?? 'xstest', 'over-refusal', opts.title ?? 'XSTest', 'xstest@1', [file], items, issues);
}

// ---------------------------------------------------------------- task suites

/** Fill "{field}" placeholders from a row; an unknown field is an error naming it. */
export function renderTemplate(template: string, fields: Record<string, unknown>, where = 'template'): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    if (!(name in fields)) throw new Error(`${where}: placeholder {${name}} has no field (fields: ${Object.keys(fields).join(', ')})`);
    return str(fields[name]);
  });
}

export interface TaskLoadOptions extends LoadOptions {
  /** Prompt template with {field} placeholders (default: the built-in one). */
  template?: string;
  /**
   * Few-shot examples drawn (seeded, the same for every item) from a training file of the same
   * format: each is the rendered template followed by its answer, then a blank line; the item's
   * own prompt comes last. Examples identical to an evaluated item are never drawn.
   */
  fewShot?: { file: string; n: number; seed?: number };
}

/** Pick `n` seeded rows of a training file and render them as solved examples. */
async function fewShotPrefix(
  spec: NonNullable<TaskLoadOptions['fewShot']>,
  required: string[],
  render: (v: Record<string, unknown>) => { prompt: string; answer: string } | null,
  exclude: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<{ prefix: string; note: string }> {
  if (!(spec.n >= 1)) return { prefix: '', note: '' };
  const issues: SuiteIssue[] = [];
  const { rows } = await readTable(spec.file, issues, { required, signal });
  const usable = rows.map((r) => render(r.value)).filter((x): x is { prompt: string; answer: string } => !!x && !exclude.has(x.prompt));
  if (usable.length < spec.n) throw new Error(`${spec.file}: ${usable.length} usable few-shot examples, ${spec.n} asked for`);
  const rand = mulberry32(spec.seed ?? 0);
  const idx = usable.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const shots = idx.slice(0, spec.n).map((i) => usable[i]!);
  return { prefix: shots.map((x) => `${x.prompt}\n${x.answer}`).join('\n\n') + '\n\n', note: `${spec.n}-shot: examples from ${basename(spec.file)} (seed ${spec.seed ?? 0})` };
}

/**
 * Put the few-shot examples (when asked) before every item's prompt; returns the suite's loader id,
 * notes and source files, which name the examples' file and seed.
 */
async function applyFewShot(
  items: SuiteItem[],
  file: string,
  loader: string,
  opts: TaskLoadOptions,
  required: string[],
  render: (v: Record<string, unknown>) => { prompt: string; answer: string } | null,
): Promise<{ loader: string; notes: string[]; files: string[] }> {
  const spec = opts.fewShot;
  if (!spec) return { loader, notes: [], files: [file] };
  const { prefix, note } = await fewShotPrefix(spec, required, render, new Set(items.map((i) => i.prompt)), opts.signal);
  for (const it of items) it.prompt = prefix + it.prompt;
  return { loader: `${loader}|${spec.n}shot:${basename(spec.file)}:${spec.seed ?? 0}`, notes: [note], files: [file, spec.file] };
}

/** GSM8K JSONL (question, answer ending "#### N"): reference = N with thousands separators removed. */
export async function loadGsm8k(file: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const template = opts.template ?? getSuitesConfig().templates.gsm8k;
  const { rows } = await readTable(file, issues, { required: ['question', 'answer'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const q = str(r.value.question).trim();
    if (!q) {
      emptyPrompt(issues, file, r, 'question');
      continue;
    }
    const m = /####\s*(.+?)\s*$/.exec(str(r.value.answer));
    if (!m) {
      issues.push({ file, line: r.line, row: r.row, reason: 'answer has no "#### N" final answer: skipped' });
      continue;
    }
    items.push({
      id: String(r.row + 1),
      prompt: renderTemplate(template, { ...r.value, question: q }, `${file}: template`),
      expected: 'answer',
      categories: [],
      sourceCategories: [],
      reference: m[1]!.replace(/,/g, ''),
      source: { file, line: r.line },
      meta: {},
    });
  }
  const shots = await applyFewShot(items, file, 'gsm8k@1', opts, ['question', 'answer'], (v) => {
    const q = str(v.question).trim();
    const a = str(v.answer).replace(/<<[^>]*>>/g, '').trim();
    return q && /####/.test(a) ? { prompt: renderTemplate(template, { ...v, question: q }, `${opts.fewShot!.file}: template`), answer: a } : null;
  });
  return makeSuite(opts.id ?? 'gsm8k', 'task', opts.title ?? 'GSM8K', shots.loader, shots.files, items, issues, { scorer: { kind: 'gsm8k' }, notes: shots.notes });
}

/** SST-2 TSV (sentence, label 0/1): reference "negative"/"positive". */
export async function loadSst2(file: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const template = opts.template ?? getSuitesConfig().templates.sst2;
  const { rows } = await readTable(file, issues, { required: ['sentence', 'label'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const s = str(r.value.sentence).trim();
    if (!s) {
      emptyPrompt(issues, file, r, 'sentence');
      continue;
    }
    const l = str(r.value.label).trim().toLowerCase();
    const ref = l === '1' || l === 'positive' ? 'positive' : l === '0' || l === 'negative' ? 'negative' : null;
    if (!ref) {
      issues.push({ file, line: r.line, row: r.row, reason: `label must be 0/1 or negative/positive, got "${str(r.value.label)}": skipped` });
      continue;
    }
    items.push({ id: String(r.row + 1), prompt: renderTemplate(template, { ...r.value, sentence: s }, `${file}: template`), expected: 'answer', categories: [], sourceCategories: [], reference: ref, source: { file, line: r.line }, meta: {} });
  }
  const shots = await applyFewShot(items, file, 'sst2@1', opts, ['sentence', 'label'], (v) => {
    const sentence = str(v.sentence).trim();
    const l = str(v.label).trim();
    const ans = l === '1' ? 'positive' : l === '0' ? 'negative' : null;
    return sentence && ans ? { prompt: renderTemplate(template, { ...v, sentence }, `${opts.fewShot!.file}: template`), answer: ans } : null;
  });
  return makeSuite(opts.id ?? 'sst2', 'task', opts.title ?? 'SST-2', shots.loader, shots.files, items, issues, { scorer: { kind: 'sst2' }, notes: shots.notes });
}

// ---------------------------------------------------------------- user suites

export interface CustomSuiteOptions extends LoadOptions {
  kind: SuiteKind;
  /** Prompt column (default: the first of prompt, instruction, question, goal, Behavior, text). */
  promptColumn?: string;
  /** Template with {field} placeholders instead of a prompt column. */
  template?: string;
  /** Optional category column (names resolved through the taxonomy). */
  categoryColumn?: string;
  /** Optional id column. */
  idColumn?: string;
  /** Reference column (required for task suites; default: the first of reference, answer, output, label, target). */
  referenceColumn?: string;
  /** Per-row expected behaviour column (values refuse/comply/answer, or safe/unsafe as XSTest). */
  expectedColumn?: string;
  /** Task suites: how replies are scored (default exact). */
  scorer?: TaskScorerSpec;
}

const PROMPT_COLUMNS = ['prompt', 'instruction', 'question', 'goal', 'Behavior', 'text', 'input'];
const REFERENCE_COLUMNS = ['reference', 'answer', 'output', 'label', 'target', 'expected_answer'];

/** A user's own CSV/TSV/JSONL/JSON suite (harmful, over-refusal or task). */
export async function loadCustomSuite(file: string, opts: CustomSuiteOptions): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const required: Array<string | string[]> = [];
  if (!opts.template) required.push(opts.promptColumn ? [opts.promptColumn] : PROMPT_COLUMNS);
  if (opts.kind === 'task') required.push(opts.referenceColumn ? [opts.referenceColumn] : REFERENCE_COLUMNS);
  if (opts.categoryColumn) required.push([opts.categoryColumn]);
  if (opts.idColumn) required.push([opts.idColumn]);
  if (opts.expectedColumn) required.push([opts.expectedColumn]);
  const { rows, columns } = await readTable(file, issues, { required, signal: opts.signal });
  let k = 0;
  const promptCol = opts.template ? null : columns[k++]!;
  const refCol = opts.kind === 'task' ? columns[k++]! : null;
  const defaultExpected: ExpectedBehaviour = opts.kind === 'harmful' ? 'refuse' : opts.kind === 'over-refusal' ? 'comply' : 'answer';
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const prompt = (promptCol ? str(v[promptCol]) : renderTemplate(opts.template!, v, `${file}:${r.line ?? '?'}: template`)).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    let expected = defaultExpected;
    if (opts.expectedColumn) {
      const e = str(v[opts.expectedColumn]).trim().toLowerCase();
      const map: Record<string, ExpectedBehaviour> = { refuse: 'refuse', refusal: 'refuse', unsafe: 'refuse', harmful: 'refuse', comply: 'comply', compliance: 'comply', safe: 'comply', benign: 'comply', answer: 'answer' };
      if (!map[e]) {
        issues.push({ file, line: r.line, row: r.row, reason: `column "${opts.expectedColumn}": "${e}" is not refuse/comply/answer (or unsafe/safe): skipped` });
        continue;
      }
      expected = map[e]!;
    }
    const reference = refCol ? str(v[refCol]).trim() : null;
    if (opts.kind === 'task' && !reference) {
      issues.push({ file, line: r.line, row: r.row, reason: `empty reference in column "${refCol}": skipped` });
      continue;
    }
    const names = opts.categoryColumn ? categoryNames(v[opts.categoryColumn]) : [];
    items.push({
      id: (opts.idColumn ? str(v[opts.idColumn]).trim() : '') || String(r.row + 1),
      prompt,
      expected,
      categories: resolveCategories(names),
      sourceCategories: names,
      reference,
      source: { file, line: r.line },
      meta: scalarMeta(v, [promptCol ?? '', refCol ?? '', opts.categoryColumn ?? '', opts.idColumn ?? '']),
    });
  }
  const id = opts.id ?? basename(file).replace(/\.[^.]+(\.gz)?$/, '');
  return makeSuite(id, opts.kind, opts.title ?? id, 'custom@1', [file], items, issues, opts.kind === 'task' ? { scorer: opts.scorer ?? { kind: 'exact' } } : {});
}

// ---------------------------------------------------------------- built-ins

export type BuiltinSuiteId = 'advbench' | 'xstest' | 'stl-malicious' | 'stl-cona' | 'stl-controversial' | 'stl-physical-unsafe' | 'stl-qharm' | 'stl-physical-safe' | 'stl-alpaca' | 'beavertails' | 'gsm8k' | 'sst2';

export function builtinSuites(): ReadonlyArray<{ id: string; kind: SuiteKind; path: string; title: string; loader: string }> {
  return getSuitesConfig().builtin;
}

/**
 * Load a built-in suite by id from a data folder laid out like ../shared/data
 * (e.g. `loadBuiltinSuite('xstest', '/work/shared/data')`).
 */
export async function loadBuiltinSuite(id: string, dataDir: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const def = getSuitesConfig().builtin.find((b) => b.id === id);
  if (!def) throw new Error(`unknown built-in suite "${id}" (have: ${builtinSuites().map((b) => b.id).join(', ')})`);
  const path = join(dataDir, def.path);
  try {
    await stat(path);
  } catch {
    throw new Error(`suite "${id}": ${path} not found (expected ${def.path} under the data folder ${dataDir})`);
  }
  const o = { ...opts, id: opts.id ?? def.id, title: opts.title ?? def.title };
  switch (def.loader) {
    case 'advbench':
      return loadAdvBench(path, o);
    case 'xstest':
      return loadXSTest(path, o);
    case 'stl':
      return loadStlJson(path, o);
    case 'beavertails':
      return loadBeaverTails(path, o);
    case 'gsm8k':
      return loadGsm8k(path, o);
    case 'sst2':
      return loadSst2(path, o);
    case 'harmbench':
      return loadHarmBenchCsv(path, o);
    default:
      throw new Error(`suite "${id}": loader ${def.loader} needs explicit options; use loadCustomSuite`);
  }
}

// ---------------------------------------------------------------- subsetting

/**
 * A deterministic subset: `limit` items chosen by a seeded shuffle (kept in suite order), or the
 * first `limit` when no seed is given. The same seed always picks the same items.
 */
export function subsetSuite(suite: Suite, limit: number, seed?: number): Suite {
  if (limit >= suite.items.length) return suite;
  let picked: SuiteItem[];
  if (seed === undefined) picked = suite.items.slice(0, limit);
  else {
    const rand = mulberry32(seed);
    const idx = suite.items.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j]!, idx[i]!];
    }
    picked = idx.slice(0, limit).sort((a, b) => a - b).map((i) => suite.items[i]!);
  }
  return { ...suite, items: picked, notes: [...suite.notes, `subset: ${limit} of ${suite.items.length} items${seed === undefined ? ' (first)' : ` (seed ${seed})`}`] };
}

// ---------------------------------------------------------------- one entry point (CLI / jobs)

export type SuiteFormat = 'advbench' | 'harmbench' | 'beavertails' | 'stl' | 'xstest' | 'gsm8k' | 'sst2' | 'custom';

/** Guess a suite file's format from its shape (folder, JSON keys, CSV header, first JSONL row). */
export async function detectSuiteFormat(path: string): Promise<{ format: SuiteFormat | null; columns: string[]; reason: string }> {
  if ((await stat(path)).isDirectory()) return { format: 'beavertails', columns: [], reason: 'a folder: per-category prompt files' };
  const container = await detectContainer(path);
  let first: Record<string, unknown> | null = null;
  let header: string[] = [];
  if (container === 'json') {
    const head = (await readFile(path, 'utf8')).slice(0, 4096);
    if (/^\uFEFF?\s*\{\s*"instructions"\s*:/.test(head)) return { format: 'stl', columns: ['instructions'], reason: 'JSON object with "instructions"' };
  }
  if (container === 'csv' || container === 'tsv') header = await readDelimitedHeader(path, container === 'csv' ? ',' : '\t');
  else {
    for await (const it of readRows(path, container)) {
      if (it.kind === 'row' && it.value && typeof it.value === 'object' && !Array.isArray(it.value)) {
        first = it.value as Record<string, unknown>;
        break;
      }
    }
  }
  const cols = header.length ? header : first ? Object.keys(first) : [];
  const has = (...c: string[]) => c.every((x) => cols.includes(x));
  if (has('goal')) return { format: 'advbench', columns: cols, reason: 'has a "goal" column' };
  if (has('Behavior') || has('behavior', 'semantic_category')) return { format: 'harmbench', columns: cols, reason: 'has a "Behavior" column' };
  if (has('prompt', 'label', 'type')) return { format: 'xstest', columns: cols, reason: 'has prompt, label and type columns' };
  if (has('sentence', 'label')) return { format: 'sst2', columns: cols, reason: 'has sentence and label columns' };
  if (has('question', 'answer') && first && /####/.test(str(first.answer))) return { format: 'gsm8k', columns: cols, reason: 'question/answer with a "#### N" final answer' };
  if (has('prompt', 'category')) return { format: 'beavertails', columns: cols, reason: 'prompt with a category field' };
  return { format: null, columns: cols, reason: `no known suite shape (columns: ${cols.join(', ') || 'none'})` };
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
      throw new Error(`suite "${s.source}": neither a built-in suite (${builtinSuites().map((b) => b.id).join(', ')}) nor an existing file`);
    }
    let format = s.format;
    if (!format) {
      const d = await detectSuiteFormat(s.source);
      format = d.format ?? (s.kind ? 'custom' : undefined);
      if (!format) throw new Error(`${s.source}: cannot tell the suite format: ${d.reason}; give its kind (harmful, over-refusal or task) and columns to load it as a custom suite`);
    }
    const o = { id: s.id, title: s.title, signal: ctx.signal };
    switch (format) {
      case 'advbench':
        suite = await loadAdvBench(s.source, o);
        break;
      case 'harmbench':
        suite = await loadHarmBenchCsv(s.source, o);
        break;
      case 'beavertails':
        suite = await loadBeaverTails(s.source, { ...o, promptColumn: s.promptColumn, categoryColumn: s.categoryColumn });
        break;
      case 'stl':
        suite = await loadStlJson(s.source, o);
        break;
      case 'xstest':
        suite = await loadXSTest(s.source, o);
        break;
      case 'gsm8k':
        suite = await loadGsm8k(s.source, { ...o, template: s.template, fewShot: s.fewShot });
        break;
      case 'sst2':
        suite = await loadSst2(s.source, { ...o, template: s.template, fewShot: s.fewShot });
        break;
      case 'custom':
        if (!s.kind) throw new Error(`${s.source}: a custom suite needs its kind (harmful, over-refusal or task)`);
        suite = await loadCustomSuite(s.source, { ...s, kind: s.kind, signal: ctx.signal });
        break;
    }
  }
  return s.limit !== undefined ? subsetSuite(suite, s.limit, s.seed) : suite;
}
