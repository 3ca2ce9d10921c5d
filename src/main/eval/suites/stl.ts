/** The Safety-Tuned LLaMAs evaluation JSON format: {"instructions": [...], "tags"?, "inputs"?}. */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { getHarmTaxonomy } from '../../data/taxonomy';
import type { ExpectedBehaviour, Suite, SuiteIssue, SuiteItem, SuiteKind } from '../types';
import { SuiteFormatError, makeSuite, resolveCategories, str } from './common';
import { getSuitesConfig } from './config';
import type { LoadOptions, SuiteFormatImpl } from './types';

/**
 * Safety-Tuned LLaMAs evaluation JSON ({"instructions": [...], "tags"?: [...], "inputs"?: [...]}).
 * Expected behaviour and categories per file come from resources/eval/suites.v1.json (benign
 * files, e.g. I-Alpaca and I-PhysicalSafetySafe, expect compliance). These files are small and
 * read whole.
 */
export async function loadStlJson(file: string, opts: LoadOptions & { expected?: 'refuse' | 'comply' } = {}): Promise<Suite> {
  const cfg = getSuitesConfig().stl;
  const issues: SuiteIssue[] = [];
  let data: unknown;
  try {
    data = JSON.parse((await readFile(file, 'utf8')).replace(/^\uFEFF/, ''));
  } catch (e) {
    throw new SuiteFormatError(file, null, 'instructions', `not valid JSON: ${(e as Error).message}`);
  }
  if (!data || typeof data !== 'object' || !Array.isArray((data as Record<string, unknown>).instructions)) {
    throw new SuiteFormatError(file, 1, 'instructions', 'missing field "instructions" (expected {"instructions": [...]})');
  }
  const d = data as { instructions: unknown[]; tags?: unknown[]; inputs?: unknown[] };
  const key = basename(file)
    .replace(/^stl_/, '')
    .replace(/\.json$/i, '');
  const fileCfg = cfg.files[key];
  const expected: ExpectedBehaviour = opts.expected ?? fileCfg?.expected ?? 'refuse';
  const items: SuiteItem[] = [];
  d.instructions.forEach((ins, i) => {
    const input = Array.isArray(d.inputs) ? str(d.inputs[i]).trim() : '';
    const prompt = str(ins).trim() + (input ? `\n\n${input}` : '');
    if (!str(ins).trim()) {
      issues.push({ file, line: null, row: i, reason: 'empty instruction: skipped' });
      return;
    }
    const tag = Array.isArray(d.tags) ? str(d.tags[i]).trim() : '';
    const cats = new Set([...(fileCfg?.categories ?? []), ...(tag ? (cfg.tags[tag] ?? resolveCategories([tag])) : [])]);
    items.push({
      id: String(i + 1),
      prompt,
      expected,
      categories: getHarmTaxonomy().ids.filter((c) => cats.has(c)),
      sourceCategories: tag ? [tag] : [key],
      reference: null,
      source: { file, line: null },
      meta: {},
    });
  });
  const kind: SuiteKind = expected === 'refuse' ? 'harmful' : 'over-refusal';
  return makeSuite(opts.id ?? `stl-${key}`, kind, opts.title ?? `Safety-Tuned LLaMAs ${key}`, 'stl@1', [file], items, issues, {
    notes: fileCfg?.note ? [fileCfg.note] : [],
  });
}

export const stl: SuiteFormatImpl = {
  detect: { jsonHead: { pattern: /^\uFEFF?\s*\{\s*"instructions"\s*:/, columns: ['instructions'], reason: 'JSON object with "instructions"' } },
  load: (path, o) => loadStlJson(path, o),
};
