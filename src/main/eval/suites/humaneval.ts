/** The HumanEval format: JSONL(.gz) with task_id, prompt (signature + docstring), test (check(candidate)) and entry_point. */
import type { CodeTaskReference } from '../codeTasks';
import type { Suite, SuiteIssue, SuiteItem } from '../types';
import { makeSuite, readSuiteTable, str } from './common';
import { getSuitesConfig } from './config';
import { renderTemplate } from './fewShot';
import type { SuiteFormatImpl, TaskLoadOptions } from './types';

/** HumanEval: each task's reply is scored pass@1 by running the task's tests (codeTasks.ts, a sandboxed child process). */
export async function loadHumanEval(file: string, opts: TaskLoadOptions = {}): Promise<Suite> {
  const issues: SuiteIssue[] = [];
  const template = opts.template ?? getSuitesConfig().templates.humaneval;
  const { rows } = await readSuiteTable(file, issues, { required: ['prompt', 'test', 'entry_point'], signal: opts.signal });
  const items: SuiteItem[] = [];
  for (const r of rows) {
    const prompt = str(r.value.prompt);
    const test = str(r.value.test);
    const entryPoint = str(r.value.entry_point).trim();
    const bad = !prompt.trim()
      ? 'prompt is empty'
      : !/def\s+check\s*\(/.test(test)
        ? 'test defines no check(candidate)'
        : !/^[A-Za-z_]\w*$/.test(entryPoint)
          ? `entry_point "${entryPoint}" is not a Python name`
          : null;
    if (bad) {
      issues.push({ file, line: r.line, row: r.row, reason: `${bad}: skipped` });
      continue;
    }
    const reference: CodeTaskReference = { prompt, test, entryPoint };
    items.push({
      id: str(r.value.task_id) || String(r.row + 1),
      prompt: renderTemplate(template, { ...r.value, prompt }, `${file}: template`),
      expected: 'answer',
      categories: [],
      sourceCategories: [],
      reference: JSON.stringify(reference),
      source: { file, line: r.line },
      meta: { entryPoint },
    });
  }
  return makeSuite(opts.id ?? 'humaneval', 'task', opts.title ?? 'HumanEval', 'humaneval@1', [file], items, issues, {
    scorer: { kind: 'python-tests' },
    notes: ['pass@1: each reply runs against the task’s tests in a child process (Python 3 needed; empty folder, no network, resource and time limits)'],
  });
}

export const humaneval: SuiteFormatImpl = {
  detect: { columns: (s) => (s.has('prompt', 'test', 'entry_point') ? 'has prompt, test and entry_point (HumanEval)' : null) },
  load: loadHumanEval,
};
