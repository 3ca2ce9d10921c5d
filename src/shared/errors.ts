import { z } from 'zod';

/** Every error that crosses the renderer↔main boundary carries one of these codes. */
export const ErrorCode = z.enum([
  'invalid_input',
  'unknown_call',
  'not_found',
  'conflict',
  'unauthorized',
  'forbidden',
  'payload_too_large',
  'bad_request',
  'unsupported',
  'database',
  'cancelled',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorPayload = z.object({
  code: ErrorCode,
  message: z.string(),
  details: z.unknown().optional(),
});
export type ErrorPayload = z.infer<typeof ErrorPayload>;

/** A typed error: thrown by services, serialised across the transport, rebuilt on the other side. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }

  toPayload(): ErrorPayload {
    return this.details === undefined ? { code: this.code, message: this.message } : { code: this.code, message: this.message, details: this.details };
  }

  static fromPayload(p: ErrorPayload): AppError {
    return new AppError(p.code, p.message, p.details);
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** The envelope every call returns over IPC or HTTP. */
export type CallResult<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };
