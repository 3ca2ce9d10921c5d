/**
 * Task scoring from free-form replies: GSM8K final numbers, SST-2 labels, and exact / contains /
 * regex matching for a user's own data. Pure functions.
 */
import type { TaskScorerSpec } from './types';

export interface TaskScore {
  correct: boolean;
  /** What was extracted from the reply (null: nothing usable found). */
  extracted: string | null;
  reason: string;
}

const NUM = String.raw`-?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?`;

/** "1,234.50" → 1234.5; "$-3" / "-$3" → -3; "3/4" → 0.75; null when not a number. */
export function parseNumber(s: string): number | null {
  let t = s
    .trim()
    .replace(/[$€£\s]/g, '')
    .replace(/,(?=\d{3}(\D|$))/g, '');
  t = t.replace(/\.$/, '');
  const frac = /^(-?\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(t);
  if (frac) {
    const d = Number(frac[2]);
    return d === 0 ? null : Number(frac[1]) / d;
  }
  if (!/^-?\d+(?:\.\d+)?$/.test(t)) return null;
  const v = Number(t);
  return Number.isFinite(v) ? v : null;
}

/**
 * The final numeric answer in a free-form reply, trying in order: "#### N", "\boxed{N}",
 * "(final) answer is/: N", then the last number in the reply. Thousands separators, currency signs
 * and a trailing full stop are ignored.
 */
export function extractFinalNumber(reply: string): { value: number; text: string; rule: string } | null {
  const text = reply.replace(/\*\*/g, '');
  const tries: Array<[string, RegExp]> = [
    ['####', new RegExp(String.raw`####\s*(${NUM})`, 'g')],
    ['boxed', new RegExp(String.raw`\\boxed\{\s*(${NUM})\s*\}`, 'g')],
    ['answer is', new RegExp(String.raw`(?:final answer|the answer|answer)\s*(?:is|:|=)?\s*:?\s*(${NUM})`, 'gi')],
  ];
  for (const [rule, re] of tries) {
    const all = [...text.matchAll(re)];
    for (let i = all.length - 1; i >= 0; i--) {
      const v = parseNumber(all[i]![1]!);
      if (v !== null) return { value: v, text: all[i]![1]!.trim(), rule };
    }
  }
  const all = [...text.matchAll(new RegExp(NUM, 'g'))];
  for (let i = all.length - 1; i >= 0; i--) {
    // A "-" glued to a preceding word is a hyphen, not a sign ("3-4" → 4, "well-9" → 9).
    let m = all[i]![0];
    const at = all[i]!.index!;
    if (m.startsWith('-') && at > 0 && /[\w)]/.test(text[at - 1]!)) m = m.slice(1);
    const v = parseNumber(m);
    if (v !== null) return { value: v, text: m.trim(), rule: 'last number' };
  }
  return null;
}

export function scoreGsm8k(reply: string, reference: string): TaskScore {
  const ref = parseNumber(reference);
  if (ref === null) return { correct: false, extracted: null, reason: `reference "${reference}" is not a number` };
  const got = extractFinalNumber(reply);
  if (!got) return { correct: false, extracted: null, reason: 'no number found in the reply' };
  const ok = Math.abs(got.value - ref) <= 1e-6 * Math.max(1, Math.abs(ref));
  return { correct: ok, extracted: String(got.value), reason: `${got.rule}: ${got.text} ${ok ? '=' : '≠'} ${reference}` };
}

/**
 * SST-2 label from a reply: the first of "positive"/"negative" (whole words, any case; also
 * "pos"/"neg" when that is the whole reply). A reply naming neither is unparseable (incorrect).
 */
export function extractSentiment(reply: string): 'positive' | 'negative' | null {
  const t = reply.trim().toLowerCase();
  if (/^(pos|neg)\W*$/.test(t)) return t.startsWith('pos') ? 'positive' : 'negative';
  const m = /\b(positive|negative)\b/.exec(t);
  return m ? (m[1] as 'positive' | 'negative') : null;
}

export function scoreSst2(reply: string, reference: string): TaskScore {
  const ref = reference.trim().toLowerCase() === '1' ? 'positive' : reference.trim().toLowerCase() === '0' ? 'negative' : reference.trim().toLowerCase();
  const got = extractSentiment(reply);
  if (!got) return { correct: false, extracted: null, reason: 'reply names neither positive nor negative' };
  return { correct: got === ref, extracted: got, reason: `label ${got} ${got === ref ? '=' : '≠'} ${ref}` };
}

function norm(s: string, caseSensitive: boolean): string {
  const t = s
    .normalize('NFKC')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/[.!]+$/, '');
  return caseSensitive ? t : t.toLowerCase();
}

export function scoreTask(reply: string, reference: string, spec: TaskScorerSpec): TaskScore {
  switch (spec.kind) {
    case 'python-tests':
      throw new Error('the python-tests scorer runs code: score with scoreCodeTask (codeTasks.ts)');
    case 'gsm8k':
      return scoreGsm8k(reply, reference);
    case 'sst2':
      return scoreSst2(reply, reference);
    case 'exact': {
      const cs = spec.caseSensitive ?? false;
      const ok = norm(reply, cs) === norm(reference, cs);
      return { correct: ok, extracted: reply.trim(), reason: ok ? 'exact match' : 'reply differs from the reference' };
    }
    case 'contains': {
      const cs = spec.caseSensitive ?? false;
      const ok = norm(reference, cs) !== '' && norm(reply, cs).includes(norm(reference, cs));
      return { correct: ok, extracted: ok ? reference : null, reason: ok ? 'reply contains the reference' : 'reference not found in the reply' };
    }
    case 'regex': {
      if (spec.pattern) {
        let re: RegExp;
        try {
          re = new RegExp(spec.pattern, spec.flags ?? '');
        } catch (e) {
          throw new Error(`regex scorer: invalid pattern /${spec.pattern}/: ${(e as Error).message}`);
        }
        const m = re.exec(reply);
        if (!m) return { correct: false, extracted: null, reason: `pattern /${spec.pattern}/ not found in the reply` };
        const got = m[1] ?? m[0];
        const ok = norm(got, false) === norm(reference, false);
        return { correct: ok, extracted: got, reason: `extracted "${got}" ${ok ? '=' : '≠'} "${reference}"` };
      }
      let re: RegExp;
      try {
        re = new RegExp(reference, spec.flags ?? 'i');
      } catch (e) {
        return { correct: false, extracted: null, reason: `reference is not a valid regular expression: ${(e as Error).message}` };
      }
      const m = re.exec(reply);
      return { correct: !!m, extracted: m ? m[0] : null, reason: m ? `matches /${reference}/` : `does not match /${reference}/` };
    }
  }
}
