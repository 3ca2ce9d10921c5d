/**
 * The event bus: contract events (job progress, logs…) fanned out to every transport. The app
 * creates one per workspace and hands it to the job runner and the transports; it knows only the
 * contract.
 */
import { events, type EventName, type EventPayload } from '../../shared/contract';

type Listener<E extends EventName> = (payload: EventPayload<E>) => void;

/** Typed fan-out of contract events to every transport (Electron windows, WebSocket clients, CLI). */
export class EventBus {
  private readonly listeners = new Map<EventName, Set<Listener<never>>>();

  on<E extends EventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Listens to every event (transports forward them all). */
  onAny(listener: (event: EventName, payload: unknown) => void): () => void {
    const offs = (Object.keys(events) as EventName[]).map((e) => this.on(e, (p) => listener(e, p)));
    return () => offs.forEach((off) => off());
  }

  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        (l as Listener<E>)(payload);
      } catch (e) {
        console.error(`event listener for ${event} failed:`, e);
      }
    }
  }
}
