/**
 * The layer checker: reads every import of every source file under a root (with the TypeScript
 * compiler's own pre-processor, so `import type`, `export … from`, `import()` and `require()` all
 * count, and commented-out code does not), places each file and each imported module in a layer
 * group, and reports every import a rule forbids, every file in no group and every import cycle,
 * naming the file, the line and the rule; it also checks that file names follow the case rules of
 * their kind. The rules themselves are in ./rules.ts; ./lint.ts is the command (`npm run lint:layers`).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, sep } from 'node:path';
import ts from 'typescript';

/**
 * What an import may name in a rule: a group of ./rules.ts, `npm:<package>` (e.g. npm:electron), or
 * `node:builtin` (any Node built-in module, with or without the node: prefix).
 */
export type Target = string;

export interface LayerRule {
  /** Printed with every violation. */
  id: string;
  /** Why the rule exists, printed with its violations. */
  why: string;
  /** The groups whose files the rule applies to; '*' for every file. */
  from: string[];
  /** Groups left out of a '*'. */
  except?: string[];
  /** Imports of these are violations. */
  forbid?: Target[];
  /** An import of a project file outside these groups is a violation (packages are left to `forbid`). */
  onlyProject?: string[];
}

/** How the files of one kind are named: the first rule whose `files` matches a file's path applies. */
export interface FileNameRule {
  /** Printed with every violation. */
  id: string;
  /** The convention in words, printed with its violations. */
  why: string;
  /** The files of this kind (tested on the path relative to the root). */
  files: RegExp;
  /** The name without its extension must match this. */
  name: RegExp;
}

export interface LayerRules {
  groups: Record<string, string[]>;
  rules: LayerRule[];
  /** File names: one rule per kind of file. */
  fileNames?: { rules: FileNameRule[] };
  /** Folders every file of which must be in a group. */
  placed: string[];
  /** Folders whose files must not import each other in a cycle. */
  acyclic: string[];
}

export interface Violation {
  rule: string;
  /** Importing file, relative to the root with forward slashes. */
  file: string;
  /** 1-based line of the import (0 for a violation of the file as a whole). */
  line: number;
  /** The module as written in the import ('' for a file in no group). */
  specifier: string;
  /** The imported module's group or package ('' when none). */
  target: string;
  message: string;
}

interface ImportRef {
  specifier: string;
  line: number;
  /** A project file (relative to the root) or null for a package. */
  file: string | null;
  target: Target | null;
}

const SOURCE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;
const RESOLVE_SUFFIXES = ['', '.ts', '.tsx', '.mts', '.js', '.mjs', '.json', '/index.ts', '/index.tsx', '/index.js'];
const BUILTINS = new Set(builtinModules);

/** Every violation of `rules` in the source files under `root`/src. */
export function checkLayers(root: string, rules: LayerRules): Violation[] {
  const files = sourceFiles(root, 'src');
  const imports = new Map(files.map((f) => [f, readImports(root, f, rules)]));
  const out: Violation[] = [];
  for (const [file, refs] of imports) {
    const group = groupOf(file, rules);
    if (group === null && rules.placed.some((p) => file.startsWith(p))) {
      out.push({
        rule: 'placed',
        file,
        line: 0,
        specifier: '',
        target: '',
        message: `is in no layer group: add its folder to the groups of scripts/layers/rules.ts`,
      });
    }
    for (const rule of rules.rules) {
      if (!applies(rule, group)) continue;
      for (const ref of refs) {
        const why = breaks(rule, ref);
        if (why) out.push({ rule: rule.id, file, line: ref.line, specifier: ref.specifier, target: ref.target ?? '', message: `${why}: ${rule.why}` });
      }
    }
  }
  if (rules.fileNames) out.push(...fileNameViolations(files, rules.fileNames));
  out.push(...cycles(imports, rules.acyclic));
  return out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.rule.localeCompare(b.rule));
}

/** One line per violation: `file:line  rule  what`. */
export function formatViolations(violations: readonly Violation[]): string {
  return violations.map((v) => `${v.file}${v.line ? `:${v.line}` : ''}  [${v.rule}]  ${v.message}`).join('\n');
}

/** The group of a project file: the one whose path matches longest; null when none does. */
export function groupOf(file: string, rules: LayerRules): string | null {
  let best: { group: string; length: number } | null = null;
  for (const [group, paths] of Object.entries(rules.groups)) {
    for (const p of paths) {
      const hit = p.endsWith('/') ? file.startsWith(p) : file === p;
      if (hit && (!best || p.length > best.length)) best = { group, length: p.length };
    }
  }
  return best?.group ?? null;
}

/** A file's name without its folder and extension ("index" for "src/main/index.ts"). */
export function baseName(file: string): string {
  return file.slice(file.lastIndexOf('/') + 1).replace(SOURCE, '');
}

