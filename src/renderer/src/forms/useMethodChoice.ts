/**
 * The state of a method choice built from a method table, kept across tab switches: the chosen
 * method (or several, for judges) and its parameters as a schema form (useSchemaForm over the
 * row's parameter schema; several methods' parameters as one form, keys prefixed by the method).
 */
import { useMemo } from 'react';
import { z } from 'zod';
import type { MethodRow, MethodTable } from '../../../shared/methods/table';
import { usePersistentFields } from './persist';
import { useSchemaForm, type SchemaForm } from './useSchemaForm';

export interface MethodChoice<R extends MethodRow> {
  method: string;
  row: R;
  setMethod(id: string): void;
  /** The method's parameters (its row's schema). */
  form: SchemaForm<Record<string, unknown>>;
}

/** The first of `preferred` the table has, else its first row. */
function pick(table: MethodTable, ...preferred: (string | undefined)[]): string {
  return preferred.find((id): id is string => !!id && id in table) ?? Object.keys(table)[0]!;
}

export function useMethodChoice<R extends MethodRow>(table: MethodTable<R>, key: string, initial: string): MethodChoice<R> {
  const [state, set] = usePersistentFields(`${key}/method`, { method: initial });
  const method = pick(table, state.method, initial);
  const row = table[method]!;
  const form = useSchemaForm(row.params, `${key}/params/${method}`);
  return { method, row, setMethod: (id) => set('method', id), form: form as SchemaForm<Record<string, unknown>> };
}

export interface MethodSetChoice<R extends MethodRow> {
  chosen: string[];
  rows: [string, R][];
  setChosen(ids: string[]): void;
  /** Every chosen method's parameters as one form; keys are "method:param". */
  form: SchemaForm<Record<string, unknown>>;
  /** The chosen methods' parameters by method, once the form is valid. */
  params: Record<string, Record<string, unknown>> | null;
}

export function useMethodSet<R extends MethodRow>(table: MethodTable<R>, key: string, initial: string[]): MethodSetChoice<R> {
  const [state, set] = usePersistentFields(`${key}/methods`, { chosen: initial });
  const chosen = state.chosen.filter((id) => id in table);
  const schema = useMemo(
    () => z.object(Object.fromEntries(chosen.flatMap((id) => Object.entries(table[id]!.params.shape).map(([k, s]) => [`${id}:${k}`, s as z.ZodType])))),
    // the chosen ids decide the schema
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [table, chosen.join('\n')],
  );
  const form = useSchemaForm(schema, `${key}/params/${chosen.join('+')}`) as SchemaForm<Record<string, unknown>>;
  const params = form.data
    ? Object.fromEntries(
        chosen.map((id) => [
          id,
          Object.fromEntries(
            Object.entries(form.data!)
              .filter(([k]) => k.startsWith(`${id}:`))
              .map(([k, v]) => [k.slice(id.length + 1), v]),
          ),
        ]),
      )
    : null;
  return { chosen, rows: chosen.map((id) => [id, table[id]!]), setChosen: (ids) => set('chosen', ids), form, params };
}
