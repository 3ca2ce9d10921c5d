/**
 * Label-preserving rewrites of training prompts that change only their phrasing: a question
 * becomes an instruction ("How can I X?" → "Explain how to X.") and an instruction becomes a
 * request ("Write X" → "Can you write X?"). The public harmful sets are mostly questions
 * (BeaverTails) and the benign ones mostly instructions (Alpaca), so without this a detector
 * learns the phrasing instead of the request; every rewrite applies to both classes alike.
 * Also: the phrasing cell of a prompt, used to balance the loss over (harmful × phrasing).
 */
import { Rng } from '../engine/train/rng';

export type Phrasing = 'question' | 'instruction';

const QUESTION_START = /^(how|what|why|where|when|who|which|whose|is|are|am|was|were|can|could|would|should|do|does|did|will|shall|may|might|have|has)\b/i;

export function phrasing(text: string): Phrasing {
  const t = text.trim();
  return /\?\s*$/.test(t) || QUESTION_START.test(t) ? 'question' : 'instruction';
}

// "How (do|can|could|should|would|might) (I|we|one|you|someone|people) X?" and "What's the best way to X?"
const HOW_TO =
  /^(?:how\s+(?:do|can|could|should|would|might|will)\s+(?:i|we|one|you|someone|somebody|people|a person)|how\s+to|what(?:'s| is| are)\s+(?:the\s+)?(?:best|easiest|quickest|fastest|most effective|simplest|safest|good)\s+(?:ways?|methods?|means)\s+(?:to|of|for))\s+(.+?)[?.!\s]*$/i;

/** Instruction wrappers for a "how to X" request, as instruction sets phrase tasks (explain, write, create, develop, plan). */
const TO_INSTRUCTION = [
  'Explain how to {x}.',
  'Tell me how to {x}.',
  'Describe how to {x}.',
  'Write a guide on how to {x}.',
  'Give step-by-step instructions to {x}.',
  'List ways to {x}.',
  'Show me how to {x}.',
  'Create a tutorial on how to {x}.',
  'Write a program that helps me {x}.',
  'Develop a plan to {x}.',
  'Design an app that helps people {x}.',
  'Write a blog post explaining how to {x}.',
];

const TO_REQUEST = ['Can you {x}?', 'Could you {x}?', 'Please {x}.', 'I need you to {x}.', 'I want you to {x}.', 'Help me {x}.'];

const lcFirst = (s: string) => (/^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s);

/**
 * A rephrasing of `text`, or null when no rule applies (multi-line prompts and those with an
 * input section are left alone). Deterministic for a given generator state.
 */
export function rephrase(text: string, rng: Rng): string | null {
  const t = text.trim();
  if (!t || t.includes('\n')) return null;
  const m = HOW_TO.exec(t);
  if (m) {
    // "-ing" form after "way of" reads badly in the templates: keep only infinitive objects
    const x = m[1]!.replace(/^(?:to\s+)/i, '');
    if (/^\w+ing\b/i.test(x)) return null;
    return TO_INSTRUCTION[rng.int(TO_INSTRUCTION.length)]!.replace('{x}', x);
  }
  if (phrasing(t) === 'instruction' && /^[A-Z][a-z]+\b/.test(t)) {
    const x = lcFirst(t).replace(/[.!\s]+$/, '');
    return TO_REQUEST[rng.int(TO_REQUEST.length)]!.replace('{x}', x);
  }
  return null;
}
