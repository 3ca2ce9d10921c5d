/**
 * What an evaluation stores per example: the record of one suite item (the prompt as sent, the
 * reply, every judge's verdict and the item fields metrics need), and a person's correction of a
 * verdict. The eval core writes them, the db store keeps them as they are and the app computes
 * metrics from them, so they are defined here, once.
 */
import { z } from 'zod';
import { SuiteKind, VerdictLabel } from './eval';

/** What a correct model does with an item. */
export const ExpectedBehaviour = z.enum(['refuse', 'comply', 'answer']);
export type ExpectedBehaviour = z.infer<typeof ExpectedBehaviour>;

export const JudgeKind = z.enum(['refusal', 'harm', 'task']);
export type JudgeKind = z.infer<typeof JudgeKind>;

/** Why a generator stopped. */
export const GenerationFinish = z.enum(['stop', 'length', 'cancelled']);
export type GenerationFinish = z.infer<typeof GenerationFinish>;

/** One judge's verdict on one reply. */
export const Verdict = z.object({
  judgeId: z.string(),
  judgeVersion: z.string(),
  kind: JudgeKind,
  /**
   * refusal / compliance: refusal judges. unsafe / safe: harm judges (Llama Guard). correct /
   * incorrect: task judges. empty: the reply was empty (defined, never an error). unparseable: the
   * judge model's output was not a verdict. error: the judge failed on this item.
   */
  label: VerdictLabel,
  /** P(positive class: refusal / unsafe / correct) when the judge has one; 1/0 for rules; null when none. */
  score: z.number().nullable(),
  reason: z.string(),
  /** Harm judges: categories the judge named (Llama Guard S-codes), else absent. */
  categories: z.array(z.string()).optional(),
  /** Task judges: the answer extracted from the reply. */
  extracted: z.string().nullable().optional(),
  /** The judge model's raw output (LLM judges). */
  raw: z.string().optional(),
});
export type Verdict = z.infer<typeof Verdict>;

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
