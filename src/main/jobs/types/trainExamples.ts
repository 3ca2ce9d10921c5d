/**
 * The examples a fine-tuning run trains on, as the trainer sees them: the project's task records
 * and a saved safety selection, rendered with the run's prompt template and tokenised with the
 * model's tokenizer. Shared by `train.run` and its pre-flight (`train.preflight`), so both count
 * the same tokens (what the counts mean: truncationAt and nothingToLearn in src/shared/train.ts).
 */
import type { TokenLengthProfile, TrainRunParams } from '../../../shared/train';
import type { Db } from '../../db/database';
import { DatasetStore } from '../../db/datasets';
import { SelectionStore } from '../../db/selections';
import type { LoadedModel } from '../../engine';

export interface PromptResponse {
  prompt: string;
  response: string;
}

export type Template = TrainRunParams['template'];

const ALPACA = (prompt: string) =>
  `Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n### Instruction:\n${prompt}\n\n### Response:\n`;

/** Task records (with a response) of the chosen data sets, and the selection's safety examples (with a response). */
export function trainingRecords(
  db: Db,
  p: { projectId: number; taskDatasetIds?: number[] | undefined; selectionId?: number | undefined },
): { task: PromptResponse[]; safety: PromptResponse[] } {
  const task = new DatasetStore(db).roleRecords(p.projectId, 'task', p.taskDatasetIds).filter((r) => r.response.trim() !== '');
  const safety = p.selectionId ? new SelectionStore(db).items(p.selectionId).filter((r) => r.response.trim() !== '') : [];
  return { task, safety };
}

/**
 * The task records with the run's poisoned pairs mixed in (src/main/data/poison.ts: a share `rate`
 * of the result, at positions seeded by the run's seed), and how many were added.
 */
export async function withPoison(
  task: PromptResponse[],
  poison: TrainRunParams['poison'],
  seed: number,
): Promise<{ task: PromptResponse[]; poisonExamples: number }> {
  if (!poison || poison.rate === 0) return { task, poisonExamples: 0 };
  const { mixPoison, readPoisonPairs } = await import('../../data/poison');
  const pairs = await readPoisonPairs(poison.file, { promptField: poison.promptField, responseField: poison.responseField });
  const rows = mixPoison(task, pairs, poison.rate, seed);
  return { task: rows.map((r) => ({ prompt: r.prompt, response: r.response })), poisonExamples: rows.length - task.length };
}

/**
 * A record as the trainer tokenises it: the prompt rendered with the template, BOS unless the chat
 * template adds it, and a chat template's special-token text encoded as those tokens.
 */
export async function trainingText(
  model: LoadedModel,
  template: Template,
): Promise<{ render: (r: PromptResponse) => PromptResponse; addBos: boolean; parseSpecial: boolean }> {
  const { applyChatTemplate } = await import('../../engine');
  const render = (prompt: string) => {
    if (template === 'alpaca') return ALPACA(prompt);
    if (template === 'chat') return applyChatTemplate(model, [{ role: 'user', content: prompt }]);
    return prompt;
  };
  return { render: (r) => ({ prompt: render(r.prompt), response: r.response }), addBos: template !== 'chat', parseSpecial: template === 'chat' };
}

/** Token lengths of records (see exampleLengths), counted into a profile. */
export async function lengthProfile(
  model: LoadedModel,
  template: Template,
  records: readonly PromptResponse[],
  check?: () => void,
): Promise<TokenLengthProfile> {
  const { exampleLengths } = await import('../../engine/train');
  const { render, addBos, parseSpecial } = await trainingText(model, template);
  const prompt = new Map<number, number>();
  const total = new Map<number, number>();
  let empty = 0;
  records.forEach((r, i) => {
    if (i % 256 === 0) check?.();
    const l = exampleLengths(model.tokenizer, render(r), { addBos, parseSpecial });
    if (l.total === l.prompt) {
      empty++;
      return;
    }
    const p = Math.max(1, l.prompt);
    prompt.set(p, (prompt.get(p) ?? 0) + 1);
    total.set(l.total, (total.get(l.total) ?? 0) + 1);
  });
  const sorted = (m: Map<number, number>) => [...m.entries()].sort((a, b) => a[0] - b[0]) as [number, number][];
  return { examples: records.length, emptyResponses: empty, promptTokens: sorted(prompt), totalTokens: sorted(total) };
}
