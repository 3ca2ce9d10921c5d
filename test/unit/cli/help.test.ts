/**
 * CLI help: the command list and every command's --help in aligned columns, descriptions wrapped
 * so no line is wider than HELP_WIDTH; usage lines wrapped at option boundaries.
 */
import { describe, expect, it } from 'vitest';
import { commands } from '../../../src/main/cli/commands';
import { HELP_WIDTH, breakLong, columns, wrap, wrapUsage } from '../../../src/main/cli/help';
import { cli } from '../../helpers/cli';

/** The column where the descriptions of option rows start (rows with a name and text on one line). */
function descriptionColumns(lines: string[]): Set<number> {
  return new Set(lines.filter((l) => /^ {2}--\S.*?\S {2,}\S/.test(l)).map((l) => /^ {2}--\S+(?: \S+)?(?: …)? {2,}/.exec(l)![0].length));
}

describe('CLI help', () => {
  it('lists every command with its summary in one aligned column', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    const lines = r.out.join('\n').split('\n');
    const rows = lines.filter((l) => /^ {2}\S/.test(l));
    expect(rows.map((l) => l.trim().split(/\s+/)[0])).toEqual(commands.map((c) => c.name));
    const width = Math.max(...commands.map((c) => c.name.length));
    for (const l of rows) expect(l.slice(2 + width, 4 + width)).toBe('  ');
    expect(new Set(rows.map((l) => /^ {2}\S+ +/.exec(l)![0].length)).size).toBe(1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(HELP_WIDTH);
  });

  it.each(commands.map((c) => c.name))('shows "%s --help" with its options in one column, wrapped', async (name) => {
    const r = await cli([name, '--help']);
    expect(r.code, r.err).toBe(0);
    const text = r.out.join('\n');
    expect(text.startsWith(`usage: safetune ${name}`)).toBe(true);
    const lines = text.split('\n');
    const options = lines.slice(lines.indexOf('options:') + 1);
    expect(options.at(-1)).toMatch(/^ {2}--help +Show this help\.$/);
    expect(descriptionColumns(options).size).toBe(1);
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(HELP_WIDTH);
  });

  // every option of these commands is described (from the method and settings tables where they have one)
  it.each(['detect', 'data', 'merge', 'select', 'eval', 'train', 'export-recipe', 'model', 'serve', 'generate', 'experiment', 'replicate'])(
    'describes every option of "%s --help"',
    async (name) => {
      const r = await cli([name, '--help']);
      const lines = r.out.join('\n').split('\n');
      const options = lines.slice(lines.indexOf('options:') + 1);
      const bare = options.filter((l, i) => /^ {2}--/.test(l) && !/^ {2}--\S+(?: \S+)?(?: …)? {2,}\S/.test(l) && !/^ {10,}\S/.test(options[i + 1] ?? ''));
      expect(bare).toEqual([]);
    },
  );

  it('describes generate --chat-template', async () => {
    const r = await cli(['generate', '--help']);
    expect(r.out.join('\n')).toContain(
      "  --chat-template FILE  A chat template file to use instead of the model's: a Jinja file, or a\n" +
        '                        tokenizer_config.json whose chat_template is used. Implies --chat.',
    );
  });

  it('wraps words, columns and usage lines', () => {
    expect(wrap('one two three four', 9)).toEqual(['one two', 'three', 'four']);
    expect(
      columns(
        [
          ['--a', 'short'],
          ['--long-name X', 'a description that wraps onto a second line'],
        ],
        41,
      ),
    ).toBe('  --a            short\n  --long-name X  a description that wraps\n                 onto a second line');
    expect(wrapUsage('safetune x --a A [--b B (1–2, default 1)] [--c]', 36)).toBe('safetune x --a A\n           [--b B (1–2, default 1)]\n           [--c]');
  });

  it('breaks groups and choice lists wider than a line', () => {
    expect(breakLong('q8_0|q4_0|q4_1|q5_0|q5_1', 12)).toEqual(['q8_0|q4_0|', 'q4_1|q5_0|', 'q5_1']);
    const choices = Array.from({ length: 30 }, (_, i) => `q${i}_k`).join('|');
    const usage = `safetune model quantize PATH --type ${choices} [LoRA: ${Array.from({ length: 12 }, (_, i) => `[--opt-${i} N (1–9, default ${i})]`).join(' ')} | --full [--out PATH]] [--json]`;
    const lines = wrapUsage(usage, 80).split('\n');
    for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(80);
    expect(lines.join(' ').replace(/\s+/g, ' ').replace(/\| /g, '|')).toBe(usage.replace(/\| /g, '|'));
    const rows = columns(
      [
        [`--type ${choices}`, 'the type'],
        ['--x', 'y'],
      ],
      60,
    ).split('\n');
    for (const l of rows) expect(l.length, l).toBeLessThanOrEqual(60);
  });
});
