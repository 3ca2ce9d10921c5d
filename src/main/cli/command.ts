import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { AppError } from '../../shared/errors';
import { createServices, type ServiceOptions, type Services } from '../app/services';
import { resolveWorkspace } from '../app/workspace';
import { describeIssues } from '../data/zodUtil';
import { HelpRequested, commandHelp } from './help';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
}

export interface CliEnv {
  io: CliIo;
  /** Where the job worker entry lives for this build. */
  workerScript: string;
  /** The built renderer, for `serve`. */
  rendererDir: string;
}

/** One CLI command (`safetune <name> ...`). Commands use the same services as the app. */
export interface Command {
  name: string;
  usage: string;
  summary: string;
  run(argv: string[], env: CliEnv): Promise<number>;
}

export const workspaceOption = { workspace: { type: 'string' }, json: { type: 'boolean', default: false } } as const;

/**
 * Parses a command's arguments (strict: unknown options are errors naming the usage). `--help`
 * anywhere shows the command's help: its usage and options, described by `docs` (option name →
 * one sentence) or, for the common ones, by help.ts.
 */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, usage: string, docs: Record<string, string> = {}) {
  if (argv.includes('--help') || argv.includes('-h')) throw new HelpRequested(commandHelp(usage, options, docs));
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new AppError('invalid_input', `${(e as Error).message}\nusage: ${usage}`);
  }
}

/** A command's job parameters checked by their schema; an invalid field is an `invalid_input` error naming it. */
export function jobParams<T extends z.ZodType>(schema: T, value: unknown): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new AppError('invalid_input', describeIssues(parsed.error));
  return parsed.data;
}

/** Opens the workspace's services for a command; `runJobs` only for commands that run jobs. */
export async function withServices<T>(
  env: CliEnv,
  workspaceFlag: string | undefined,
  opts: Partial<ServiceOptions>,
  fn: (s: Services) => Promise<T>,
): Promise<T> {
  const services = createServices({
    workspace: resolveWorkspace(workspaceFlag ? ['--workspace', workspaceFlag] : [], process.env),
    mode: 'cli',
    workerScript: env.workerScript,
    runJobs: false,
    ...opts,
  });
  try {
    return await fn(services);
  } finally {
    await services.close();
  }
}

export function table(rows: Record<string, unknown>[], columns: string[]): string {
  const cells = rows.map((r) => columns.map((c) => String(r[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}
