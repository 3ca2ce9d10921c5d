/**
 * Form state that survives switching tabs (and reloading the page): kept per key in memory and in
 * sessionStorage (this tab only), so a half-filled form is where it was left. Keys are scoped per
 * project by formKey.
 */
import { useCallback, useState } from 'react';

const PREFIX = 'safetune.form.';
const memory = new Map<string, unknown>();

function load(key: string): unknown {
  if (memory.has(key)) return memory.get(key);
  try {
    const raw = globalThis.sessionStorage?.getItem(PREFIX + key);
    return raw === null || raw === undefined ? undefined : (JSON.parse(raw) as unknown);
  } catch {
    return undefined;
  }
}

function save(key: string, value: unknown): void {
  memory.set(key, value);
  try {
    globalThis.sessionStorage?.setItem(PREFIX + key, JSON.stringify(value));
  } catch {
    // storage full or disabled: memory still holds it for this page
  }
}

/** "train/3/settings": a form's key within a project. */
export const formKey = (form: string, projectId: number, ...parts: string[]): string => [form, String(projectId), ...parts].join('/');

/**
 * useState whose value is kept under `key`; `restore` turns what was stored (or undefined) into a
 * valid value, so a stale or foreign stored value never reaches the form. A new key loads its own value.
 */
export function usePersistentState<T>(key: string, restore: (stored: unknown) => T): [T, (next: T | ((prev: T) => T)) => void] {
  const [state, setState] = useState(() => ({ key, value: restore(load(key)) }));
  let current = state;
  if (state.key !== key) {
    current = { key, value: restore(load(key)) };
    setState(current);
  }
  const set = useCallback(
    (next: T | ((prev: T) => T)) =>
      setState((prev) => {
        const base = prev.key === key ? prev.value : restore(load(key));
        const value = typeof next === 'function' ? (next as (p: T) => T)(base) : next;
        save(key, value);
        return { key, value };
      }),
    // restore is a pure function of what is stored; the key decides
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [key],
  );
  return [current.value, set];
}

/** An object of form fields kept under `key`: stored fields of the right type over `defaults`, and a setter per field. */
export function usePersistentFields<T extends Record<string, unknown>>(key: string, defaults: T): [T, <K extends keyof T>(field: K, value: T[K]) => void] {
  const [value, setValue] = usePersistentState<T>(key, (stored) => {
    const out = { ...defaults };
    if (stored && typeof stored === 'object') {
      for (const k of Object.keys(defaults) as (keyof T)[]) {
        const v = (stored as T)[k];
        if (v !== undefined && typeof v === typeof defaults[k] && Array.isArray(v) === Array.isArray(defaults[k])) out[k] = v;
      }
    }
    return out;
  });
  const set = useCallback(<K extends keyof T>(field: K, v: T[K]) => setValue((prev) => ({ ...prev, [field]: v })), [setValue]);
  return [value, set];
}
