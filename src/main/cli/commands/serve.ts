import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AppError, isAppError } from '../../../shared/errors';
import { createDispatcher } from '../../app/dispatch';
import { createHandlers } from '../../app/handlers';
import { createServices } from '../../app/services';
import { resolveWorkspace } from '../../app/workspace';
import { startBrowserServer } from '../../server/browserServer';
import { openInBrowser, writeLaunchFile, type LaunchFile } from '../../server/launchFile';
import { HelpRequested } from '../help';
import { parse, type Command, type CliIo } from '../command';

const usage = 'safetune serve [--port N] [--no-open] [--workspace DIR]';

/** Where a workspace remembers the port given with `--port N`. */
const PORT_FILE = 'serve.json';

/**
 * Browser mode: the app's services behind a loopback HTTP + WebSocket server with a per-launch token.
 * The port is `--port N`, else SAFETUNE_PORT, else the one this workspace last ran on with `--port N`,
 * else any free port (`--port 0` forgets the remembered one). Ctrl-C (or SIGTERM) stops it cleanly:
 * running jobs become interrupted (resumable), the workspace lock is released; a second Ctrl-C
 * forces the exit.
 */
export const serveCommand: Command = {
  name: 'serve',
  usage,
  summary: 'Run the workbench in browser mode on 127.0.0.1',
  async run(argv, env) {
    let values;
    try {
      ({ values } = parse(argv, { workspace: { type: 'string' }, port: { type: 'string' }, 'no-open': { type: 'boolean', default: false } }, usage, {
        port: 'The port on 127.0.0.1 (default: a free one).',
        'no-open': 'Print the URL instead of opening a browser.',
      }));
    } catch (e) {
      if (e instanceof HelpRequested) throw e;
      env.io.err(`safetune serve: ${(e as Error).message}`);
      return 2;
    }
    const workspace = resolveWorkspace(values.workspace ? ['--workspace', values.workspace] : [], process.env);
    const chosen = choosePort(values.port, process.env.SAFETUNE_PORT, workspace);
    if ('error' in chosen) {
      env.io.err(`safetune serve: ${chosen.error}\nusage: ${usage}`);
      return 2;
    }

    const services = createServices({ workspace, mode: 'browser', workerScript: env.workerScript });
    let server;
    try {
      server = await startBrowserServer({
        dispatch: createDispatcher(createHandlers(services)),
        events: services.events,
        rendererDir: env.rendererDir,
        port: chosen.port,
      });
    } catch (e) {
      await services.close();
      if (isAppError(e) && chosen.source !== '--port') {
        throw new AppError(e.code, `${e.message} (port ${chosen.port} came from ${chosen.source})`, e.details);
      }
      throw e;
    }
    if (values.port !== undefined) rememberPort(services.workspace, chosen.port, env.io);

    // listen for Ctrl-C / SIGTERM before the URL is printed: whoever reads it may stop us at once
    const stopSignal = untilStopSignal(env.io);
    env.io.out(`SafeTune Workbench (browser mode) at ${server.url}`);
    env.io.out(`workspace: ${services.workspace}`);
    env.io.out("Open that URL (it holds this launch's access token); Ctrl-C stops the server.");
    let launch: LaunchFile | null = null;
    if (!values['no-open'] && !process.env.CI) {
      launch = writeLaunchFile(server.url);
      if (!openInBrowser(launch.path)) {
        launch.remove();
        launch = null;
      }
    }

    await stopSignal;
    env.io.err('stopping: running jobs are being interrupted (resume them next time); Ctrl-C again to force');
    await server.close();
    launch?.remove();
    await services.close();
    env.io.err('stopped');
    return 0;
  },
};

type PortChoice = { port: number; source: string } | { error: string };

/** The port to listen on, from the flag, the environment or the workspace's remembered one. */
export function choosePort(flag: string | undefined, envValue: string | undefined, workspace: string): PortChoice {
  if (flag !== undefined) return parsePort(flag, '--port');
  if (envValue !== undefined && envValue !== '') return parsePort(envValue, 'SAFETUNE_PORT');
  const remembered = rememberedPort(workspace);
  if (remembered !== null) return { port: remembered, source: `${join(workspace, PORT_FILE)}, remembered from an earlier --port` };
  return { port: 0, source: 'default' };
}

/** A decimal port from 1024 to 65535, or 0 for any free port. */
export function parsePort(text: string, source: string): PortChoice {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (n === 0 || (n >= 1024 && n <= 65535)) return { port: n, source };
  return { error: `${source} must be a decimal port number from 1024 to 65535 (or 0 for any free port), got "${text}"` };
}

function rememberedPort(workspace: string): number | null {
  const file = join(workspace, PORT_FILE);
  if (!existsSync(file)) return null;
  try {
    const port = (JSON.parse(readFileSync(file, 'utf8')) as { port?: unknown }).port;
    return typeof port === 'number' && Number.isInteger(port) && port >= 1024 && port <= 65535 ? port : null;
  } catch {
    return null;
  }
}

function rememberPort(workspace: string, port: number, io: CliIo): void {
  try {
    writeFileSync(join(workspace, PORT_FILE), JSON.stringify({ port: port === 0 ? null : port }) + '\n');
  } catch (e) {
    io.err(`could not remember the port in ${join(workspace, PORT_FILE)}: ${(e as Error).message}`);
  }
}

/**
 * Resolves on the first SIGINT/SIGTERM; another one exits at once (130). One Ctrl-C can arrive more
 * than once (the terminal signals the whole process group, and npm and scripts/start.js also pass
 * it on), so repeats within a second of the first count as the same one.
 */
function untilStopSignal(io: CliIo): Promise<void> {
  return new Promise<void>((resolve) => {
    let firstAt: number | null = null;
    const onSignal = () => {
      if (firstAt === null) {
        firstAt = Date.now();
        return resolve();
      }
      if (Date.now() - firstAt < 1000) return;
      io.err('forced exit: jobs that were running come back as interrupted at the next start');
      process.exit(130);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
