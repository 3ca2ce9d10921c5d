/**
 * bench/RESULTS.md is shared by every benchmark: each owns one section between
 * `<!-- bench:NAME:start -->` and `<!-- bench:NAME:end -->` markers and rewrites only that.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const RESULTS_FILE = join(dirname(fileURLToPath(import.meta.url)), 'RESULTS.md');

export function writeResultsSection(name: string, markdown: string): string {
  const start = `<!-- bench:${name}:start -->`;
  const end = `<!-- bench:${name}:end -->`;
  const section = `${start}\n${markdown.trim()}\n${end}`;
  let text = existsSync(RESULTS_FILE) ? readFileSync(RESULTS_FILE, 'utf8') : '# Benchmark results\n';
  if (text.includes(start) && text.includes(end)) text = text.slice(0, text.indexOf(start)) + section + text.slice(text.indexOf(end) + end.length);
  else text = `${text.trimEnd()}\n\n${section}\n`;
  writeFileSync(RESULTS_FILE, text);
  return RESULTS_FILE;
}
