/**
 * Help text for the CLI: the command list and each command's `--help` in aligned columns (one
 * column for names, descriptions wrapped beside it), usage lines wrapped at option boundaries.
 */
import type { ParseArgsConfig } from 'node:util';

/** Help lines are at most this wide. */
export const HELP_WIDTH = 100;
/** The name column is at most this wide; a longer name puts its description on the next line. */
const NAME_COLUMN_MAX = 30;

/** `safetune <command> --help`: thrown by `parse`, printed by runCli (exit code 0). */
export class HelpRequested extends Error {
  constructor(readonly text: string) {
    super('help');
    this.name = 'HelpRequested';
  }
}

/** Words of `text` filled into lines of at most `width` characters (a longer word gets its own line). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines.length ? lines : [''];
}

/**
 * `text` cut into pieces of at most `width`: at spaces, and where a run without spaces is still too
 * long (a list of choices "q8_0|q4_0|…"), after a "|" or ",".
 */
export function breakLong(text: string, width: number): string[] {
  return wrap(text, width).flatMap((line) => {
    if (line.length <= width) return [line];
    const parts: string[] = [];
    let cur = '';
    for (const piece of line.split(/(?<=[|,])/)) {
      if (cur && cur.length + piece.length > width) {
        parts.push(cur);
        cur = piece;
      } else cur += piece;
    }
    if (cur) parts.push(cur);
    return parts;
  });
}

/** Rows of [name, description] as two aligned columns, descriptions wrapped, indented by `indent`. */
export function columns(rows: readonly (readonly [string, string])[], width = HELP_WIDTH, indent = 2): string {
  const nameW = Math.min(NAME_COLUMN_MAX, Math.max(0, ...rows.map(([n]) => n.length)));
  const descX = indent + nameW + 2;
  const out: string[] = [];
  for (const [name, desc] of rows) {
    const body = desc ? wrap(desc, Math.max(20, width - descX)) : [''];
    if (name.length > nameW) {
      for (const l of breakLong(name, width - indent)) out.push(' '.repeat(indent) + l);
      for (const l of body) if (l) out.push(' '.repeat(descX) + l);
    } else {
      out.push((' '.repeat(indent) + name.padEnd(nameW) + '  ' + body[0]).trimEnd());
      for (const l of body.slice(1)) out.push(' '.repeat(descX) + l);
    }
  }
  return out.join('\n');
}

/** Splits a usage line at spaces outside brackets and parentheses: "[--a N]" stays whole. */
function usageTokens(line: string): string[] {
  const tokens: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of line) {
    if (ch === '[' || ch === '(') depth++;
    if (ch === ']' || ch === ')') depth = Math.max(0, depth - 1);
    if (ch === ' ' && depth === 0) {
      if (cur) tokens.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur) tokens.push(cur);
  return tokens;
}

/**
 * A usage string with each synopsis line ("safetune generate …") wrapped at option boundaries,
 * continuation lines indented under the first option; list rows ("  der  DER: …") wrapped under
 * their text, other lines under their own indent.
 */
export function wrapUsage(usage: string, width = HELP_WIDTH): string {
  return usage
    .split('\n')
    .flatMap((line) => {
      const lead = /^\s*/.exec(line)![0];
      if (line.length <= width) return [line];
      if (!/^\s*safetune /.test(line)) {
        // a list row ("  der  DER: …"): wrap its text under itself
        const row = /^(\s+\S+\s{2,})(.*)$/.exec(line);
        if (!row) return wrap(line, Math.max(20, width - lead.length)).map((l) => lead + l);
        const pad = ' '.repeat(row[1]!.length);
        return wrap(row[2]!, Math.max(20, width - pad.length)).map((l, i) => (i === 0 ? row[1]! : pad) + l);
      }
      const [cmd, sub, ...tokens] = usageTokens(line.trim());
      const head = `${lead}${cmd} ${sub}`;
      const pad = ' '.repeat(head.length + 1);
      // a bracketed group wider than a line is broken inside (at spaces, then after "|")
      const rest = tokens.flatMap((t) => (t.length > width - pad.length ? breakLong(t, width - pad.length) : [t]));
      const lines: string[] = [];
      let cur = head;
      for (const t of rest) {
        if (cur.length + 1 + t.length > width && cur !== head && cur.trim() !== '') {
          lines.push(cur);
          cur = pad + t;
        } else cur = `${cur} ${t}`;
      }
      lines.push(cur);
      return lines;
    })
    .join('\n');
}

/** What common options mean, for every command that has them. */
const COMMON_DOCS: Record<string, string> = {
  workspace: 'The workspace folder (default: SAFETUNE_WORKSPACE, else ~/SafeTune).',
  json: 'Print the result as JSON instead of text.',
  project: 'The project, by id (see `safetune projects list`).',
  model: 'A GGUF file or a Hugging Face model folder.',
  adapter: 'A LoRA adapter folder (PEFT layout) applied to the model.',
  'max-tokens': 'The most tokens to generate.',
  seed: 'The random seed, for reproducible results.',
};

type Options = NonNullable<ParseArgsConfig['options']>;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * What the usage says of a valued option: the value it takes ("--model PATH" → "PATH", "--template
 * alpaca|chat|plain" → those) and the range in brackets after it, if any ("(1–256, default 8)").
 */
function usageOf(usage: string, name: string): { value: string; range: string } {
  const m = new RegExp(`--${escape(name)} ([^\\s\\])]+)(?: \\(([^)]*)\\))?`).exec(usage);
  return { value: m?.[1] ?? 'VALUE', range: m?.[2] ?? '' };
}

/** A command's `--help`: its usage, wrapped, then its options in aligned columns. */
export function commandHelp(usage: string, options: Options, docs: Record<string, string> = {}): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const u = usageOf(usage, name);
    const flag = o.type === 'boolean' ? `--${name}` : `--${name} ${u.value}${o.multiple ? ' …' : ''}`;
    const doc = docs[name] ?? COMMON_DOCS[name] ?? '';
    const hasDefault = o.default !== undefined && o.default !== false && !(Array.isArray(o.default) && o.default.length === 0);
    const range = u.range ? ` (${u.range})` : hasDefault ? ` (default ${String(o.default)})` : '';
    return [flag, `${doc}${range}`.trim()] as const;
  });
  const lines = wrapUsage(usage, HELP_WIDTH - 'usage: '.length).split('\n');
  return `${lines.map((l, i) => (i === 0 ? 'usage: ' : '       ') + l).join('\n')}\n\noptions:\n${columns([...rows, ['--help', 'Show this help.']])}`;
}
