import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createDispatcher } from '../../app/dispatch';
import { createHandlers } from '../../app/handlers';
import { createServices } from '../../app/services';
import { resolveWorkspace } from '../../app/workspace';
import { startBrowserServer } from '../../server/browserServer';
import { parse, type Command } from '../command';

const usage = 'safetune serve [--port N] [--no-open] [--workspace DIR]';

/** Browser mode: the app's services behind a loopback HTTP + WebSocket server with a per-launch token. */
export const serveCommand: Command = {
  name: 'serve',
  usage,
  summary: 'Run the workbench in browser mode on 127.0.0.1',
  async run(argv, env) {
    const { values } = parse(
      argv,
      { workspace: { type: 'string' }, port: { type: 'string', default: '0' }, 'no-open': { type: 'boolean', default: false } },
      usage,
    );
    const services = createServices({
      workspace: resolveWorkspace(values.workspace ? ['--workspace', values.workspace] : [], process.env),
      mode: 'browser',
      workerScript: env.workerScript,
    });
    const server = await startBrowserServer({
      dispatch: createDispatcher(createHandlers(services)),
      events: services.events,
      rendererDir: env.rendererDir,
      port: Number(values.port),
    });
    env.io.out(`SafeTune Workbench (browser mode) at ${server.url}`);
    env.io.out(`workspace: ${services.workspace}`);
    if (!values['no-open'] && !process.env.CI) openBrowser(server.url);

    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    env.io.err('stopping: running jobs will be resumable');
    await server.close();
    await services.close();
    return 0;
  },
};

function openBrowser(url: string): void {
  const cmd =
    process.platform === 'darwin'
      ? ['open', url]
      : process.platform === 'win32'
        ? ['cmd', '/c', 'start', '""', url]
        : onPath('xdg-open') && (process.env.DISPLAY || process.env.WAYLAND_DISPLAY)
          ? ['xdg-open', url]
          : null;
  if (!cmd) return;
  try {
    const child = spawn(cmd[0]!, cmd.slice(1), { detached: true, stdio: 'ignore' });
    child.on('error', () => {});
    child.unref();
  } catch {
    // No browser: the printed URL is enough.
  }
}

function onPath(bin: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((d) => d && existsSync(join(d, bin)));
}
