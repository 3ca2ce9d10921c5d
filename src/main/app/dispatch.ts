import { z } from 'zod';
import { calls, isCallName, type CallName } from '../../shared/contract';
import { AppError, type CallResult } from '../../shared/errors';
import type { Handlers } from './handlers';

export type Dispatch = (name: string, input: unknown) => Promise<CallResult<unknown>>;

/**
 * The single entry for every transport: looks the call up, validates its input against the
 * contract schema (a bad argument never reaches the handler), runs the handler and turns any
 * failure into a typed error envelope.
 */
export function createDispatcher(handlers: Handlers, log: (msg: string, e: unknown) => void = defaultLog): Dispatch {
  return async (name, input) => {
    try {
      if (typeof name !== 'string' || !isCallName(name)) {
        throw new AppError('unknown_call', `Unknown call "${String(name)}"`, { name });
      }
      const def = calls[name];
      const parsed = def.input.safeParse(input ?? {});
      if (!parsed.success) {
        throw new AppError('invalid_input', `Invalid input for ${name}: ${z.prettifyError(parsed.error)}`, {
          issues: parsed.error.issues.map((i) => ({ path: i.path.map(String), message: i.message, code: i.code })),
        });
      }
      const handler = handlers[name] as (i: unknown) => unknown;
      const value = await handler(parsed.data);
      return { ok: true, value };
    } catch (e) {
      return { ok: false, error: toErrorPayload(e, name as CallName, log) };
    }
  };
}

export function toErrorPayload(e: unknown, name: string, log: (msg: string, e: unknown) => void = defaultLog) {
  if (e instanceof AppError) return e.toPayload();
  const err = e as { code?: string; message?: string };
  if (typeof err?.code === 'string' && err.code.startsWith('SQLITE_')) {
    log(`database error in ${name}`, e);
    return new AppError('database', `Database error: ${err.message}`, { sqlite: err.code }).toPayload();
  }
  log(`internal error in ${name}`, e);
  return new AppError('internal', `Internal error in ${name}: ${err?.message ?? String(e)}`).toPayload();
}

function defaultLog(msg: string, e: unknown): void {
  console.error(msg, e);
}