/** The file-name rule a file breaks, or null. */
export function fileNameRuleBroken(file: string, rules: readonly FileNameRule[]): FileNameRule | null {
  const rule = rules.find((r) => r.files.test(file));
  return rule && !rule.name.test(baseName(file)) ? rule : null;
}

function fileNameViolations(files: readonly string[], names: NonNullable<LayerRules['fileNames']>): Violation[] {
  const out: Violation[] = [];
  for (const file of files) {
    const rule = fileNameRuleBroken(file, names.rules);
    if (rule)
      out.push({
        rule: rule.id,
        file,
        line: 0,
        specifier: '',
        target: '',
        message: `"${baseName(file)}" is not named as ${rule.why}; rename it and update its imports`,
      });
  }
  return out;
}

function applies(rule: LayerRule, group: string | null): boolean {
  if (rule.from.includes('*')) return !(group && rule.except?.includes(group));
  return group !== null && rule.from.includes(group);
}

/** Why `ref` breaks `rule`, or null when it does not. */
function breaks(rule: LayerRule, ref: ImportRef): string | null {
  const what = `imports '${ref.specifier}'${ref.target ? ` (${ref.target})` : ''}`;
  if (ref.target && rule.forbid?.includes(ref.target)) return what;
  if (ref.file !== null && rule.onlyProject && !(ref.target && rule.onlyProject.includes(ref.target))) return `${what}, outside ${rule.onlyProject.join(', ')}`;
  return null;
}

/** Source files under root/dir, relative to root with forward slashes (declaration files left out). */
function sourceFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        if (e.name !== 'node_modules') walk(r);
      } else if (e.isFile() && SOURCE.test(e.name) && !/\.d\.[mc]?ts$/.test(e.name)) out.push(r);
    }
  };
  if (existsSync(join(root, dir))) walk(dir);
  return out.sort();
}

/** The imports of one file, each resolved to a project file and group, or to a package. */
function readImports(root: string, file: string, rules: LayerRules): ImportRef[] {
  const text = readFileSync(join(root, file), 'utf8');
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map(({ fileName: specifier, pos }) => {
    const line = lineAt(text, pos);
    if (specifier.startsWith('.')) {
      const target = resolveRelative(root, file, specifier);
      return { specifier, line, file: target, target: groupOf(target, rules) };
    }
    return { specifier, line, file: null, target: packageTarget(specifier) };
  });
}

function lineAt(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The project file a relative import names (as the bundler resolves it), or the path as written when none exists. */
function resolveRelative(root: string, from: string, specifier: string): string {
  const base = join(dirname(from), specifier).split(sep).join('/');
  const candidates = [base, base.replace(/\.[mc]?js$/, '.ts'), base.replace(/\.jsx$/, '.tsx')];
  for (const c of candidates) {
    for (const suffix of RESOLVE_SUFFIXES) {
      const p = join(root, c + suffix);
      if (existsSync(p) && statSync(p).isFile()) return c + suffix;
    }
  }
  return base;
}

function packageTarget(specifier: string): Target {
  if (specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0]!)) return 'node:builtin';
  const parts = specifier.split('/');
  return `npm:${specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]}`;
}

/** Import cycles among the files under `folders` (Tarjan's strongly connected components), one violation each. */
function cycles(imports: Map<string, ImportRef[]>, folders: readonly string[]): Violation[] {
  const inScope = (f: string) => folders.some((p) => f.startsWith(p));
  const edges = new Map<string, ImportRef[]>();
  for (const [file, refs] of imports) {
    if (inScope(file))
      edges.set(
        file,
        refs.filter((r) => r.file !== null && inScope(r.file) && imports.has(r.file)),
      );
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  let next = 0;
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const ref of edges.get(v) ?? []) {
      const w = ref.file!;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const c: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        c.push(w);
      } while (w !== v);
      if (c.length > 1 || (edges.get(v) ?? []).some((r) => r.file === v)) components.push(c.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) visit(v);
  return components.map((c) => {
    const path = cyclePath(c[0]!, new Set(c), edges);
    const first = edges.get(c[0]!)!.find((r) => r.file === path[1])!;
    return {
      rule: 'acyclic',
      file: c[0]!,
      line: first.line,
      specifier: first.specifier,
      target: '',
      message: `is in an import cycle of ${c.length} file${c.length > 1 ? 's' : ''}: ${path.join(' -> ')}`,
    };
  });
}

/** The shortest path from `start` back to itself inside one component (breadth-first). */
function cyclePath(start: string, members: Set<string>, edges: Map<string, ImportRef[]>): string[] {
  const prev = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const r of edges.get(v) ?? []) {
      const w = r.file!;
      if (!members.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u = v; u !== start; u = prev.get(u)!) path.splice(1, 0, u);
        return [...path, start];
      }
      if (!prev.has(w)) {
        prev.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}
