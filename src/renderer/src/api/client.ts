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

type Listener = (payload: unknown) => void;

function unwrap<N extends CallName>(name: N, result: CallResult<unknown>): CallOutput<N> {
  if (!result.ok) throw AppError.fromPayload(result.error);
  return calls[name].output.parse(result.value) as CallOutput<N>;
}

/** Electron: the preload's `window.safetune` bridge. */
function electronClient(bridge: PreloadBridge): ContractClient {
  return {
    async call(name, input) {
      return unwrap(name, await bridge.call(name, input));
    },
    subscribe: (event, listener) => bridge.subscribe(event, listener as Listener),
  };
}

/**
 * Browser mode: calls over fetch (the session cookie carries the launch token), events over a
 * WebSocket that reconnects with backoff.
 */
function browserClient(): ContractClient {
  const listeners = new Map<string, Set<Listener>>();
  let socket: WebSocket | null = null;
  let retry = 0;

  const connect = () => {
    const proto = location.protocol === 'https:' ? 'wss' : 'ws';
    socket = new WebSocket(`${proto}://${location.host}/api/events`);
    socket.onopen = () => {
      retry = 0;
      dispatchLocal('connection', { connected: true });
    };
    socket.onmessage = (m) => {
      try {
        const { event, payload } = JSON.parse(String(m.data)) as { event: string; payload: unknown };
        dispatchLocal(event, payload);
      } catch {
        // ignore malformed frames
      }
    };
    socket.onclose = () => {
      dispatchLocal('connection', { connected: false });
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 250 * 2 ** retry);
    };
  };
  const dispatchLocal = (event: string, payload: unknown) => {
    for (const l of listeners.get(event) ?? []) l(payload);
  };
  connect();

  return {
    async call(name, input) {
      let res: Response;
      try {
        res = await fetch(`/api/call/${encodeURIComponent(name)}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          credentials: 'same-origin',
          body: JSON.stringify(input ?? {}),
        });
      } catch (e) {
        throw new AppError('internal', `The workbench server is not reachable: ${(e as Error).message}`);
      }
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
}

declare global {
  interface Window {
    safetune?: PreloadBridge;
  }
}

export const api: ContractClient = window.safetune ? electronClient(window.safetune) : browserClient();

export type { CallInput, CallName, CallOutput, EventName, EventPayload };
