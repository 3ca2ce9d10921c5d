import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { Job } from '../../../shared/domain';
import type { AppError } from '../../../shared/errors';
import { jobStateChanged } from '../jobs/jobView';
import { api, connection, type CallInput, type CallName, type CallOutput, type ConnectionSnapshot, type EventName, type EventPayload } from './client';

export interface CallState<T> {
  data: T | undefined;
  error: AppError | null;
  loading: boolean;
  reload: () => void;
}

/** Where the page stands with the workbench (browser mode; always connected in the desktop app). */
export function useConnection(): ConnectionSnapshot {
  return useSyncExternalStore(connection.subscribe, connection.snapshot);
}

/**
 * Runs a contract call and re-runs it when `key` changes or the connection comes back after a loss
 * (events were missed meanwhile); exposes loading and error states.
 */
export function useCall<N extends CallName>(name: N, input: CallInput<N>, key: unknown[] = []): CallState<CallOutput<N>> {
  const { generation } = useConnection();
  const [data, setData] = useState<CallOutput<N>>();
  const [error, setError] = useState<AppError | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const inputRef = useRef(input);
  inputRef.current = input;

  useEffect(() => {
    let live = true;
    setLoading(true);
    api
      .call(name, inputRef.current)
      .then((v) => {
        if (!live) return;
        setData(v);
        setError(null);
      })
      .catch((e: AppError) => live && setError(e))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name, tick, generation, ...key]);

  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data, error, loading, reload };
}

/** Subscribes to a contract event for the component's lifetime. */
export function useEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
  const ref = useRef(listener);
  ref.current = listener;
  useEffect(() => api.subscribe(event, (p) => ref.current(p)), [event]);
}

/**
 * Calls `onChange` when a job that `matches` changes state (queued → running → succeeded …), e.g.
 * to refetch what a finished job wrote; not on every progress update.
 */
export function useJobStateChange(matches: (job: Job) => boolean, onChange: (job: Job) => void): void {
  const seen = useRef(new Map<number, Job['state']>());
  useEvent('job.updated', (j) => matches(j) && jobStateChanged(seen.current, j) && onChange(j));
}

/** Wraps an action: tracks pending state and the last error. */
export function useAction<A extends unknown[], R>(fn: (...args: A) => Promise<R>) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<AppError | null>(null);
  const run = useCallback(
    async (...args: A): Promise<R | undefined> => {
      setPending(true);
      setError(null);
      try {
        return await fn(...args);
      } catch (e) {
        setError(e as AppError);
        return undefined;
      } finally {
        setPending(false);
      }
    },
    [fn],
  );
  return { run, pending, error, clearError: () => setError(null) };
}
