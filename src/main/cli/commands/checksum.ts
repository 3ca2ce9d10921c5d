import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import type { FileChecksumResult } from '../../../shared/jobs';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';

const usage = 'safetune checksum FILE [--project ID] [--workspace DIR] [--json]';

export const checksumCommand: Command = {
  name: 'checksum',
  usage,
  summary: "Print a file's SHA-256 (sha256sum's format) as a recorded job; --json adds the block digests",
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...workspaceOption, project: { type: 'string' } }, usage);
    if (positionals.length !== 1) throw new AppError('invalid_input', `expected one FILE\nusage: ${usage}`);
    return withServices(env, values.workspace, { runJobs: true }, async (s) => {
      const job = s.jobs.enqueue('file.checksum', { path: resolve(positionals[0]!) }, values.project ? Number(values.project) : null);
      const done = await runJobToEnd(s, job.id, env.io);
      if (done.state !== 'succeeded') return 1;
      const r = done.result as FileChecksumResult;
      env.io.out(values.json ? JSON.stringify(r) : sha256sumLine(r.sha256, positionals[0]!));
      return 0;
    });
  },
};

/**
 * One line as `sha256sum` prints it (so `sha256sum -c` accepts it): digest, two spaces, the name as
 * given; a name holding a backslash or newline is escaped and the line starts with a backslash.
 */
export function sha256sumLine(sha256: string, name: string): string {
  if (!/[\\\n\r]/.test(name)) return `${sha256}  ${name}`;
  return `\\${sha256}  ${name.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')}`;
}
