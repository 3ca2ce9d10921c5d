/**
 * What an evaluation stores per example: the record of one suite item (the prompt as sent, the
 * reply, every judge's verdict and the item fields metrics need), and a person's correction of a
 * verdict. The eval core writes them, the db store keeps them as they are and the app computes
 * metrics from them, so they are defined here, once.
 */
import { z } from 'zod';
import { ExpectedBehaviour, SuiteKind, Verdict, VerdictLabel } from './eval';

/** Why a generator stopped. */
export const GenerationFinish = z.enum(['stop', 'length', 'cancelled']);
export type GenerationFinish = z.infer<typeof GenerationFinish>;

export const EvalRecord = z.object({
  suiteId: z.string(),
  suiteKind: SuiteKind,
  itemId: z.string(),
  /** 0-based index of the item in its suite as run (stable order for storage and display). */
  position: z.number().int().optional(),
  /** The prompt as sent (after any truncation). */
  prompt: z.string(),
  response: z.string(),
  finishReason: z.union([GenerationFinish, z.literal('error')]),
  verdicts: z.array(Verdict),
  warnings: z.array(z.string()),
  /** Item fields needed to recompute metrics without the suite file. */
  expected: ExpectedBehaviour,
  categories: z.array(z.string()),
  sourceCategories: z.array(z.string()),
  reference: z.string().nullable(),
  promptTokens: z.number().int().optional(),
  completionTokens: z.number().int().optional(),
});
export type EvalRecord = z.infer<typeof EvalRecord>;

/** A person's correction of one verdict: it overrides the judge's label in metrics. */
export const VerdictCorrection = z.object({
  suiteId: z.string(),
  itemId: z.string(),
  /** The judge whose verdict is corrected; '*' corrects every judge of that kind. */
  judgeId: z.string(),
  label: VerdictLabel,
  note: z.string().optional(),
});
export type VerdictCorrection = z.infer<typeof VerdictCorrection>;
