import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/services';
import { repoRoot } from '../helpers/shared';
import { launchBrowser, screenshot, startApp, watchErrors } from './app';

let browser: Browser;
const cleanups: (() => unknown)[] = [];

beforeAll(async () => {
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  while (cleanups.length) await cleanups.pop()!();
});

function workspace(): string {
  const t = tempDir('safetune-e2e-browser-');
  cleanups.push(t.cleanup);
  return t.dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const call = (origin: string, token: string, name: string, input: unknown) =>
  fetch(`${origin}/api/call/${name}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(input),
  });

describe('browser mode: access and connection', () => {
  it('explains how to get in without a token, takes it from the fragment, and says when the server is gone or restarted', async () => {
    const ws = workspace();
    const port = await freePort();
    let app = await startApp(ws, ['--port', String(port)]);
    cleanups.push(() => app.stop());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const errors = watchErrors(page);

    await page.goto(`${app.origin}/`);
    await page.getByRole('heading', { name: 'Open SafeTune Workbench from its start-up URL' }).waitFor();
    await page.locator('pre', { hasText: 'npm start' }).waitFor();
    await screenshot(page, 'browser-mode-1-no-token');

    // Pasting the printed URL into the same tab changes only the fragment: the page picks the token up.
    await page.goto(app.url);
    await page.getByRole('link', { name: 'All projects' }).waitFor();
    await expect.poll(() => page.url()).not.toContain('token');
    expect(await page.context().cookies()).toEqual([]);

    // The server goes away: the page says so instead of showing stale state as live.
    await app.stop();
    await page.getByRole('alert').filter({ hasText: 'Disconnected from the workbench server' }).waitFor();
    await screenshot(page, 'browser-mode-2-disconnected');

    // It comes back on the same (remembered) port with a new token: the page says to open the new URL.
    app = await startApp(ws);
    expect(app.origin).toBe(`http://127.0.0.1:${port}`);
    await page.getByRole('heading', { name: 'The workbench server restarted' }).waitFor({ timeout: 30_000 });
    await screenshot(page, 'browser-mode-3-restarted');

    await page.goto(app.url);
    await page.getByRole('link', { name: 'All projects' }).waitFor();
    await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();
    // Errors the browser logs for the refused and failed requests on the way are expected; nothing else.
    expect(errors.filter((e) => !/Failed to load resource|WebSocket connection|ERR_CONNECTION_REFUSED/.test(e))).toEqual([]);
    await page.close();
  });

  it('reconnects by itself when the server is reachable again and reloads what it shows', async () => {
    const app = await startApp(workspace());
    cleanups.push(() => app.stop());
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    // Stand between the page and the event stream, to cut it as a network failure would.
    let down = false;
    const sockets: WebSocketRoute[] = [];
    await page.routeWebSocket(/\/api\/events$/, (ws) => {
      if (down) return void ws.close();
      ws.connectToServer();
      sockets.push(ws);
    });
    await page.goto(app.url);
    await page.getByRole('heading', { name: 'Projects', exact: true }).waitFor();

    down = true;
    await page.route('**/api/call/**', (r) => r.abort('connectionrefused'));
    for (const s of sockets) await s.close();
    const banner = page.getByRole('alert').filter({ hasText: 'Disconnected from the workbench server' });
    await banner.waitFor();

    // Meanwhile the workbench changes (the page misses the event).
    expect((await call(app.origin, app.token, 'projects.create', { name: 'Made while away' })).status).toBe(200);

    down = false;
    await page.unroute('**/api/call/**');
    await banner.waitFor({ state: 'hidden', timeout: 30_000 });
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Made while away' }).waitFor();
    await page.close();
  });
});

describe.skipIf(process.platform !== 'linux')('npm start (scripts/start.js) in browser mode', () => {
  const start = join(repoRoot, 'scripts', 'start.js');
  const run = (args: string[], detached = false) => {
    const child = spawn(process.execPath, [start, '--browser', '--no-open', ...args], {
      env: { ...process.env, CI: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached,
    });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
    const started = async () => {
      const deadline = Date.now() + 60_000;
      while (!/#token=/.test(out)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`start.js did not start browser mode:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    cleanups.push(() => child.exitCode === null && child.kill('SIGKILL'));
    return { child, exited, started, output: () => out };
  };

  it('passes on the server’s exit code (a bad port is 2)', async () => {
    const r = run(['--workspace', workspace(), '--port', '0x50']);
    expect(await r.exited).toEqual({ code: 2, signal: null });
    expect(r.output()).toMatch(/--port must be a decimal port number from 1024 to 65535/);
  });

  it('exits 0 after a Ctrl-C to the whole process group (the server stops cleanly once, not forced)', async () => {
    const ws = workspace();
    const r = run(['--workspace', ws], true);
    await r.started();
    process.kill(-r.child.pid!, 'SIGINT');
    expect(await r.exited).toEqual({ code: 0, signal: null });
    expect(r.output()).toMatch(/stopped/);
    expect(r.output()).not.toMatch(/forced exit/);
    expect(existsSync(join(ws, 'runner.lock'))).toBe(false);
  });

  it('never exits 0 when the server dies by a signal: 128 + its number', async () => {
    const r = run(['--workspace', workspace()]);
    await r.started();
    const server = Number(readFileSync(`/proc/${r.child.pid}/task/${r.child.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
    expect(server).toBeGreaterThan(0);
    process.kill(server, 'SIGKILL');
    expect(await r.exited).toEqual({ code: 137, signal: null });
    expect(r.output()).toMatch(/killed by SIGKILL/);
  });
});
