/**
 * What every method table has in common (training methods, selection methods, judges): one row of
 * facts per method — a label, a one-line description, the method's own parameters as a zod object
 * whose fields carry their defaults, ranges, a title and a CLI flag — and what is derived from a
 * table: the id enum, per-method parameter checks for the job schemas, and the parameter fields
 * that the forms and the CLI usage text show. Pure (zod only).
 */
import { z } from 'zod';

/** What a parameter carries besides its schema: the form's label and hint, and its CLI flag. */
export interface ParamMeta {
  /** The form field's label. */
  title: string;
  /** One line shown under the field and in CLI usage. */
  description?: string;
  /** The CLI option (without "--"); default: the key in kebab case. */
  cli?: string;
  /** A string that names a file or folder: the form offers Browse…. */
  path?: 'file' | 'folder';
}

/** A parameter: its schema (defaults, ranges) with its title, hint and CLI flag attached. */
export function param<T extends z.ZodType>(schema: T, meta: ParamMeta): T {
  return schema.meta({ ...meta }) as T;
}

/** The parameters of a method with none. */
export const NO_PARAMS = z.object({});

/** One row of a method table. */
export interface MethodRow {
  label: string;
  /** One line: shown under the method in the forms and in `safetune … --help`. */
  description: string;
  /** The method's own parameters (an empty object when it has none). */
  params: z.ZodObject;
  /** Where the method comes from (paper, tool). */
  reference?: string;
}

export type MethodTable<Row extends MethodRow = MethodRow> = Readonly<Record<string, Row>>;

/** The ids of a table as a zod enum, in table order. */
export function methodEnum<T extends MethodTable>(table: T): z.ZodEnum<{ [K in keyof T & string]: K }> {
  const ids = Object.keys(table);
  if (ids.length === 0) throw new Error('a method table needs at least one row');
  return z.enum(ids as [keyof T & string, ...(keyof T & string)[]]) as unknown as z.ZodEnum<{ [K in keyof T & string]: K }>;
}

/**
 * A table with more rows: for tests and fixtures that add a method without shipping it. An id that
 * is already in the table is an error (a row is never replaced silently).
 */
export function withExtraMethods<T extends MethodTable, E extends MethodTable>(base: T, extra: E): T & E {
  for (const id of Object.keys(extra)) if (id in base) throw new Error(`method "${id}" is already in the table`);
  return { ...base, ...extra };
}

/** How a form shows a parameter and how the CLI reads it. */
export type ParamKind = 'number' | 'integer' | 'boolean' | 'enum' | 'string' | 'path' | 'multi';

/** One parameter of a zod object schema, as the forms and the CLI see it. */
export interface ParamField {
  key: string;
  kind: ParamKind;
  title: string;
  description?: string;
  /** The CLI option, without "--". */
  cli: string;
  path?: 'file' | 'folder';
  /** enum and multi: the allowed values. */
  options?: string[];
  min?: number;
  max?: number;
  /** true: min (max) itself is not allowed. */
  exclusiveMin?: boolean;
  exclusiveMax?: boolean;
  default?: unknown;
  /** Can be left out (no default: the method does without it). */
  optional: boolean;
}

const kebab = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .replace(/[^A-Za-z0-9+]+/g, '-')
    .toLowerCase();

/** Bounds JSON Schema writes for a plain integer (±2^53): not worth showing. */
const SAFE = Number.MAX_SAFE_INTEGER;

interface JsonField {
  type?: string;
  enum?: string[];
  items?: { enum?: string[] };
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  default?: unknown;
  title?: string;
  description?: string;
  cli?: string;
  path?: 'file' | 'folder';
}

