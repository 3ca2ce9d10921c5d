/**
 * The judges of Analyse (curation): who types each record — the built-in detectors, or a model
 * judge the user has the weights for (WildGuard, Llama Guard 3) run beside them. One row of facts
 * per judge; `DataAnalyseParams.judge`, the `safetune data analyse --judge` option and the Data
 * tab's Analyse form come from this table. The implementations are src/main/detect/model-judges.
 */
import { z } from 'zod';
import { NO_PARAMS, methodEnum, type MethodRow, type MethodTable } from './table';

export interface CurationJudgeRow extends MethodRow {
  /** Runs a model (engine model or OpenAI-compatible server) given as `judgeModel`. */
  model: boolean;
  /** What the judge itself says about a record; the rest comes from the built-in detectors. */
  gives: ReadonlyArray<'prompt harm' | 'refusal' | 'harm categories'>;
}

/** The curation judges, in the order the form and the CLI list them. */
export const CURATION_JUDGES = {
  builtin: {
    label: 'Built-in detectors',
    description: 'The shipped prompt-harm and refusal detectors over the built-in word vectors (no model needed)',
    params: NO_PARAMS,
    model: false,
    gives: ['prompt harm', 'refusal'],
  },
  wildguard: {
    label: 'WildGuard',
    description: 'A WildGuard model answers "Harmful request", "Response refusal", "Harmful response" for each pair: one pass gives T1–T4',
    params: NO_PARAMS,
    model: true,
    gives: ['prompt harm', 'refusal'],
    reference: 'https://arxiv.org/abs/2406.18495',
  },
  'llama-guard': {
    label: 'Llama Guard 3',
    description: 'A Llama Guard 3 model judges each prompt safe or unsafe with its categories; the refusal comes from the built-in detector',
    params: NO_PARAMS,
    model: true,
    gives: ['prompt harm', 'harm categories'],
    reference: 'https://arxiv.org/abs/2407.21783',
  },
} as const satisfies MethodTable<CurationJudgeRow>;

export const CurationJudgeId = methodEnum(CURATION_JUDGES);
export type CurationJudgeId = z.infer<typeof CurationJudgeId>;
/** A model judge (every row but the built-in detectors). */
export type ModelJudgeId = Exclude<CurationJudgeId, 'builtin'>;
export const ModelJudgeId = CurationJudgeId.exclude(['builtin']);
