/**
 * Surface-form variants of an alignment instruction, so that the form of a prompt (a question or a
 * command, its first verb) does not predict whether the aligned model should refuse it: every
 * instruction, harmful or benign alike, gets rewritten copies drawn from the same templates, and
 * the label is left to the content. A small model otherwise learns the form (issue 15: harmful
 * questions made it refuse every question; harmful commands beginning with "Research" or
 * "Compile" made it comply with harmful commands beginning with "Create" or "Develop").
 */

/** Words that open a question. */
const QUESTION_START =
  /^(how|what|what's|why|where|when|who|which|whose|can|could|would|should|will|is|are|was|were|do|does|did|has|have|may|might|shall|am|ways|ideas|tips)\b/i;

/** Imperative verbs that open commands (the common first words of the alignment instructions). */
const VERBS = [
  'write',
  'create',
  'develop',
  'provide',
  'give',
  'design',
  'explain',
  'describe',
  'outline',
  'generate',
  'produce',
  'compose',
  'research',
  'identify',
  'list',
  'find',
  'suggest',
  'compile',
  'construct',
  'draft',
  'make',
  'prepare',
  'build',
  'analyze',
  'name',
  'brainstorm',
  'summarize',
  'teach',
  'show',
  'tell',
];
const VERB_SET = new Set(VERBS);

/** Command templates for a question (`{q}` the question as written): they end without a question mark. */
const QUESTION_AS_COMMAND = [
  'Answer this question: "{q}"',
  'Explain the answer to "{q}"',
  'Write a short answer to the question "{q}"',
  'Give me an answer to "{q}"',
];
/** Question templates for a question (`{q}` as written). */
const QUESTION_AS_QUESTION = ['I have a question. {q}', 'Quick question: {q}', 'Can you tell me this? {q}', 'Please answer: {q}'];
/** Question templates for a command (`{c}` the command with a lower-case first letter and no final stop). */
const COMMAND_AS_QUESTION = ['Can you {c}?', 'Could you {c}?', 'How would you {c}?', 'Would you {c}?', 'Is it possible to {c}?'];
/** Command templates for a command. */
const COMMAND_AS_COMMAND = ['Please {c}.', 'I want you to {c}.', 'Your task: {c}.'];

/** Whether a prompt is a question (ends with "?" or opens with a question word). */
export function isQuestion(prompt: string): boolean {
  const t = prompt.trim();
  return t.endsWith('?') || QUESTION_START.test(t);
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const pick = <T>(a: readonly T[], rng: () => number): T => a[Math.floor(rng() * a.length)]!;

/** "How do I X?" / "How can I X?" / "How to X?" → the action X, if the question asks for a way to do something. */
function howToAction(q: string): string | null {
  const m = /^how\s+(?:do|can|could|would|should|might)\s+(?:i|you|one|we|someone)\s+(.+?)\??$/i.exec(q) ?? /^how\s+to\s+(.+?)\??$/i.exec(q);
  return m ? m[1]!.trim() : null;
}

/** A question rewritten as a command ("How do I X?" → "Explain how to X.") or as another question. */
function fromQuestion(q: string, asQuestion: boolean, rng: () => number): string {
  if (asQuestion) return pick(QUESTION_AS_QUESTION, rng).replace('{q}', q);
  const action = howToAction(q);
  if (action && rng() < 0.5)
    return `${pick(['Explain how to', 'Write a guide on how to', 'Tell me how to', 'Describe how to', 'Give instructions to'], rng)} ${action}.`;
  return pick(QUESTION_AS_COMMAND, rng).replace('{q}', q);
}

/** A command rewritten as a question ("Can you …?") or as a command with another opening verb ("Research X" → "Develop X") or wrapper. */
function fromCommand(c: string, asQuestion: boolean, rng: () => number): string {
  const command = lowerFirst(c.replace(/[.!]+$/, ''));
  if (asQuestion) return upperFirst(pick(COMMAND_AS_QUESTION, rng).replace('{c}', command));
  const [verb = '', ...words] = command.split(' ');
  if (VERB_SET.has(verb.toLowerCase()) && words.length && rng() < 0.7) {
    let other = pick(VERBS, rng);
    while (other === verb.toLowerCase()) other = pick(VERBS, rng);
    return `${upperFirst(other)} ${words.join(' ')}.`;
  }
  return upperFirst(pick(COMMAND_AS_COMMAND, rng).replace('{c}', command));
}

/**
 * One rewritten form of `prompt` drawn with `rng`: a question or a command with even odds,
 * whatever the prompt was (so a harmful and a benign instruction get the same mix of forms).
 * Multi-line prompts (an instruction with an input) keep their later lines as written.
 */
export function formVariant(prompt: string, rng: () => number): string {
  const [head = '', ...rest] = prompt.trim().split('\n');
  const tail = rest.length ? `\n${rest.join('\n')}` : '';
  const first = head.trim();
  const asQuestion = rng() < 0.5;
  return (isQuestion(first) ? fromQuestion(first, asQuestion, rng) : fromCommand(first, asQuestion, rng)) + tail;
}
