import { createReadStream, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { pipeline } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_CALL_BODY_BYTES } from '../../shared/contract';
import { AppError, type ErrorCode, type ErrorPayload } from '../../shared/errors';
import { CONTENT_SECURITY_POLICY_HEADER, EVENTS_PROTOCOL } from '../../shared/security';
import type { Dispatch } from '../app/dispatch';
import type { EventBus } from '../events/bus';
import { bearerToken, hostAllowed, newToken, originAllowed, tokensEqual, upgradeToken } from './auth';

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
  /** The address to open: the token rides in the fragment, which browsers never send to a server. */
  url: string;
  port: number;
  token: string;
  /** Stops accepting requests and closes every connection. */
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

const UNAUTHORIZED: ErrorPayload = {
  code: 'unauthorized',
  message: 'Missing or wrong access token: open the URL printed in the terminal where the server was started',
};

/**
 * Browser mode: the same contract over HTTP (calls) and WebSocket (events), bound to 127.0.0.1
 * only. The app shell (index.html and the built assets, which hold no secrets) is served to anyone
 * who names this server in Host; every API call must carry `Authorization: Bearer <token>` and the
 * event stream's upgrade must offer the token as a subprotocol (see auth.ts). No cookie is ever set,
 * no CORS header is ever sent, and foreign Origin/Host headers are refused. Malformed requests get a
 * 400: nothing a client sends can throw out of a handler.
 */
