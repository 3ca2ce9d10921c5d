import { resolve } from 'node:path';
import { AppError } from '../../../shared/errors';
import { parse, withServices, workspaceOption, type Command } from '../command';
import { runJobToEnd } from '../runJob';

const usage = 'safetune checksum FILE [--project ID] [--workspace DIR] [--json]';

export const checksumCommand: Command = {
  name: 'checksum',
  usage,
  summary: 'Fingerprint a data file (block SHA-256s) as a recorded job',
  async run(argv, env) {
    const { values, positionals } = parse(argv, { ...workspaceOption, project: { type: 'string' } }, usage);
    if (positionals.length !== 1) throw new AppError('invalid_input', `expected one FILE\nusage: ${usage}`);
    return withServices(env, values.workspace, { runJobs: true }, async (s) => {
      const job = s.jobs.enqueue('file.checksum', { path: resolve(positionals[0]!) }, values.project ? Number(values.project) : null);
      const done = await runJobToEnd(s, job.id, env.io);
      if (done.state !== 'succeeded') return 1;
      const r = done.result as { digest: string; sizeBytes: number };
      env.io.out(values.json ? JSON.stringify(done.result) : `${r.digest}  ${positionals[0]} (${r.sizeBytes} bytes)`);
      return 0;
    });
  },
};
