import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_CALL_BODY_BYTES } from '../../shared/contract';
import { AppError, type ErrorCode, type ErrorPayload } from '../../shared/errors';
import { CONTENT_SECURITY_POLICY_HEADER } from '../../shared/security';
import type { Dispatch } from '../app/dispatch';
import type { EventBus } from '../app/events';
import { cookieName, hostAllowed, newToken, originAllowed, presentedToken, tokensEqual } from './auth';

export interface BrowserServerOptions {
  dispatch: Dispatch;
  events: EventBus;
  /** The built renderer (out/renderer). */
  rendererDir: string;
  /** 0 picks a free port. */
  port?: number;
  token?: string;
  maxBodyBytes?: number;
}

export interface BrowserServer {
  url: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
};

const STATUS: Record<ErrorCode, number> = {
  invalid_input: 400,
  bad_request: 400,
  unknown_call: 404,
  not_found: 404,
  conflict: 409,
  unauthorized: 401,
  forbidden: 403,
  payload_too_large: 413,
  unsupported: 422,
  database: 500,
  cancelled: 409,
  internal: 500,
};

/**
 * Browser mode: the same contract over HTTP (calls) and WebSocket (events), bound to 127.0.0.1
 * only. Every request and upgrade must present the per-launch token (header, cookie or ?token=);
 * opening `/?token=…` once sets an HttpOnly SameSite=Strict cookie and redirects to a clean URL.
 * No CORS headers are ever sent, and foreign Origin/Host headers are refused.
 */
export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? newToken();
  const maxBody = opts.maxBodyBytes ?? MAX_CALL_BODY_BYTES;
  const rendererDir = resolve(opts.rendererDir);
  let port = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) sendError(res, new AppError('internal', (e as Error).message).toPayload());
      else res.destroy();
    });
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setCommonHeaders(res);
    if (!hostAllowed(req, port)) return sendError(res, { code: 'forbidden', message: 'Host not allowed' });
    if (!originAllowed(req, port)) return sendError(res, { code: 'forbidden', message: 'Cross-origin requests are not allowed' });
    const presented = presentedToken(req, port);
    if (!presented || !tokensEqual(presented, token)) {
      return sendError(res, { code: 'unauthorized', message: 'Missing or wrong access token: open the URL printed at start-up' });
    }
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');

    if (url.searchParams.has('token') && req.method === 'GET') {
      // Trade the URL token for a cookie, then drop it from the address bar and history.
      res.setHeader('Set-Cookie', `${cookieName(port)}=${encodeURIComponent(token)}; HttpOnly; SameSite=Strict; Path=/`);
      url.searchParams.delete('token');
      res.writeHead(303, { Location: url.pathname + (url.search || '') });
      res.end();
      return;
    }

    if (url.pathname.startsWith('/api/call/')) {
      if (req.method !== 'POST') return sendError(res, { code: 'bad_request', message: 'Calls must be POST' });
      const type = req.headers['content-type'] ?? '';
      if (!type.startsWith('application/json')) {
        return sendError(res, { code: 'bad_request', message: 'Calls must send Content-Type: application/json' });
      }
      const name = decodeURIComponent(url.pathname.slice('/api/call/'.length));
      let body: unknown;
      try {
        body = await readJson(req, maxBody);
      } catch (e) {
        if (e instanceof AppError) return sendError(res, e.toPayload());
        throw e;
      }
      const result = await opts.dispatch(name, body);
      const status = result.ok ? 200 : STATUS[result.error.code];
      return sendJson(res, status, result);
    }
    if (url.pathname.startsWith('/api/')) return sendError(res, { code: 'not_found', message: `No route ${url.pathname}` });
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, { code: 'bad_request', message: 'Method not allowed' });
    return serveStatic(url.pathname, res);
  }

  function serveStatic(pathname: string, res: ServerResponse): void {
    const rel = pathname === '/' ? 'index.html' : decodeURIComponent(pathname).replace(/^\/+/, '');
    const file = normalize(join(rendererDir, rel));
    if (!file.startsWith(rendererDir + sep) || !existsSync(file) || !statSync(file).isFile()) {
      if (!existsSync(join(rendererDir, 'index.html'))) {
        return sendError(res, { code: 'not_found', message: `The renderer is not built (${rendererDir}): run npm run build` });
      }
      return sendError(res, { code: 'not_found', message: `Not found: ${pathname}` });
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': rel === 'index.html' ? 'no-store' : 'private, max-age=3600',
    });
    createReadStream(file).pipe(res);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req, socket, head) => {
    const presented = presentedToken(req, port);
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const refuse = (status: string) => {
      socket.write(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroy();
    };
    if (!hostAllowed(req, port) || !originAllowed(req, port)) return refuse('403 Forbidden');
    if (!presented || !tokensEqual(presented, token)) return refuse('401 Unauthorized');
    if (url.pathname !== '/api/events') return refuse('404 Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
    });
  });
  const offEvents = opts.events.onAny((event, payload) => {
    const msg = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(msg);
  });

  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
  });
  port = (server.address() as AddressInfo).port;

  return {
    url: `http://127.0.0.1:${port}/?token=${token}`,
    port,
    token,
    async close() {
      offEvents();
      for (const ws of sockets) ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function setCommonHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY_HEADER);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(text);
}

function sendError(res: ServerResponse, error: ErrorPayload): void {
  sendJson(res, STATUS[error.code], { ok: false, error });
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolveBody, reject) => {
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > limit) {
      req.resume();
      reject(new AppError('payload_too_large', `Request body larger than ${limit} bytes`, { limit }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.resume();
        reject(new AppError('payload_too_large', `Request body larger than ${limit} bytes`, { limit }));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (size > limit) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolveBody({});
      try {
        resolveBody(JSON.parse(text));
      } catch (e) {
        reject(new AppError('bad_request', `Malformed JSON body: ${(e as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}
