/** The BeaverTails prompts format: a folder of per-category prompt files, or a file with prompt and category. */
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { getHarmTaxonomy } from '../../data/taxonomy';
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { categoryNames, emptyPrompt, makeSuite, readSuiteTable, resolveCategories, str } from './common';
import type { LoadOptions, SuiteFormatImpl } from './types';

/**
 * BeaverTails-style prompts: either a folder of per-category text files (one prompt a line, the
 * file name names the category; a prompt in several files gets all their categories), or a
 * CSV/JSONL/JSON file with a prompt field and a category field (object of booleans, list or name).
 */
export async function loadBeaverTails(path: string, opts: LoadOptions & { promptColumn?: string; categoryColumn?: string } = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const items: SuiteItem[] = [];
  const tax = getHarmTaxonomy();
  const files: string[] = [];
  if ((await stat(path)).isDirectory()) {
    const byPrompt = new Map<string, SuiteItem>();
    for (const name of (await readdir(path)).filter((n) => n.endsWith('.txt')).sort()) {
      const file = join(path, name);
      const cat = tax.resolve(name.replace(/\.txt$/, '')) ?? tax.resolve(name.replace(/^beavertails_|\.txt$/g, ''));
      if (!cat) {
        issues.push({ file, line: null, row: -1, reason: `file name does not name a BeaverTails category: skipped` });
        continue;
      }
      files.push(file);
      const lines = (await readFile(file, 'utf8')).split(/\r?\n/);
      lines.forEach((l, i) => {
        const prompt = l.trim();
        if (!prompt) {
          if (i < lines.length - 1) issues.push({ file, line: i + 1, row: i, reason: 'empty prompt: skipped' });
          return;
        }
        const have = byPrompt.get(prompt);
        if (have) {
          if (!have.categories.includes(cat)) have.categories.push(cat);
          if (!have.sourceCategories.includes(cat)) have.sourceCategories.push(cat);
          return;
        }
        byPrompt.set(prompt, {
          id: '',
          prompt,
          expected: 'refuse',
          categories: [cat],
          sourceCategories: [cat],
          reference: null,
          source: { file, line: i + 1 },
          meta: {},
        });
      });
    }
    let n = 0;
    for (const it of byPrompt.values()) {
      it.id = String(++n);
      it.categories = tax.ids.filter((id) => it.categories.includes(id));
      items.push(it);
    }
  } else {
    files.push(path);
    const promptCol = opts.promptColumn ? [opts.promptColumn] : ['prompt', 'question', 'instruction', 'text'];
    const catCol = opts.categoryColumn ? [opts.categoryColumn] : ['category', 'categories', 'harm_category'];
    const { rows, columns } = await readSuiteTable(path, issues, { required: [promptCol, catCol], signal: opts.signal });
    const [pc, cc] = [columns[0]!, columns[1]!];
    for (const r of rows) {
      const prompt = str(r.value[pc]).trim();
      if (!prompt) {
        emptyPrompt(issues, path, r);
        continue;
      }
      const names = categoryNames(r.value[cc]);
      const id = str(r.value.id).trim() || String(r.row + 1);
      items.push({
        id,
        prompt,
        expected: 'refuse',
        categories: resolveCategories(names),
        sourceCategories: names,
        reference: null,
        source: { file: path, line: r.line },
        meta: {},
      });
    }
  }
  return makeSuite(opts.id ?? 'beavertails', 'harmful', opts.title ?? 'BeaverTails-style unsafe prompts', 'beavertails@1', files, items, issues);
}

export const beavertails: SuiteFormatImpl = {
  detect: { folder: 'a folder: per-category prompt files', columns: (s) => (s.has('prompt', 'category') ? 'prompt with a category field' : null) },
  load: (path, o) => loadBeaverTails(path, o),
};
