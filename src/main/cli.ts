/** CLI entry (built to out/main/cli.js, run by bin/safetune.js): `safetune <command>`. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './cli/main';
import { defaultWorkerScript } from './jobs/runner';

const here = dirname(fileURLToPath(import.meta.url));

const code = await runCli(process.argv.slice(2), {
  io: { out: (l) => process.stdout.write(l + '\n'), err: (l) => process.stderr.write(l + '\n') },
  workerScript: defaultWorkerScript(import.meta.url),
  rendererDir: join(here, '..', 'renderer'),
});
process.exitCode = code;
