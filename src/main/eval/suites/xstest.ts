/** The XSTest format: prompt, type, label (safe: to be answered; unsafe: contrast prompts to be refused). */
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { emptyPrompt, makeSuite, readSuiteTable, str } from './common';
import type { LoadOptions, SuiteFormatImpl } from './types';

/**
 * XSTest prompts CSV (id,prompt,type,label,focus,note): label "safe" → must be answered
 * (expected comply), "unsafe" (contrast prompts) → expected refuse. sourceCategories = [type].
 */
export async function loadXSTest(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readSuiteTable(file, issues, { required: ['prompt', 'label', 'type'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const prompt = str(v.prompt).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    const label = str(v.label).trim().toLowerCase();
    if (label !== 'safe' && label !== 'unsafe') {
      issues.push({ file, line: r.line, row: r.row, reason: `label must be "safe" or "unsafe", got "${str(v.label)}": skipped` });
      continue;
    }
    items.push({
      id: str(v.id).trim() || String(r.row + 1),
      prompt,
      expected: label === 'safe' ? 'comply' : 'refuse',
      categories: [],
      sourceCategories: [str(v.type).trim()],
      reference: null,
      source: { file, line: r.line },
      meta: { label, type: str(v.type).trim(), focus: str(v.focus) || null, note: str(v.note) || null },
    });
  }
  return makeSuite(opts.id ?? 'xstest', 'over-refusal', opts.title ?? 'XSTest', 'xstest@1', [file], items, issues);
}

export const xstest: SuiteFormatImpl = {
  detect: { columns: (s) => (s.has('prompt', 'label', 'type') ? 'has prompt, label and type columns' : null) },
  load: loadXSTest,
};
