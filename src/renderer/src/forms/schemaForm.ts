/**
 * Form state from a zod object schema (pure: no React, no DOM): each field's value as the form
 * holds it (text, a checkbox, a list), its default from the schema, and validation that turns the
 * values into the schema's output or an error per field, worded with the field's range.
 */
import type { z } from 'zod';
import { paramFields, rangeText, type ParamField } from '../../../shared/methods/table';

export type FieldValue = string | boolean | string[];
export type FormValues = Record<string, FieldValue>;

export { paramFields, type ParamField };

/** A field's value as the form holds it, from a value of the schema (or its default). */
function toFieldValue(f: ParamField, v: unknown): FieldValue {
  if (f.kind === 'boolean') return v === true;
  if (f.kind === 'multi') return Array.isArray(v) ? v.map(String) : [];
  return v === undefined || v === null ? '' : String(v);
}

/** Every field at its default (empty when it has none). */
export function initialValues(fields: readonly ParamField[]): FormValues {
  return Object.fromEntries(fields.map((f) => [f.key, toFieldValue(f, f.default)]));
}

/** Stored values (an earlier visit) over the defaults, keeping only fields the schema still has, each of the right shape. */
export function mergeValues(fields: readonly ParamField[], stored: unknown): FormValues {
  const out = initialValues(fields);
  if (!stored || typeof stored !== 'object') return out;
  for (const f of fields) {
    const v = (stored as Record<string, unknown>)[f.key];
    if (typeof v === typeof out[f.key] && Array.isArray(v) === Array.isArray(out[f.key])) out[f.key] = v as FieldValue;
  }
  return out;
}

export interface Validation<T> {
  /** The schema's output, or null while some field is invalid. */
  data: T | null;
  /** By field key: what is wrong with it. */
  errors: Record<string, string>;
}

/** A field's value as the schema takes it, or an error. */
function fieldInput(f: ParamField, v: FieldValue): { value: unknown } | { error: string } {
  if (f.kind === 'boolean' || f.kind === 'multi') return { value: v };
  const text = String(v).trim();
  if (text === '') return f.optional ? { value: undefined } : { error: 'enter a value' };
  if (f.kind === 'number' || f.kind === 'integer') {
    const n = Number(text);
    if (!Number.isFinite(n)) return { error: 'must be a number' };
    if (f.kind === 'integer' && !Number.isInteger(n)) return { error: 'must be a whole number' };
    return { value: n };
  }
  return { value: text };
}

/** The values checked by the schema: its output, or an error per field (ranges written out, e.g. "must be 1–256"). */
export function validateValues<S extends z.ZodObject>(schema: S, fields: readonly ParamField[], values: FormValues): Validation<z.output<S>> {
  const errors: Record<string, string> = {};
  const input: Record<string, unknown> = {};
  for (const f of fields) {
    const r = fieldInput(f, values[f.key] ?? toFieldValue(f, f.default));
    if ('error' in r) errors[f.key] = r.error;
    else if (r.value !== undefined) input[f.key] = r.value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      const f = fields.find((x) => x.key === key);
      if (!f || errors[key]) continue;
      const range = rangeText(f);
      errors[key] = (issue.code === 'too_small' || issue.code === 'too_big') && range && f.kind !== 'multi' ? `must be ${range}` : issue.message;
    }
  }
  return Object.keys(errors).length ? { data: null, errors } : { data: parsed.data as z.output<S>, errors };
}
