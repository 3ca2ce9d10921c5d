import { isAppError } from '../../shared/errors';
import type { CliEnv } from './command';
import { commands } from './commands';
import { HelpRequested, columns } from './help';

/**
 * Runs one CLI invocation; returns the exit code. Errors become one clear line on stderr.
 * The CLI is the user at their own shell: its commands call the services directly, not the
 * contract handlers, so the workspace's access policy (src/main/access: granted folders, write
 * folders, configured servers) deliberately does not confine it.
 */
export async function runCli(argv: string[], env: CliEnv): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    env.io.out(
      `usage: safetune <command> [options]\n\ncommands:\n${columns(commands.map((c) => [c.name, c.summary]))}\n\nsafetune <command> --help shows a command's usage and options.`,
    );
    return name ? 0 : 2;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    env.io.err(`safetune: unknown command "${name}" (try safetune --help)`);
    return 2;
  }
  try {
    return await cmd.run(rest, env);
  } catch (e) {
    if (e instanceof HelpRequested) {
      env.io.out(e.text);
      return 0;
    }
    if (isAppError(e)) env.io.err(`safetune ${name}: ${e.message}`);
    else if ((e as { name?: string }).name === 'ZodError') env.io.err(`safetune ${name}: ${(e as Error).message}`);
    else env.io.err(`safetune ${name}: ${(e as Error)?.stack ?? String(e)}`);
    return 1;
  }
}
