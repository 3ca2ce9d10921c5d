/**
 * The one hook that turns a zod object schema into form state and validation (used by the Train,
 * Select and Evaluate forms): the fields with their titles, defaults and ranges, the values as the
 * form holds them (kept across tab switches under `key`), an error per invalid field, and the
 * schema's output once every field is valid.
 */
import { useMemo } from 'react';
import type { z } from 'zod';
import { usePersistentState } from './persist';
import { initialValues, mergeValues, paramFields, validateValues, type FieldValue, type FormValues, type ParamField } from './schemaForm';

export interface SchemaForm<T> {
  fields: ParamField[];
  values: FormValues;
  set(key: string, value: FieldValue): void;
  /** Back to the schema's defaults. */
  reset(): void;
  errors: Record<string, string>;
  /** The schema's output; null while a field is invalid. */
  data: T | null;
}

export function useSchemaForm<S extends z.ZodObject>(schema: S, key: string): SchemaForm<z.output<S>> {
  const fields = useMemo(() => paramFields(schema), [schema]);
  const [values, setValues] = usePersistentState<FormValues>(key, (stored) => mergeValues(fields, stored));
  const { data, errors } = useMemo(() => validateValues(schema, fields, values), [schema, fields, values]);
  return {
    fields,
    values,
    set: (k, v) => setValues((prev) => ({ ...prev, [k]: v })),
    reset: () => setValues(initialValues(fields)),
    errors,
    data,
  };
}
