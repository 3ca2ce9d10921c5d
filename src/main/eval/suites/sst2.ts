/** The SST-2 format: sentence and label (0/1 or negative/positive). */
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { emptyPrompt, makeSuite, readSuiteTable, str } from './common';
import { getSuitesConfig } from './config';
import { applyFewShot, renderTemplate } from './fewShot';
import type { SuiteFormatImpl, TaskLoadOptions } from './types';

/** SST-2 TSV (sentence, label 0/1): reference "negative"/"positive". */
export async function loadSst2(file: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const template = opts.template ?? getSuitesConfig().templates.sst2;
  const { rows } = await readSuiteTable(file, issues, { required: ['sentence', 'label'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const s = str(r.value.sentence).trim();
    if (!s) {
      emptyPrompt(issues, file, r, 'sentence');
      continue;
    }
    const l = str(r.value.label).trim().toLowerCase();
    const ref = l === '1' || l === 'positive' ? 'positive' : l === '0' || l === 'negative' ? 'negative' : null;
    if (!ref) {
      issues.push({ file, line: r.line, row: r.row, reason: `label must be 0/1 or negative/positive, got "${str(r.value.label)}": skipped` });
      continue;
    }
    items.push({
      id: String(r.row + 1),
      prompt: renderTemplate(template, { ...r.value, sentence: s }, `${file}: template`),
      expected: 'answer',
      categories: [],
      sourceCategories: [],
      reference: ref,
      source: { file, line: r.line },
      meta: {},
    });
  }
  const shots = await applyFewShot(items, file, 'sst2@1', opts, ['sentence', 'label'], (v) => {
    const sentence = str(v.sentence).trim();
    const l = str(v.label).trim();
    const ans = l === '1' ? 'positive' : l === '0' ? 'negative' : null;
    return sentence && ans ? { prompt: renderTemplate(template, { ...v, sentence }, `${opts.fewShot!.file}: template`), answer: ans } : null;
  });
  return makeSuite(opts.id ?? 'sst2', 'task', opts.title ?? 'SST-2', shots.loader, shots.files, items, issues, {
    scorer: { kind: 'sst2' },
    notes: shots.notes,
  });
}

export const sst2: SuiteFormatImpl = {
  detect: { columns: (s) => (s.has('sentence', 'label') ? 'has sentence and label columns' : null) },
  load: loadSst2,
};
