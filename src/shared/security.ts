/** The Content-Security-Policy of every renderer page (Electron window via a meta tag). */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'";

/** Sent as a response header (browser mode, Electron responses): adds what a meta tag cannot carry. */
export const CONTENT_SECURITY_POLICY_HEADER = `${CONTENT_SECURITY_POLICY}; frame-ancestors 'none'`;

/** Browser mode's event stream speaks this WebSocket subprotocol (the server selects it). */
export const EVENTS_PROTOCOL = 'safetune.v1';
/** The page also offers `safetune.token.<token>`: how the upgrade carries the launch token (no cookie). */
export const TOKEN_PROTOCOL_PREFIX = 'safetune.token.';
