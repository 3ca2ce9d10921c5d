/** The AdvBench format: harmful_behaviors.csv, goal (the prompt) and target. */
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { emptyPrompt, makeSuite, readSuiteTable, str } from './common';
import type { LoadOptions, SuiteFormatImpl } from './types';

/** AdvBench harmful_behaviors.csv: goal (prompt), target (kept as reference). No categories. */
export async function loadAdvBench(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readSuiteTable(file, issues, { required: ['goal'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const prompt = str(r.value.goal).trim();
    if (!prompt) {
      emptyPrompt(issues, file, r);
      continue;
    }
    items.push({
      id: String(r.row + 1),
      prompt,
      expected: 'refuse',
      categories: [],
      sourceCategories: [],
      reference: str(r.value.target) || null,
      source: { file, line: r.line },
      meta: {},
    });
  }
  return makeSuite(opts.id ?? 'advbench', 'harmful', opts.title ?? 'AdvBench harmful behaviours', 'advbench@1', [file], items, issues);
}

export const advbench: SuiteFormatImpl = {
  detect: { columns: (s) => (s.has('goal') ? 'has a "goal" column' : null) },
  load: loadAdvBench,
};