/** A schema's parameters in field order, read from its JSON Schema (types, ranges, defaults, meta). */
export function paramFields(schema: z.ZodObject): ParamField[] {
  return Object.entries(schema.shape).map(([key, field]) => {
    const f = field as z.ZodType;
    const js = z.toJSONSchema(f, { unrepresentable: 'any' }) as JsonField;
    const kind: ParamKind =
      js.type === 'array'
        ? 'multi'
        : js.enum
          ? 'enum'
          : js.type === 'integer'
            ? 'integer'
            : js.type === 'number'
              ? 'number'
              : js.type === 'boolean'
                ? 'boolean'
                : js.path
                  ? 'path'
                  : 'string';
    const out: ParamField = {
      key,
      kind,
      title: js.title ?? key,
      cli: js.cli ?? kebab(key),
      optional: f.safeParse(undefined).success && js.default === undefined,
    };
    if (js.description) out.description = js.description;
    if (js.path) out.path = js.path;
    const options = js.enum ?? js.items?.enum;
    if (options) out.options = options;
    if (js.exclusiveMinimum !== undefined) Object.assign(out, { min: js.exclusiveMinimum, exclusiveMin: true });
    else if (js.minimum !== undefined && js.minimum > -SAFE) out.min = js.minimum;
    if (js.exclusiveMaximum !== undefined) Object.assign(out, { max: js.exclusiveMaximum, exclusiveMax: true });
    else if (js.maximum !== undefined && js.maximum < SAFE) out.max = js.maximum;
    if (js.default !== undefined) out.default = js.default;
    return out;
  });
}

/** "0 < x ≤ 10", "≥ 0", "1–256": a parameter's range in a few characters ('' when unbounded). */
export function rangeText(f: Pick<ParamField, 'min' | 'max' | 'exclusiveMin' | 'exclusiveMax'>): string {
  const { min, max } = f;
  if (min !== undefined && max !== undefined) {
    if (!f.exclusiveMin && !f.exclusiveMax) return `${min}–${max}`;
    return `${min} ${f.exclusiveMin ? '<' : '≤'} x ${f.exclusiveMax ? '<' : '≤'} ${max}`;
  }
  if (min !== undefined) return `${f.exclusiveMin ? '>' : '≥'} ${min}`;
  if (max !== undefined) return `${f.exclusiveMax ? '<' : '≤'} ${max}`;
  return '';
}

/** "number, ≥ 0, default 0.5" — what a parameter takes, for hints and usage text. */
export function paramSummary(f: ParamField): string {
  const what = f.kind === 'enum' || f.kind === 'multi' ? f.options!.join('|') : f.kind === 'path' ? (f.path ?? 'path') : f.kind;
  const parts = [
    what,
    rangeText(f),
    f.default !== undefined ? `default ${Array.isArray(f.default) ? f.default.join(',') : String(f.default)}` : f.optional ? 'optional' : '',
  ];
  return parts.filter(Boolean).join(', ');
}

/** Unknown keys are named with the parameters the method does take. */
function unknownKeyMessage(method: string, row: MethodRow, keys: string[]): string {
  const known = Object.keys(row.params.shape);
  return `${keys.join(', ')} ${keys.length > 1 ? 'are not parameters' : 'is not a parameter'} of ${method}; ${known.length ? `it takes ${known.join(', ')}` : 'it takes none'}`;
}

/**
 * A method's parameters checked against its row (defaults filled in); issues are added to `ctx`
 * under `path` and naming the method. Returns null when they do not pass.
 */
export function checkMethodParams(
  table: MethodTable,
  method: string,
  raw: unknown,
  ctx: z.RefinementCtx,
  path: (string | number)[],
): Record<string, unknown> | null {
  const row = table[method];
  if (!row) {
    ctx.addIssue({ code: 'custom', path, message: `unknown method "${method}" (have: ${Object.keys(table).join(', ')})` });
    return null;
  }
  const r = row.params.strict().safeParse(raw ?? {});
  if (r.success) return r.data as Record<string, unknown>;
  for (const issue of r.error.issues) {
    const message = issue.code === 'unrecognized_keys' ? unknownKeyMessage(method, row, issue.keys) : `${method}: ${issue.message}`;
    ctx.addIssue({ code: 'custom', path: [...path, ...issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))], message });
  }
  return null;
}

/** Parameters a method's row declares, taken from an object that may hold others (legacy flat job params). */
export function pickDeclared(row: MethodRow, from: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(row.params.shape)) if (from[key] !== undefined) out[key] = from[key];
  return out;
}
