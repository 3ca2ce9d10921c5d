/**
 * Method pickers built from a method table: one choice (radio buttons) or several (checkboxes),
 * each method's label with its one-line description under it; what the chosen method needs; and
 * its parameters as fields.
 */
import { useId, type ReactNode } from 'react';
import type { MethodRow, MethodTable } from '../../../shared/methods/table';
import { SchemaFields } from './SchemaFields';
import type { SchemaForm } from './useSchemaForm';

interface PickerProps<R extends MethodRow> {
  legend: string;
  table: MethodTable<R>;
  /** Rows the picker leaves out (e.g. judges added automatically). */
  hide?: (row: R) => boolean;
}

function Options<R extends MethodRow>({
  legend,
  table,
  hide,
  type,
  isChecked,
  onToggle,
}: PickerProps<R> & { type: 'radio' | 'checkbox'; isChecked: (id: string) => boolean; onToggle: (id: string, on: boolean) => void }) {
  const name = useId();
  return (
    <fieldset className="method-picker" aria-label={legend}>
      <legend>{legend}</legend>
      {Object.entries(table)
        .filter(([, row]) => !hide?.(row))
        .map(([id, row]) => (
          <div key={id} className="method-option" data-method={id}>
            <label>
              <input
                type={type}
                name={name}
                value={id}
                checked={isChecked(id)}
                aria-describedby={`${name}-${id}`}
                onChange={(e) => onToggle(id, e.target.checked)}
              />
              {row.label}
            </label>
            <span id={`${name}-${id}`} className="field-hint">
              {row.description}
            </span>
          </div>
        ))}
    </fieldset>
  );
}

/** One method of the table, chosen with radio buttons. */
export function MethodPicker<R extends MethodRow>({ value, onChange, ...props }: PickerProps<R> & { value: string; onChange: (id: string) => void }) {
  return <Options {...props} type="radio" isChecked={(id) => id === value} onToggle={(id, on) => on && onChange(id)} />;
}

/** Several methods of the table (judges), chosen with checkboxes. */
export function MethodChecklist<R extends MethodRow>({
  value,
  onChange,
  ...props
}: PickerProps<R> & { value: readonly string[]; onChange: (ids: string[]) => void }) {
  return (
    <Options
      {...props}
      type="checkbox"
      isChecked={(id) => value.includes(id)}
      onToggle={(id, on) => onChange(on ? [...value.filter((x) => x !== id), id] : value.filter((x) => x !== id))}
    />
  );
}

/** What the chosen method needs (a list of lines), and its parameters as fields. */
export function MethodDetails({ label, needs, form, children }: { label: string; needs: readonly string[]; form: SchemaForm<unknown>; children?: ReactNode }) {
  return (
    <>
      {needs.length > 0 && (
        <ul className="method-needs" aria-label={`What ${label} needs`}>
          {needs.map((n) => (
            <li key={n}>Needs {n}</li>
          ))}
        </ul>
      )}
      {(form.fields.length > 0 || children) && (
        <div className="method-params" aria-label={`${label} parameters`} role="group">
          <SchemaFields fields={form.fields} values={form.values} errors={form.errors} onChange={form.set} />
          {children}
        </div>
      )}
    </>
  );
}
