/**
 * Outbound URL rules: the one normal form of an OpenAI-compatible server's base URL, used both
 * when the user configures a server and when an evaluation names one, so they compare equal.
 */
import { AppError } from '../../shared/errors';

/**
 * `http(s)://host[:port][/path]` without a trailing slash or `/v1` (the HTTP backend adds the API
 * paths), lower-case host, default port dropped. Refuses other schemes, credentials in the URL
 * (they would be sent as a header the user did not configure), queries and fragments.
 */
export function normaliseBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new AppError('invalid_input', `"${raw}" is not a URL: give the server's address, e.g. http://127.0.0.1:8000`, { baseUrl: raw });
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AppError('invalid_input', `${raw}: only http:// and https:// servers can be called`, { baseUrl: raw });
  }
  if (u.username || u.password) {
    throw new AppError('invalid_input', `${u.protocol}//${u.host}: put the API key in the API key field, not in the URL`, {
      baseUrl: `${u.protocol}//${u.host}`,
    });
  }
  if (u.search || u.hash) throw new AppError('invalid_input', `${raw}: a server URL has no query (?…) or fragment (#…)`, { baseUrl: raw });
  const path = u.pathname.replace(/\/+$/, '').replace(/\/v1$/, '');
  return `${u.protocol}//${u.host}${path}`;
}

/** A short display name for a server: its host and path. */
export function endpointDisplayName(baseUrl: string): string {
  return baseUrl.replace(/^https?:\/\//, '');
}
