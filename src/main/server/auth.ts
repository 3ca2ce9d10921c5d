import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

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

export function cookieName(port: number): string {
  // Cookies are not isolated by port: the port in the name keeps two servers apart.
  return `safetune_token_${port}`;
}

/** The token a request presents: Authorization header, then cookie, then `?token=`. */
export function presentedToken(req: IncomingMessage, port: number): string | null {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  const cookies = req.headers.cookie;
  if (cookies) {
    const name = cookieName(port) + '=';
    for (const part of cookies.split(';')) {
      const c = part.trim();
      if (c.startsWith(name)) return decodeURIComponent(c.slice(name.length));
    }
  }
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return url.searchParams.get('token');
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
