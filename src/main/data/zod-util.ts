import type { z } from 'zod';

/** Parse with a zod schema; on failure throw one readable Error: "what: path: message; ...". */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const msgs = r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new Error(`${what}: ${msgs.join('; ')}`);
}