export async function startBrowserServer(opts: BrowserServerOptions): Promise<BrowserServer> {
  const token = opts.token ?? newToken();
  const maxBody = opts.maxBodyBytes ?? MAX_CALL_BODY_BYTES;
  const rendererDir = resolve(opts.rendererDir);
  let port = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => failed(res, e));
  });
  server.headersTimeout = 30_000;
  server.requestTimeout = 60_000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => answerClientError(err, socket));

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    setCommonHeaders(res);
    if (!hostAllowed(req, port)) return sendError(res, { code: 'forbidden', message: 'Host not allowed' });
    if (!originAllowed(req, port)) return sendError(res, { code: 'forbidden', message: 'Cross-origin requests are not allowed' });
    const pathname = requestPath(req.url);
    if (pathname === null) return sendError(res, { code: 'bad_request', message: 'Malformed request target' });
    if (pathname.startsWith('/api/')) return handleApi(req, res, pathname);
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, { code: 'bad_request', message: 'Method not allowed' });
    return serveStatic(pathname, req, res);
  }

  async function handleApi(req: IncomingMessage, res: ServerResponse, pathname: string): Promise<void> {
    const presented = bearerToken(req);
    if (!presented || !tokensEqual(presented, token)) return sendError(res, UNAUTHORIZED);
    if (!pathname.startsWith('/api/call/')) return sendError(res, { code: 'not_found', message: `No route ${pathname}` });
    if (req.method !== 'POST') return sendError(res, { code: 'bad_request', message: 'Calls must be POST' });
    const type = req.headers['content-type'] ?? '';
    if (!type.startsWith('application/json')) {
      return sendError(res, { code: 'bad_request', message: 'Calls must send Content-Type: application/json' });
    }
    const name = decodePath(pathname.slice('/api/call/'.length));
    if (name === null) return sendError(res, { code: 'bad_request', message: 'Malformed call name' });
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

  function serveStatic(pathname: string, req: IncomingMessage, res: ServerResponse): void {
    const rel = pathname === '/' ? 'index.html' : decodePath(pathname)?.replace(/^\/+/, '');
    if (rel === undefined || rel.includes('\0')) return sendError(res, { code: 'bad_request', message: 'Malformed path' });
    const file = normalize(join(rendererDir, rel));
    if (!file.startsWith(rendererDir + sep) || !isFile(file)) {
      if (!isFile(join(rendererDir, 'index.html'))) {
        return sendError(res, { code: 'not_found', message: `The renderer is not built (${rendererDir}): run npm run build` });
      }
      return sendError(res, { code: 'not_found', message: `Not found: ${pathname}` });
    }
    res.writeHead(200, {
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': rel === 'index.html' ? 'no-store' : 'private, max-age=3600',
    });
    if (req.method === 'HEAD') return void res.end();
    pipeline(createReadStream(file), res, (err) => {
      if (err) res.destroy();
    });
  }

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: 64 * 1024,
    // Select our protocol so a browser (which offered it with the token protocol) accepts the socket;
    // the token protocol itself is never echoed back.
    handleProtocols: (offered) => (offered.has(EVENTS_PROTOCOL) ? EVENTS_PROTOCOL : false),
  });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    try {
      upgrade(req, socket, head);
    } catch {
      refuse(socket, '400 Bad Request');
    }
  });

  function upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!hostAllowed(req, port) || !originAllowed(req, port)) return refuse(socket, '403 Forbidden');
    const pathname = requestPath(req.url);
    if (pathname === null) return refuse(socket, '400 Bad Request');
    const presented = upgradeToken(req);
    if (!presented || !tokensEqual(presented, token)) return refuse(socket, '401 Unauthorized');
    if (pathname !== '/api/events') return refuse(socket, '404 Not Found');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
    });
  }

  const offEvents = opts.events.onAny((event, payload) => {
    const msg = JSON.stringify({ event, payload });
    for (const ws of sockets) if (ws.readyState === ws.OPEN) ws.send(msg);
  });

  try {
    await new Promise<void>((resolveListen, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolveListen());
    });
  } catch (e) {
    offEvents();
    throw listenError(e as NodeJS.ErrnoException, opts.port ?? 0);
  }
  port = (server.address() as AddressInfo).port;

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}/#token=${token}`,
    port,
    token,
    close() {
      closing ??= (async () => {
        offEvents();
        const closed = new Promise<void>((r) => server.close(() => r()));
        for (const ws of sockets) ws.terminate();
        wss.close();
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}

/** The path of a request target (`/a/b?x` → `/a/b`, still percent-encoded); null unless origin-form. */
export function requestPath(target: string | undefined): string | null {
  if (!target || target[0] !== '/') return null;
  const end = target.search(/[?#]/);
  return end === -1 ? target : target.slice(0, end);
}

function decodePath(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function listenError(e: NodeJS.ErrnoException, port: number): Error {
  if (e.code === 'EADDRINUSE') {
    return new AppError(
      'conflict',
      `Port ${port} on 127.0.0.1 is already in use (another program, or another workbench). ` + 'Choose another with --port N, or --port 0 for any free port.',
      { port },
    );
  }
  if (e.code === 'EACCES') return new AppError('forbidden', `Not allowed to listen on port ${port}: choose another with --port N`, { port });
  return e;
}

/** Answers what Node's HTTP parser refused (bad request line, header overflow, bad Content-Length). */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset peer, or a response already under way on this connection: nothing sensible to write.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (err.code === 'ECONNRESET' || inFlight?.headersSent) return void socket.destroy();
  const status =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? '408 Request Timeout'
        : '400 Bad Request';
  refuse(socket, status);
}

/** Writes a bodiless status response on a raw socket and closes it (bounded: a peer that never reads is dropped). */
function refuse(socket: Duplex, status: string): void {
  try {
    if (!socket.writable) return void socket.destroy();
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    setTimeout(() => socket.destroy(), 2000).unref();
  } catch {
    socket.destroy();
  }
}

/** An unexpected error inside a handler: a 500 when nothing was sent yet, otherwise drop the connection. */
function failed(res: ServerResponse, e: unknown): void {
  try {
    if (!res.headersSent) sendError(res, new AppError('internal', (e as Error)?.message ?? String(e)).toPayload());
    else res.destroy();
  } catch {
    res.destroy();
  }
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
