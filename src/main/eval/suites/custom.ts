/** A user's own suite: any CSV/TSV/JSONL/JSON file, with its kind and columns given. Never detected. */
import { basename } from 'node:path';
import type { ExpectedBehaviour, Suite, SuiteIssue, SuiteItem } from '../types';
import { categoryNames, emptyPrompt, makeSuite, readSuiteTable, resolveCategories, str } from './common';
import { renderTemplate } from './fewShot';
import type { CustomSuiteOptions, SuiteFormatImpl } from './types';

const PROMPT_COLUMNS = ['prompt', 'instruction', 'question', 'goal', 'Behavior', 'text', 'input'];
const REFERENCE_COLUMNS = ['reference', 'answer', 'output', 'label', 'target', 'expected_answer'];

/** The scalar fields of a row (strings up to 500 characters), kept as an item's meta. */
function scalarMeta(obj: Record<string, unknown>, skip: readonly string[]): Record<string, string | number | boolean | null> {
  const out: Record<string, string | number | boolean | null> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (skip.includes(k)) continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') {
      if (typeof v === 'string' && v.length > 500) continue;
      out[k] = v;
    }
  }
  return out;
}

/** A user's own CSV/TSV/JSONL/JSON suite (harmful, over-refusal or task). */
export async function loadCustomSuite(file: string, opts: CustomSuiteOptions): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const required: Array<string | string[]> = [];
  if (!opts.template) required.push(opts.promptColumn ? [opts.promptColumn] : PROMPT_COLUMNS);
  if (opts.kind === 'task') required.push(opts.referenceColumn ? [opts.referenceColumn] : REFERENCE_COLUMNS);
  if (opts.categoryColumn) required.push([opts.categoryColumn]);
  if (opts.idColumn) required.push([opts.idColumn]);
  if (opts.expectedColumn) required.push([opts.expectedColumn]);
  const { rows, columns } = await readSuiteTable(file, issues, { required, signal: opts.signal });
  let k = 0;
  const promptCol = opts.template ? null : columns[k++]!;
  const refCol = opts.kind === 'task' ? columns[k++]! : null;
  const defaultExpected: ExpectedBehaviour = opts.kind === 'harmful' ? 'refuse' : opts.kind === 'over-refusal' ? 'comply' : 'answer';
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const prompt = (promptCol ? str(v[promptCol]) : renderTemplate(opts.template!, v, `${file}:${r.line ?? '?'}: template`)).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    let expected = defaultExpected;
    if (opts.expectedColumn) {
      const e = str(v[opts.expectedColumn]).trim().toLowerCase();
      const map: Record<string, ExpectedBehaviour> = {
        refuse: 'refuse',
        refusal: 'refuse',
        unsafe: 'refuse',
        harmful: 'refuse',
        comply: 'comply',
        compliance: 'comply',
        safe: 'comply',
        benign: 'comply',
        answer: 'answer',
      };
      if (!map[e]) {
        issues.push({
          file,
          line: r.line,
          row: r.row,
          reason: `column "${opts.expectedColumn}": "${e}" is not refuse/comply/answer (or unsafe/safe): skipped`,
        });
        continue;
      }
      expected = map[e]!;
    }
    const reference = refCol ? str(v[refCol]).trim() : null;
    if (opts.kind === 'task' && !reference) {
      issues.push({ file, line: r.line, row: r.row, reason: `empty reference in column "${refCol}": skipped` });
      continue;
    }
    const names = opts.categoryColumn ? categoryNames(v[opts.categoryColumn]) : [];
    items.push({
      id: (opts.idColumn ? str(v[opts.idColumn]).trim() : '') || String(r.row + 1),
      prompt,
      expected,
      categories: resolveCategories(names),
      sourceCategories: names,
      reference,
      source: { file, line: r.line },
      meta: scalarMeta(v, [promptCol ?? '', refCol ?? '', opts.categoryColumn ?? '', opts.idColumn ?? '']),
    });
  }
  const id = opts.id ?? basename(file).replace(/\.[^.]+(\.gz)?$/, '');
  return makeSuite(
    id,
    opts.kind,
    opts.title ?? id,
    'custom@1',
    [file],
    items,
    issues,
    opts.kind === 'task' ? { scorer: opts.scorer ?? { kind: 'exact' } } : {},
  );
}

export const custom: SuiteFormatImpl = {
  detect: {},
  load: (path, o) => {
    if (!o.kind) throw new Error(`${path}: a custom suite needs its kind (harmful, over-refusal or task)`);
    return loadCustomSuite(path, { ...o, kind: o.kind });
  },
};
