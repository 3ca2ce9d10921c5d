import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createDispatcher } from '../../../src/main/app/dispatch';
import { createHandlers } from '../../../src/main/app/handlers';
import type { Services } from '../../../src/main/app/services';
import { startBrowserServer, type BrowserServer } from '../../../src/main/server/browserServer';
import { tempDir, testServices } from '../../helpers/services';

let s: Services;
let server: BrowserServer;
let cleanup: () => void;
let base: string;

beforeAll(async () => {
  const t = tempDir();
  cleanup = t.cleanup;
  const renderer = join(t.dir, 'renderer');
  mkdirSync(renderer);
  writeFileSync(join(renderer, 'index.html'), '<!doctype html><title>SafeTune Workbench</title>');
  s = testServices(join(t.dir, 'ws'));
  server = await startBrowserServer({
    dispatch: createDispatcher(createHandlers(s), () => {}),
    events: s.events,
    rendererDir: renderer,
    maxBodyBytes: 4096,
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server.close();
  await s.close();
  cleanup();
});

const auth = () => ({ Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' });
const post = (name: string, body: unknown, headers: Record<string, string> = auth()) =>
  fetch(`${base}/api/call/${name}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** Opens a WebSocket on the event stream; resolves with how it went. */
function tryUpgrade(path: string, opts: { protocols?: string[]; headers?: Record<string, string> } = {}): Promise<{ outcome: string; ws: WebSocket }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}`, opts.protocols ?? [], { headers: opts.headers });
    ws.on('unexpected-response', (_req, res) => resolve({ outcome: `status ${res.statusCode}`, ws }));
    ws.on('open', () => resolve({ outcome: 'opened', ws }));
    ws.on('error', (e) => resolve({ outcome: `error ${e.message}`, ws }));
  });
}

describe('browser-mode server', () => {
  it('binds to 127.0.0.1, uses a 256-bit token and prints it in the fragment only', () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/#token=${server.token}`);
    expect(new URL(server.url).search).toBe('');
    expect(Buffer.from(server.token, 'base64url')).toHaveLength(32);
  });

  it('serves the app shell without a token, but still checks Host and Origin', async () => {
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('SafeTune Workbench');
    const rebound = await rawRequest(`GET / HTTP/1.1\r\nHost: evil.example:${server.port}\r\nConnection: close\r\n\r\n`);
    expect(rebound).toMatch(/^HTTP\/1\.1 403/);
    const foreign = await fetch(`${base}/`, { headers: { Origin: 'http://evil.example' } });
    expect(foreign.status).toBe(403);
  });

  it('answers 401 to calls without the bearer token or with a wrong one', async () => {
    const r = await post('projects.list', {}, { 'Content-Type': 'application/json' });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    const wrong = await post('projects.list', {}, { Authorization: 'Bearer ' + 'x'.repeat(43), 'Content-Type': 'application/json' });
    expect(wrong.status).toBe(401);
  });

  it('refuses the token in a cookie or in ?token=, and never sets a cookie', async () => {
    const viaCookie = await post('projects.list', {}, { Cookie: `safetune_token_${server.port}=${server.token}`, 'Content-Type': 'application/json' });
    expect(viaCookie.status).toBe(401);
    const viaQuery = await fetch(`${base}/api/call/projects.list?token=${server.token}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    });
    expect(viaQuery.status).toBe(401);
    for (const res of [
      viaCookie,
      viaQuery,
      await fetch(`${base}/?token=${server.token}`, { redirect: 'manual' }),
      await fetch(`${base}/`),
      await post('projects.list', {}),
    ]) {
      expect(res.headers.get('set-cookie')).toBeNull();
    }
    const upgradeCookie = await tryUpgrade('/api/events', { headers: { Cookie: `safetune_token_${server.port}=${server.token}` } });
    expect(upgradeCookie.outcome).toMatch(/401/);
    const upgradeQuery = await tryUpgrade(`/api/events?token=${server.token}`);
    expect(upgradeQuery.outcome).toMatch(/401/);
  });

  it('serves calls with typed results and typed errors', async () => {
    const ok = await post('projects.create', { name: 'Via HTTP' });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ ok: true, value: { name: 'Via HTTP' } });
    const bad = await post('projects.create', { name: '' });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ ok: false, error: { code: 'invalid_input' } });
    const unknown = await post('projects.explode', {});
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ ok: false, error: { code: 'unknown_call' } });
  });

  it('refuses malformed, oversized and non-JSON requests', async () => {
    const malformed = await post('projects.list', '{"oops":');
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: 'bad_request', message: expect.stringMatching(/Malformed JSON/) } });
    const big = await post('projects.create', { name: 'x'.repeat(10_000) });
    expect(big.status).toBe(413);
    expect(await big.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    const form = await post('projects.list', 'a=b', { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/x-www-form-urlencoded' });
    expect(form.status).toBe(400);
    const get = await fetch(`${base}/api/call/projects.list`, { headers: auth() });
    expect(get.status).toBe(400);
    // The server is still healthy afterwards.
    expect((await post('projects.list', {})).status).toBe(200);
  });

  it('refuses foreign origins and hosts and never sends CORS headers', async () => {
    const foreign = await post('projects.list', {}, { ...auth(), Origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
    const same = await post('projects.list', {}, { ...auth(), Origin: base });
    expect(same.status).toBe(200);
    expect(same.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('blocks path traversal out of the renderer folder', async () => {
    const r = await fetch(`${base}/..%2f..%2fws%2fsafetune.db`);
    expect(r.status).toBe(404);
  });

  it('refuses WebSocket upgrades without the token and streams events with the token subprotocol', async () => {
    expect((await tryUpgrade('/api/events')).outcome).toMatch(/401/);
    expect((await tryUpgrade('/api/events', { protocols: ['safetune.v1', 'safetune.token.nope'] })).outcome).toMatch(/401/);

    // What a browser does: offer the events protocol and the token protocol; the server picks the first.
    const { outcome, ws } = await tryUpgrade('/api/events', { protocols: ['safetune.v1', `safetune.token.${server.token}`] });
    expect(outcome).toBe('opened');
    expect(ws.protocol).toBe('safetune.v1');
    const got = new Promise<{ event: string }>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)))));
    await post('projects.create', { name: 'Event source' });
    expect((await got).event).toBe('projects.changed');
    ws.close();

    // A non-browser client may send the bearer header instead.
    const bearer = await tryUpgrade('/api/events', { headers: { Authorization: `Bearer ${server.token}` } });
    expect(bearer.outcome).toBe('opened');
    bearer.ws.close();
  });
});

/** Sends raw bytes and returns everything the server answered before closing (or after 2 s). */
function rawRequest(bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(server.port, '127.0.0.1');
    let got = '';
    const done = () => {
      clearTimeout(timer);
      sock.destroy();
      resolve(got);
    };
    const timer = setTimeout(done, 2000);
    sock.on('data', (d) => (got += d.toString('latin1')));
    sock.on('error', done);
    sock.on('close', done);
    sock.write(bytes);
  });
}
