/**
 * Code tasks scored by running their tests (HumanEval, pass@1): the program is assembled from the
 * task's prompt, the model's reply and the task's tests, then run by ./codeSandbox.
 *
 * A reply is read as: the first fenced code block if it has one, else the whole reply. When that
 * code defines the task's entry point itself, it replaces the prompt (the prompt's import lines are
 * kept); otherwise it continues the prompt (the function body), as HumanEval's completions do.
 */
import { type SandboxOptions, runPythonTests } from './codeSandbox';
import type { TaskScore } from './scoring';

/** What a code task's item keeps as its reference (stored as JSON in SuiteItem.reference). */
export interface CodeTaskReference {
  /** the function signature and docstring the model was shown */
  prompt: string;
  /** defines check(candidate) */
  test: string;
  /** the function under test */
  entryPoint: string;
}

export function parseCodeReference(reference: string): CodeTaskReference {
  let v: unknown;
  try {
    v = JSON.parse(reference);
  } catch {
    throw new Error('code task reference is not JSON (expected {prompt, test, entryPoint})');
  }
  const r = v as Partial<CodeTaskReference> | null;
  if (!r || typeof r.prompt !== 'string' || typeof r.test !== 'string' || typeof r.entryPoint !== 'string' || !/^[A-Za-z_]\w*$/.test(r.entryPoint)) {
    throw new Error('code task reference needs string fields prompt, test and entryPoint (a Python name)');
  }
  return { prompt: r.prompt, test: r.test, entryPoint: r.entryPoint };
}

/** The code in a reply: its first fenced block, else the reply. */
export function codeOfReply(reply: string): string {
  const fenced = /```[ \t]*(?:python|py|python3)?[ \t]*\r?\n([\s\S]*?)(?:```|$)/i.exec(reply);
  return (fenced ? fenced[1]! : reply).replace(/\s+$/, '');
}

/** The program that passes when the reply solves the task. */
export function codeTaskProgram(ref: CodeTaskReference, reply: string): string {
  const code = codeOfReply(reply);
  const definesEntry = new RegExp(`^\\s*def\\s+${ref.entryPoint}\\s*\\(`, 'm').test(code);
  const imports = ref.prompt.split('\n').filter((l) => /^(?:from\s+\S+\s+)?import\s/.test(l));
  const solution = definesEntry ? `${imports.join('\n')}\n\n${code}` : `${ref.prompt}${code}`;
  return `${solution}\n\n${ref.test}\n\ncheck(${ref.entryPoint})\n`;
}

/** Runs the reply against the task's tests: correct when every test passes. */
export async function scoreCodeTask(reply: string, reference: string, o: SandboxOptions = {}): Promise<TaskScore> {
  const ref = parseCodeReference(reference);
  const out = await runPythonTests(codeTaskProgram(ref, reply), o);
  if (out.status === 'passed') return { correct: true, extracted: codeOfReply(reply), reason: `tests passed (${Math.round(out.ms)} ms)` };
  return { correct: false, extracted: codeOfReply(reply), reason: out.status === 'timeout' ? out.reason : `tests failed: ${out.reason}` };
}
