/**
 * Untrusted model files: the error every rejected model file raises, and bounded reads (a size
 * checked against a limit before a byte is read, a folder or a missing file named as such).
 */
import { readFileSync, statSync } from 'node:fs';
import { AppError } from '../../shared/errors';

/**
 * A model file (or folder) that cannot be used as it is: the message names the file and what is
 * wrong with it. Reading it again gives the same answer, so a job that failed on one is not resumed.
 */
export class ModelFileError extends AppError {
  constructor(message: string) {
    super('invalid_input', message);
    this.name = 'ModelFileError';
  }
}

const MiB = 2 ** 20;

/** Human-readable byte count for messages. */
export function formatBytes(n: number): string {
  return n >= MiB ? `${(n / MiB).toFixed(n >= 100 * MiB ? 0 : 1)} MB` : `${n} bytes`;
}

/** Size of a regular file; a missing path, a folder or a file over `maxBytes` is refused by name. */
export function fileSize(path: string, what: string, maxBytes = Infinity): number {
  let st;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(code === 'ENOENT' || code === 'ENOTDIR' ? `${path}: not found` : `${path}: cannot be read (${code ?? (e as Error).message})`);
  }
  if (st.isDirectory()) throw new ModelFileError(`${path}: is a folder, not a ${what}`);
  if (!st.isFile()) throw new ModelFileError(`${path}: is not a regular file (expected a ${what})`);
  if (st.size > maxBytes) throw new ModelFileError(`${path}: ${formatBytes(st.size)} is too large for a ${what} (at most ${formatBytes(maxBytes)})`);
  return st.size;
}

/** Reads and parses a JSON file of at most `maxBytes`; the error names the file. */
export function readJsonFile(path: string, what: string, maxBytes: number): unknown {
  fileSize(path, what, maxBytes);
  const text = readFileSync(path, 'utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ModelFileError(`${path}: not valid JSON (${(e as Error).message})`);
  }
}

/** Reads a JSON file that must hold an object (not a list, a string or null). */
export function readJsonObject(path: string, what: string, maxBytes: number): Record<string, unknown> {
  const j = readJsonFile(path, what, maxBytes);
  if (!isPlainObject(j)) throw new ModelFileError(`${path}: expected a JSON object, found ${describeJson(j)}`);
  return j;
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What a JSON value is, for messages: `a list`, `null`, `the string "12"`, `1000000000`. */
export function describeJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return String(v);
}
