import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TOKEN_PROTOCOL_PREFIX } from '../../shared/security';

/**
 * Browser mode's access checks. The per-launch token travels only where no other local origin can
 * read it: the `Authorization: Bearer` header of API calls, and a WebSocket subprotocol on the
 * event stream. No cookie (cookies are shared by every port of 127.0.0.1) and no `?token=` query
 * (it would end up in logs, history and Referer headers).
 */

/** A fresh 256-bit token for one launch. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Constant-time comparison (hashing first makes the lengths equal). */
export function tokensEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(req: IncomingMessage): string | null {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string') return null;
  const m = /^Bearer +(\S+) *$/i.exec(auth);
  return m ? m[1]! : null;
}

/** The token a WebSocket upgrade presents: the bearer header (non-browser clients) or the token subprotocol. */
export function upgradeToken(req: IncomingMessage): string | null {
  const bearer = bearerToken(req);
  if (bearer) return bearer;
  for (const p of offeredProtocols(req)) {
    if (p.startsWith(TOKEN_PROTOCOL_PREFIX)) return p.slice(TOKEN_PROTOCOL_PREFIX.length);
  }
  return null;
}

/** The subprotocols of a `Sec-WebSocket-Protocol` header. */
function offeredProtocols(req: IncomingMessage): string[] {
  const header = req.headers['sec-websocket-protocol'];
  if (typeof header !== 'string') return [];
  return header
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

/** Host must name this loopback server (defeats DNS rebinding). */
export function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host;
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** A browser sends Origin on cross-site requests: it must be ours. Absent (non-browser client) is fine. */
export function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}
