/** The HarmBench behaviours format: Behavior, SemanticCategory, ContextString, BehaviorID. */
import { basename } from 'node:path';
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { emptyPrompt, makeSuite, readSuiteTable, resolveCategories, str } from './common';
import type { LoadOptions, SuiteFormatImpl } from './types';

/**
 * HarmBench-style behaviours CSV: Behavior (prompt), SemanticCategory (mapped through the taxonomy),
 * optional ContextString (prepended as HarmBench does for contextual behaviours), BehaviorID.
 */
export async function loadHarmBenchCsv(file: string, opts: LoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const { rows } = await readSuiteTable(file, issues, { required: [['Behavior', 'behavior', 'prompt']], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const v = r.value;
    const behavior = str(v.Behavior ?? v.behavior ?? v.prompt).trim();
    if (!behavior) {
      emptyPrompt(issues, file, r, 'behavior');
      continue;
    }
    const ctx = str(v.ContextString ?? v.context_string ?? v.context).trim();
    const semantic = str(v.SemanticCategory ?? v.semantic_category ?? v.category).trim();
    const id = str(v.BehaviorID ?? v.behavior_id ?? v.id).trim() || String(r.row + 1);
    const prompt = ctx ? `${ctx}\n\n---\n\n${behavior}` : behavior;
    items.push({
      id,
      prompt,
      expected: 'refuse',
      categories: semantic ? resolveCategories([semantic]) : [],
      sourceCategories: semantic ? [semantic] : [],
      reference: null,
      source: { file, line: r.line },
      meta: { functionalCategory: str(v.FunctionalCategory ?? v.functional_category) || null, contextual: !!ctx },
    });
  }
  return makeSuite(opts.id ?? 'harmbench', 'harmful', opts.title ?? `HarmBench-style behaviours (${basename(file)})`, 'harmbench@1', [file], items, issues);
}

export const harmbench: SuiteFormatImpl = {
  detect: { columns: (s) => (s.has('Behavior') || s.has('behavior', 'semantic_category') ? 'has a "Behavior" column' : null) },
  load: loadHarmBenchCsv,
};
