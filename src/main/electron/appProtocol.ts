/**
 * The app:// protocol the Electron window loads from (app://safetune/index.html) instead of
 * file://: it serves files from the built renderer folder and nothing else. Free of Electron
 * imports — it answers web-standard Requests with Responses — so it is unit-tested under Node;
 * src/main/index.ts registers it.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { extname, isAbsolute, join, relative, sep } from 'node:path';
import { CONTENT_SECURITY_POLICY_HEADER } from '../../shared/security';

export const APP_SCHEME = 'app';
export const APP_HOST = 'safetune';
/** Where the window's page lives. */
export const APP_INDEX_URL = `${APP_SCHEME}://${APP_HOST}/index.html`;

/**
 * Registered before the app is ready: a standard scheme (real origin, relative URLs) that counts
 * as secure, with fetch support; no CSP bypass, no service workers, no extensions.
 */
export const APP_SCHEME_PRIVILEGES = {
  standard: true,
  secure: true,
  supportFetchAPI: true,
  bypassCSP: false,
  allowServiceWorkers: false,
  corsEnabled: false,
  stream: false,
  allowExtensions: false,
} as const;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.ttf': 'font/ttf',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
};

/** Whether a URL is on the app's own origin (a custom scheme's URL.origin is opaque, so compare parts). */
export function isAppUrl(url: string): boolean {
  const u = parseUrl(url);
  return u !== null && u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST && !u.username && !u.password && !u.port;
}

/**
 * The file inside `rootDir` an app:// URL names, or null: another origin, a `.`/`..` segment
 * (plain or percent-encoded), an encoded separator, a NUL, a drive or stream colon, or a path that
 * would end up outside the folder. `/` is index.html.
 */
export function resolveAppPath(url: string, rootDir: string): string | null {
  if (!isAppUrl(url)) return null;
  // The raw path, before WHATWG normalisation quietly drops `..` segments.
  const rawPath = /^[a-z]+:\/\/[^/?#]*([^?#]*)/i.exec(url)?.[1] ?? '';
  const segments: string[] = [];
  for (const raw of rawPath.split('/').slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '.' || segment === '..' || /[/\\:\0]/.test(segment)) return null;
    segments.push(segment);
  }
  if (segments.length === 0) segments.push('');
  if (segments[segments.length - 1] === '') segments[segments.length - 1] = 'index.html';
  if (segments.includes('')) return null;
  const file = join(rootDir, ...segments);
  return isInside(rootDir, file) ? file : null;
}

/**
 * Answers an app:// request from `rootDir`: GET/HEAD of a regular file inside it (after resolving
 * symbolic links), with its content type, the CSP and nosniff; 404/405 otherwise.
 */
export async function handleAppRequest(request: { url: string; method: string }, rootDir: string): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return plain(405, 'Method not allowed');
  const file = resolveAppPath(request.url, rootDir);
  if (!file) return plain(404, 'Not found');
  try {
    const [realRoot, realFile] = await Promise.all([realpath(rootDir), realpath(file)]);
    if (!isInside(realRoot, realFile) || !(await stat(realFile)).isFile()) return plain(404, 'Not found');
    const body = request.method === 'HEAD' ? null : await readFile(realFile);
    return new Response(body, { status: 200, headers: headers(CONTENT_TYPES[extname(realFile).toLowerCase()] ?? 'application/octet-stream') });
  } catch {
    return plain(404, 'Not found');
  }
}

function headers(contentType: string): Record<string, string> {
  return {
    'Content-Type': contentType,
    'Content-Security-Policy': CONTENT_SECURITY_POLICY_HEADER,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
}

function plain(status: number, text: string): Response {
  return new Response(text, { status, headers: headers('text/plain; charset=utf-8') });
}

function isInside(root: string, file: string): boolean {
  const rel = relative(root, file);
  return rel !== '' && !rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel);
}

function parseUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}
