/**
 * CLI options and usage text derived from zod schemas and method tables (training methods,
 * selection methods, judges): every parameter becomes an option (its `cli` flag), the usage lists
 * each method with its one line and its options (type, range, default), and the values given are
 * read into the chosen method's parameters, refusing options that method does not take.
 */
import type { ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { AppError } from '../../shared/errors';
import { paramFields, rangeText, type MethodTable, type ParamField } from '../../shared/methods/table';

type Options = NonNullable<ParseArgsConfig['options']>;

/** Every method's parameters, by CLI flag (a flag several methods share reads the same way for each). */
function fieldsByFlag(table: MethodTable): Map<string, { field: ParamField; methods: string[] }> {
  const out = new Map<string, { field: ParamField; methods: string[] }>();
  for (const [id, row] of Object.entries(table)) {
    for (const f of paramFields(row.params)) {
      const seen = out.get(f.cli);
      if (seen && seen.field.kind !== f.kind) throw new Error(`--${f.cli} is a ${seen.field.kind} for ${seen.methods.join(', ')} but a ${f.kind} for ${id}`);
      if (seen) seen.methods.push(id);
      else out.set(f.cli, { field: f, methods: [id] });
    }
  }
  return out;
}

/**
 * The command's own options plus one per method parameter. A parameter whose flag is already one
 * of the command's options is an error when the command is built (never a silent shadowing).
 */
export function withMethodOptions<O extends Options>(own: O, table: MethodTable, family: string): O & Options {
  const extra: Options = {};
  for (const [flag, { field, methods }] of fieldsByFlag(table)) {
    if (flag in own) throw new Error(`${family} ${methods.join(', ')}: parameter --${flag} clashes with the command's own --${flag}; give it another cli name`);
    extra[flag] = { type: field.kind === 'boolean' ? 'boolean' : 'string' };
  }
  return { ...own, ...extra };
}

/** One CLI value as its parameter's type (the method's schema checks ranges afterwards). */
function readValue(f: ParamField, raw: string | boolean): unknown {
  if (typeof raw === 'boolean') return raw;
  if (f.kind === 'number' || f.kind === 'integer') {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new AppError('invalid_input', `--${f.cli} must be a number, got "${raw}"`);
    return n;
  }
  if (f.kind === 'multi') return raw.split(',').map((x) => x.trim());
  return raw;
}

/**
 * The chosen method's parameters from parsed CLI values (only the options given; the job schema
 * fills in defaults and checks ranges). An option of another method is an error naming the ones
 * this method takes.
 */
export function methodParamsFromArgs(table: MethodTable, method: string, values: Record<string, unknown>): Record<string, unknown> {
  const row = table[method];
  if (!row) return {};
  const own = new Map(paramFields(row.params).map((f) => [f.cli, f]));
  const out: Record<string, unknown> = {};
  for (const [flag, { methods }] of fieldsByFlag(table)) {
    const raw = values[flag] as string | boolean | undefined;
    if (raw === undefined || raw === false) continue;
    const f = own.get(flag);
    if (!f) {
      const takes = [...own.keys()].map((k) => `--${k}`);
      throw new AppError(
        'invalid_input',
        `--${flag} is a parameter of ${methods.join(', ')}, not of ${method} (${takes.length ? `it takes ${takes.join(', ')}` : 'it takes none'})`,
      );
    }
    out[f.key] = readValue(f, raw);
  }
  return out;
}

/**
 * The parameters of several chosen methods at once (judges: a run has several): each option given
 * goes to the chosen methods that declare it; an option none of them declares is an error.
 */
export function paramsOfSeveral(table: MethodTable, chosen: readonly string[], values: Record<string, unknown>): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [flag, { field, methods }] of fieldsByFlag(table)) {
    const raw = values[flag] as string | boolean | undefined;
    if (raw === undefined || raw === false) continue;
    const takers = methods.filter((m) => chosen.includes(m));
    if (takers.length === 0)
      throw new AppError(
        'invalid_input',
        `--${flag} is a parameter of ${methods.join(', ')}, which ${methods.length > 1 ? 'are' : 'is'} not chosen (${chosen.join(', ')})`,
      );
    for (const m of takers) {
      const f = paramFields(table[m]!.params).find((x) => x.cli === flag) ?? field;
      (out[m] ??= {})[f.key] = readValue(f, raw);
    }
  }
  return out;
}

/** A parameter's line in `--help`: its title, and its one-line description when it has one. */
const fieldDoc = (f: ParamField) => `${f.title}${f.description ? `: ${f.description}` : ''}.`;

/** `--help` lines of a settings schema's options (flag → title and description). */
export function settingsDocs(schema: z.ZodObject): Record<string, string> {
  return Object.fromEntries(paramFields(schema).map((f) => [f.cli, fieldDoc(f)]));
}

/** `--help` lines of a method table's parameter options, each saying which methods take it. */
export function methodOptionDocs(table: MethodTable): Record<string, string> {
  return Object.fromEntries([...fieldsByFlag(table)].map(([flag, { field, methods }]) => [flag, `${fieldDoc(field)} For ${methods.join(', ')}.`]));
}

/** One option per field of a settings schema (run settings such as steps or the LoRA rank). */
export function settingsOptions(schema: z.ZodObject): Options {
  return Object.fromEntries(paramFields(schema).map((f) => [f.cli, { type: f.kind === 'boolean' ? 'boolean' : 'string' }])) as Options;
}

/** The settings given on the command line, by schema key (the schema fills in the rest). */
export function settingsFromArgs(schema: z.ZodObject, values: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of paramFields(schema)) {
    const raw = values[f.cli] as string | boolean | undefined;
    if (raw !== undefined) out[f.key] = readValue(f, raw);
  }
  return out;
}

/** "--steps N (1–1000000, default 100)": an option as usage text shows it. */
function optionText(f: ParamField): string {
  if (f.kind === 'boolean') return `--${f.cli}`;
  const placeholder = { integer: 'N', number: 'X', multi: 'A,B', path: f.path === 'file' ? 'FILE' : 'DIR', enum: f.options?.join('|'), string: 'TEXT' }[
    f.kind as string
  ];
  const range = f.kind === 'integer' || f.kind === 'number' ? rangeText(f) : '';
  const more = [
    range,
    f.default !== undefined ? `default ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)}` : f.optional ? 'optional' : '',
  ].filter(Boolean);
  return `--${f.cli} ${placeholder}${more.length ? ` (${more.join(', ')})` : ''}`;
}

/** "[--steps N (1–1000000, default 100)] …" for a settings schema. */
export function settingsUsage(schema: z.ZodObject): string {
  return paramFields(schema)
    .map((f) => `[${optionText(f)}]`)
    .join(' ');
}

/** "  der   DER: Match the aligned model's logits … [--der-alpha number, ≥ 0, default 0.5]" — one line per method. */
export function methodsUsage(table: MethodTable, extra: (id: string) => string = () => ''): string {
  const ids = Object.keys(table);
  const width = Math.max(...ids.map((id) => id.length));
  return ids
    .map((id) => {
      const row = table[id]!;
      const opts = paramFields(row.params).map(optionText);
      const notes = [extra(id), ...opts].filter(Boolean);
      return `  ${id.padEnd(width)}  ${row.label}: ${row.description}${notes.length ? ` [${notes.join('; ')}]` : ''}`;
    })
    .join('\n');
}

/** "plain|replay|der…": the ids, as a usage line writes the choices. */
export const methodChoices = (table: MethodTable): string => Object.keys(table).join('|');
