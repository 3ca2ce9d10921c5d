/** What every judge says about an empty reply: a non-answer, never an error. */
export const EMPTY_REASON = 'empty response (counted as a non-answer)';

export function isEmpty(s: string): boolean {
  return s.trim() === '';
}
