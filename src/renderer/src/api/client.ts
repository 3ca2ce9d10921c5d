import {
  calls,
  type CallInput,
  type CallName,
  type CallOutput,
  type ContractClient,
  type EventName,
  type EventPayload,
  type PreloadBridge,
} from '../../../shared/contract';
import { AppError, type CallResult } from '../../../shared/errors';
import { EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX } from '../../../shared/security';

type Listener = (payload: unknown) => void;

/**
 * Where the page stands with the workbench:
 * - `connected`: calls and events flow;
 * - `connecting`: the first connection is under way;
 * - `disconnected`: the server went away; reconnecting with backoff;
 * - `no-token`: the page was opened without the start-up URL's token;
 * - `token-refused`: the server refused the token (it was restarted, and each start makes a new one).
 */
export type ConnectionState = 'connected' | 'connecting' | 'disconnected' | 'no-token' | 'token-refused';

export interface ConnectionSnapshot {
  state: ConnectionState;
  /** Counts reconnections after a loss: data views reload when it changes. */
  generation: number;
}

export interface Connection {
  snapshot(): ConnectionSnapshot;
  subscribe(listener: () => void): () => void;
  /** Retries now instead of waiting for the next backoff step. */
  retryNow(): void;
}

function unwrap<N extends CallName>(name: N, result: CallResult<unknown>): CallOutput<N> {
  if (!result.ok) throw AppError.fromPayload(result.error);
  return calls[name].output.parse(result.value) as CallOutput<N>;
}

/** Electron: the preload's `window.safetune` bridge; always connected. */
function electronClient(bridge: PreloadBridge): { api: ContractClient; connection: Connection } {
  const snapshot: ConnectionSnapshot = { state: 'connected', generation: 0 };
  return {
    api: {
      async call(name, input) {
        return unwrap(name, await bridge.call(name, input));
      },
      subscribe: (event, listener) => bridge.subscribe(event, listener as Listener),
    },
    connection: { snapshot: () => snapshot, subscribe: () => () => {}, retryNow: () => {} },
  };
}

/** Where browser mode keeps the launch token: origin-scoped (the origin includes the port). */
const TOKEN_KEY = 'safetune.token';

/**
 * The launch token: taken from the URL fragment the server printed (`#token=…`, which browsers
 * never send to a server), stored for this origin and removed from the address bar; or the one
 * stored by an earlier visit.
 */
function takeToken(): string | null {
  // Pasting a new start-up URL into this tab changes only the fragment: load the page again to use it.
  window.addEventListener('hashchange', () => {
    if (/^#token=/.test(location.hash)) location.reload();
  });
  const m = /^#token=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (m) {
    history.replaceState(history.state, '', location.pathname + location.search);
    try {
      localStorage.setItem(TOKEN_KEY, m[1]!);
    } catch {
      // storage disabled: the token lives for this page only
    }
    return m[1]!;
  }
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/**
 * Browser mode: calls over fetch with `Authorization: Bearer`, events over a WebSocket that offers
 * the token as a subprotocol. When the socket drops or a call cannot reach the server, the page is
 * `disconnected` and retries with backoff; a probe call tells a server that is gone (retry) from one
 * that refuses the token (restarted: the user must open its new URL).
 */
function browserClient(): { api: ContractClient; connection: Connection } {
  const listeners = new Map<string, Set<Listener>>();
  const watchers = new Set<() => void>();
  const token = takeToken();
  let snapshot: ConnectionSnapshot = { state: token ? 'connecting' : 'no-token', generation: 0 };
  let socket: WebSocket | null = null;
  let retry = 0;
  let retryTimer: ReturnType<typeof setTimeout> | null = null;
  let everConnected = false;

  const setState = (state: ConnectionState, reconnected = false) => {
    if (state === snapshot.state && !reconnected) return;
    snapshot = { state, generation: snapshot.generation + (reconnected ? 1 : 0) };
    for (const w of watchers) w();
  };
  const dispatchLocal = (event: string, payload: unknown) => {
    for (const l of listeners.get(event) ?? []) l(payload);
  };
  const refused = () => snapshot.state === 'no-token' || snapshot.state === 'token-refused';

  const connect = () => {
    retryTimer = null;
    if (!token || refused() || socket) return;
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(`${proto}://${location.host}/api/events`, [EVENTS_PROTOCOL, TOKEN_PROTOCOL_PREFIX + token]);
    socket = ws;
    ws.onopen = () => {
      retry = 0;
      setState('connected', everConnected);
      everConnected = true;
    };
    ws.onmessage = (m) => {
      try {
        const { event, payload } = JSON.parse(String(m.data)) as { event: string; payload: unknown };
        dispatchLocal(event, payload);
      } catch {
        // ignore malformed frames
      }
    };
    ws.onclose = () => {
      if (socket === ws) socket = null;
      void lost();
    };
  };

  /** The socket closed or a call failed: find out why, then retry with backoff or stop. */
  const lost = async () => {
    if (refused() || retryTimer || socket) return;
    const probe = await probeServer();
    if (probe === 'refused') return setState('token-refused');
    if (probe === 'down') setState('disconnected');
    if (retryTimer || socket || refused()) return;
    retry = Math.min(retry + 1, 5);
    retryTimer = setTimeout(connect, Math.min(10_000, 500 * 2 ** retry));
  };

  const probeServer = async (): Promise<'up' | 'down' | 'refused'> => {
    try {
      const res = await post('app.info', {});
      return res.status === 401 ? 'refused' : 'up';
    } catch {
      return 'down';
    }
  };

  const post = (name: string, input: unknown) =>
    fetch(`/api/call/${encodeURIComponent(name)}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      credentials: 'omit',
      cache: 'no-store',
      body: JSON.stringify(input ?? {}),
    });

  connect();

  const api: ContractClient = {
    async call(name, input) {
      if (!token) throw new AppError('unauthorized', 'Open the URL printed in the terminal where the workbench server was started');
      let res: Response;
      try {
        res = await post(name, input);
      } catch (e) {
        void lost();
        throw new AppError('internal', `The workbench server is not reachable: ${(e as Error).message}`);
      }
      if (res.status === 401) setState('token-refused');
      let body: CallResult<unknown>;
      try {
        body = (await res.json()) as CallResult<unknown>;
      } catch {
        throw new AppError('internal', `Unexpected response from the server (HTTP ${res.status})`);
      }
      return unwrap(name, body);
    },
    subscribe(event, listener) {
      let set = listeners.get(event);
      if (!set) listeners.set(event, (set = new Set()));
      set.add(listener as Listener);
      return () => set.delete(listener as Listener);
    },
  };
  const connection: Connection = {
    snapshot: () => snapshot,
    subscribe(w) {
      watchers.add(w);
      return () => watchers.delete(w);
    },
    retryNow() {
      if (retryTimer) clearTimeout(retryTimer);
      retry = 0;
      connect();
    },
  };
  return { api, connection };
}

declare global {
  interface Window {
    safetune?: PreloadBridge;
  }
}

const client = window.safetune ? electronClient(window.safetune) : browserClient();

export const api: ContractClient = client.api;
export const connection: Connection = client.connection;

export type { CallInput, CallName, CallOutput, EventName, EventPayload };
