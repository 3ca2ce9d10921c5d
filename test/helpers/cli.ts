import { runCli } from '../../src/main/cli/main';
import { workerScript } from './services';

/** Runs `safetune ARGS` in-process, capturing stdout/stderr lines. */
export async function cli(args: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { io: { out: (l) => out.push(l), err: (l) => err.push(l) }, workerScript, rendererDir: '/nonexistent' });
  return { code, out, err: err.join('\n') };
}
