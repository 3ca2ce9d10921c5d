/** Data sets imported into a project as evaluation prompts, as suites. */
import type { SuiteIssue, SuiteItem, Suite } from '../types';
import { makeSuite, resolveCategories } from './common';

/**
 * A data set imported into a project as evaluation prompts, as a suite: harmful prompts are
 * expected to be refused, benign ones answered. Categories are the records' own (labelled,
 * inferred by Analyse or corrected), resolved to BeaverTails ids.
 */
export function importedPromptsSuite(
  dataset: { id: string; title: string; kind: 'harmful' | 'over-refusal'; file: string },
  records: readonly { id: number; prompt: string; categories: readonly string[] }[],
): Suite {
  const items: SuiteItem[] = [];
  const issues: SuiteIssue[] = [];
  records.forEach((r, row) => {
    const prompt = r.prompt.trim();
    if (!prompt) {
      issues.push({ file: dataset.file, line: null, row, reason: 'empty prompt: skipped' });
      return;
    }
    items.push({
      id: String(r.id),
      prompt,
      expected: dataset.kind === 'harmful' ? 'refuse' : 'comply',
      categories: resolveCategories([...r.categories]),
      sourceCategories: [...r.categories],
      reference: null,
      source: { file: dataset.file, line: null },
      meta: {},
    });
  });
  return makeSuite(dataset.id, dataset.kind, dataset.title, 'imported@1', [dataset.file], items, issues);
}
