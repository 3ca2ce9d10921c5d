/**
 * What the task suites share: prompt templates with {field} placeholders, and few-shot examples
 * drawn (seeded) from a training file and put before every item's prompt.
 */
import { basename } from 'node:path';
import { mulberry32 } from '../../util/prng';
import type { SuiteIssue, SuiteItem } from '../types';
import { readSuiteTable, str } from './common';
import type { TaskLoadOptions } from './types';

/** Fill "{field}" placeholders from a row; an unknown field is an error naming it. */
export function renderTemplate(template: string, fields: Record<string, unknown>, where = 'template'): string {
  return template.replace(/\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    if (!(name in fields)) throw new Error(`${where}: placeholder {${name}} has no field (fields: ${Object.keys(fields).join(', ')})`);
    return str(fields[name]);
  });
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
  const { rows } = await readSuiteTable(spec.file, issues, { required, signal });
  const usable = rows.map((r) => render(r.value)).filter((x): x is { prompt: string; answer: string } => !!x && !exclude.has(x.prompt));
  if (usable.length < spec.n) throw new Error(`${spec.file}: ${usable.length} usable few-shot examples, ${spec.n} asked for`);
  const rand = mulberry32(spec.seed ?? 0);
  const idx = usable.map((_, i) => i);
  for (let i = idx.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [idx[i], idx[j]] = [idx[j]!, idx[i]!];
  }
  const shots = idx.slice(0, spec.n).map((i) => usable[i]!);
  return {
    prefix: shots.map((x) => `${x.prompt}\n${x.answer}`).join('\n\n') + '\n\n',
    note: `${spec.n}-shot: examples from ${basename(spec.file)} (seed ${spec.seed ?? 0})`,
  };
}

/**
 * Put the few-shot examples (when asked) before every item's prompt; returns the suite's loader id,
 * notes and source files, which name the examples' file and seed.
 */
export async function applyFewShot(
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
