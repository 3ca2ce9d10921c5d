import type { z } from 'zod';

/** A schema's complaints in one line: "path: message; ..." ("(root)" for the value itself). */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Parse with a zod schema; on failure throw one readable Error: "what: path: message; ...". */
export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string): z.infer<T> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new Error(`${what}: ${describeIssues(r.error)}`);
}
