import { mkdirSync, writeFileSync } from 'node:fs';
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

describe('browser-mode server', () => {
  it('binds to 127.0.0.1 and uses a 256-bit token', () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    expect(Buffer.from(server.token, 'base64url')).toHaveLength(32);
  });

  it('answers 401 without the token or with a wrong one, for pages and calls', async () => {
    expect((await fetch(`${base}/`)).status).toBe(401);
    expect((await fetch(`${base}/?token=wrong`)).status).toBe(401);
    const r = await post('projects.list', {}, { 'Content-Type': 'application/json' });
    expect(r.status).toBe(401);
    expect(await r.json()).toMatchObject({ ok: false, error: { code: 'unauthorized' } });
    const wrong = await post('projects.list', {}, { Authorization: 'Bearer ' + 'x'.repeat(43), 'Content-Type': 'application/json' });
    expect(wrong.status).toBe(401);
  });

  it('trades the URL token for an HttpOnly SameSite cookie, which then authorises', async () => {
    const r = await fetch(server.url, { redirect: 'manual' });
    expect(r.status).toBe(303);
    expect(r.headers.get('location')).toBe('/');
    const cookie = r.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    const page = await fetch(`${base}/`, { headers: { Cookie: cookie.split(';')[0]! } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    expect(await page.text()).toContain('SafeTune Workbench');
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
    const r = await fetch(`${base}/..%2f..%2fws%2fsafetune.db`, { headers: auth() });
    expect(r.status).toBe(404);
  });

  it('refuses WebSocket upgrades without the token and streams events with it', async () => {
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`);
      ws.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
      ws.on('open', () => resolve('opened'));
      ws.on('error', (e) => resolve(`error ${e.message}`));
    });
    expect(refused).toMatch(/401/);
    const wrong = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events?token=nope`);
      ws.on('unexpected-response', (_req, res) => resolve(`status ${res.statusCode}`));
      ws.on('open', () => resolve('opened'));
      ws.on('error', (e) => resolve(`error ${e.message}`));
    });
    expect(wrong).toMatch(/401/);

    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api/events`, { headers: { Authorization: `Bearer ${server.token}` } });
    await new Promise((r) => ws.once('open', r));
    const got = new Promise<{ event: string }>((resolve) => ws.once('message', (m) => resolve(JSON.parse(String(m)))));
    await post('projects.create', { name: 'Event source' });
    expect((await got).event).toBe('projects.changed');
    ws.close();
  });
});
