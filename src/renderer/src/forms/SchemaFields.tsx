/**
 * A schema form's fields as inputs: numbers and text as text fields (the range and default in the
 * hint, the error under the field), booleans as checkboxes, enums as selects, lists as checkbox
 * groups, paths with the app's path input.
 */
import { useContext } from 'react';
import { paramSummary, type ParamField } from '../../../shared/methods/table';
import { CheckboxGroup, SelectField, TextField } from '../components/ui';
import type { FieldValue, FormValues } from './schemaForm';
import { PathInputContext } from './widgets';

export interface SchemaFieldsProps {
  fields: readonly ParamField[];
  values: FormValues;
  errors: Record<string, string>;
  onChange: (key: string, value: FieldValue) => void;
  /** Show only these fields, in this order (default: all, in schema order). */
  only?: readonly string[];
  /** Per field, a label used instead of the schema's title. */
  labels?: Readonly<Record<string, string>>;
}

/** "integer, 1–256, default 8 — Weight of …": what the hint under a field says. */
export function fieldHint(f: ParamField): string {
  return [f.description, paramSummary(f)].filter(Boolean).join(' · ');
}

export function SchemaFields({ fields, values, errors, onChange, only, labels }: SchemaFieldsProps) {
  const PathInput = useContext(PathInputContext);
  const shown = only ? only.map((k) => fields.find((f) => f.key === k)).filter((f): f is ParamField => !!f) : fields;
  return (
    <>
      {shown.map((f) => {
        const label = labels?.[f.key] ?? f.title;
        const value = values[f.key];
        const error = errors[f.key] ?? null;
        switch (f.kind) {
          case 'boolean':
            return (
              <label key={f.key} className="small" data-param={f.key} title={f.description}>
                <input type="checkbox" checked={value === true} onChange={(e) => onChange(f.key, e.target.checked)} /> {label}
              </label>
            );
          case 'enum':
            return (
              <div key={f.key} data-param={f.key} className="param-wrap">
                <SelectField
                  label={label}
                  value={String(value ?? '')}
                  options={f.options!.map((o) => ({ value: o, label: o }))}
                  onChange={(v) => onChange(f.key, v)}
                />
              </div>
            );
          case 'multi':
            return (
              <div key={f.key} data-param={f.key} className="param-wrap">
                <CheckboxGroup
                  legend={label}
                  options={f.options!.map((o) => ({ value: o, label: o }))}
                  value={(value as string[]) ?? []}
                  onChange={(v) => onChange(f.key, v)}
                />
                {error && <p className="field-error">{error}</p>}
              </div>
            );
          case 'path':
            return (
              <PathInput
                key={f.key}
                label={label}
                hint={fieldHint(f)}
                error={error}
                value={String(value ?? '')}
                kind={f.path ?? 'file'}
                onChange={(v) => onChange(f.key, v)}
              />
            );
          default:
            return (
              <TextField
                key={f.key}
                data-param={f.key}
                label={label}
                value={String(value ?? '')}
                onChange={(e) => onChange(f.key, e.target.value)}
                inputMode={f.kind === 'integer' ? 'numeric' : f.kind === 'number' ? 'decimal' : undefined}
                hint={fieldHint(f)}
                error={error}
              />
            );
        }
      })}
    </>
  );
}
