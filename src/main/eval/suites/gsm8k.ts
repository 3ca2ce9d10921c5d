/** The GSM8K format: JSONL with question and an answer ending "#### N". */
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { emptyPrompt, makeSuite, readSuiteTable, str } from './common';
import { getSuitesConfig } from './config';
import { applyFewShot, renderTemplate } from './fewShot';
import type { SuiteFormatImpl, TaskLoadOptions } from './types';

/** GSM8K JSONL (question, answer ending "#### N"): reference = N with thousands separators removed. */
export async function loadGsm8k(file: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const template = opts.template ?? getSuitesConfig().templates.gsm8k;
  const { rows } = await readSuiteTable(file, issues, { required: ['question', 'answer'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const q = str(r.value.question).trim();
    if (!q) {
      emptyPrompt(issues, file, r, 'question');
      continue;
    }
    const m = /####\s*(.+?)\s*$/.exec(str(r.value.answer));
    if (!m) {
      issues.push({ file, line: r.line, row: r.row, reason: 'answer has no "#### N" final answer: skipped' });
      continue;
    }
    items.push({
      id: String(r.row + 1),
      prompt: renderTemplate(template, { ...r.value, question: q }, `${file}: template`),
      expected: 'answer',
      categories: [],
      sourceCategories: [],
      reference: m[1]!.replace(/,/g, ''),
      source: { file, line: r.line },
      meta: {},
    });
  }
  const shots = await applyFewShot(items, file, 'gsm8k@1', opts, ['question', 'answer'], (v) => {
    const q = str(v.question).trim();
    const a = str(v.answer)
      .replace(/<<[^>]*>>/g, '')
      .trim();
    return q && /####/.test(a) ? { prompt: renderTemplate(template, { ...v, question: q }, `${opts.fewShot!.file}: template`), answer: a } : null;
  });
  return makeSuite(opts.id ?? 'gsm8k', 'task', opts.title ?? 'GSM8K', shots.loader, shots.files, items, issues, {
    scorer: { kind: 'gsm8k' },
    notes: shots.notes,
  });
}

export const gsm8k: SuiteFormatImpl = {
  detect: {
    columns: (s) => (s.has('question', 'answer') && s.first && /####/.test(str(s.first.answer)) ? 'question/answer with a "#### N" final answer' : null),
  },
  load: loadGsm8k,
};
