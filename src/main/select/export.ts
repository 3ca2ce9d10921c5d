/** Training-mix export: task data plus selected safety examples, as JSONL in Alpaca or chat format. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mulberry32, shuffleInPlace } from './common';

export interface PromptResponse {
  prompt: string;
  response: string;
}

export type MixFormat = 'alpaca' | 'chat';

export function toAlpaca(r: PromptResponse): { instruction: string; input: string; output: string } {
  return { instruction: r.prompt, input: '', output: r.response };
}

export function toChat(r: PromptResponse, system?: string): { messages: Array<{ role: string; content: string }> } {
  return {
    messages: [...(system ? [{ role: 'system', content: system }] : []), { role: 'user', content: r.prompt }, { role: 'assistant', content: r.response }],
  };
}

export interface MixItem extends PromptResponse {
  source: 'task' | 'safety';
}

/** The seeded order in which buildTrainingMix lays out `n` items (task then safety): a shuffle of their indices. */
export function trainingMixOrder(n: number, seed = 0): Int32Array {
  return shuffleInPlace(
    Int32Array.from({ length: n }, (_, i) => i),
    mulberry32(seed),
  );
}

/** Task records plus safety records, shuffled together with a seed (or safety appended when shuffle is false). */
export function buildTrainingMix(
  task: readonly PromptResponse[],
  safety: readonly PromptResponse[],
  opts: { seed?: number; shuffle?: boolean } = {},
): MixItem[] {
  const all: MixItem[] = [
    ...task.map((r) => ({ prompt: r.prompt, response: r.response, source: 'task' as const })),
    ...safety.map((r) => ({ prompt: r.prompt, response: r.response, source: 'safety' as const })),
  ];
  if (opts.shuffle === false) return all;
  return Array.from(trainingMixOrder(all.length, opts.seed), (i) => all[i]!);
}

export function toJsonlLine(r: PromptResponse, format: MixFormat, system?: string): string {
  return JSON.stringify(format === 'alpaca' ? toAlpaca(r) : toChat(r, system));
}

/** Write records as JSONL (one object a line, "\n"-terminated); returns the count. */
export async function writeJsonl(path: string, rows: Iterable<PromptResponse>, format: MixFormat, system?: string): Promise<number> {
  const out = createWriteStream(path, { encoding: 'utf8' });
  let n = 0;
  for (const r of rows) {
    if (!out.write(toJsonlLine(r, format, system) + '\n')) await once(out, 'drain');
    n++;
  }
  out.end();
  await once(out, 'finish');
  return n;
}
