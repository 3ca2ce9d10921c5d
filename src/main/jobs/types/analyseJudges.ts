/**
 * The model judges of Analyse, one implementation per row of the shared table
 * (src/shared/methods/curationJudges.ts; `satisfies` makes a missing one a compile error). Each takes
 * a batch of records through the judge and the built-in detectors: WildGuard gives prompt harm and
 * refusal; Llama Guard 3 prompt harm and categories, the refusal then coming from the built-in
 * detector. A data set whose prompts all count as harmful keeps that rule for the judge's type too
 * (its own prompt-harm answer is stored and compared all the same). Answers out of format are kept as
 * errors with the raw answer, never mapped to a label.
 */
import type { AnalyseSettings } from '../../../shared/select';
import type { Behaviour } from '../../../shared/data';
import type { ModelJudgeId } from '../../../shared/methods/curationJudges';
import type { DatasetStore } from '../../db/datasets';
import type { JudgeVerdict } from '../../db/judgeVerdicts';
import type { Embedder } from '../../embed/types';
import type { Generator } from '../../eval/types';

export type AnalyseRows = ReturnType<DatasetStore['analysisRows']>;

/** What a judge needs: the opened judge model, the Analyse settings, the built-in detectors' embedder. */
export interface CurationJudgeInput {
  generator: Generator;
  settings: AnalyseSettings;
  embedder: Embedder;
  signal: AbortSignal;
  /** prompts per generation call */
  generateBatch: number;
}

/** A judge opened for a run: its id (stored with each verdict) and a batch at a time. */
export interface BatchJudge {
  id: string;
  run: (batch: AnalyseRows) => Promise<JudgeVerdict[]>;
}

const harmfulType = (t: Behaviour) => t === 'T1' || t === 'T2';
const refusalType = (t: Behaviour) => t === 'T1' || t === 'T4';

/** The built-in detectors' types of a batch, and the T1–T4 type of a (prompt harm, refusal) pair under the settings. */
async function builtinTyping({ settings, embedder }: CurationJudgeInput) {
  const { behaviourType, classifyBehaviour } = await import('../../detect/behaviour');
  return {
    builtin: (batch: AnalyseRows) => classifyBehaviour(batch, { embedder, ...(settings.promptsHarmful ? { knownHarmful: true } : {}) }),
    typeOf: (harmful: boolean, refusal: boolean) => behaviourType(settings.promptsHarmful || harmful, refusal),
  };
}

async function wildguard(input: CurationJudgeInput): Promise<BatchJudge> {
  const { builtin, typeOf } = await builtinTyping(input);
  const { WildGuardSafetyJudge } = await import('../../detect/model-judges/judges');
  const j = new WildGuardSafetyJudge({ generator: input.generator, batchSize: input.generateBatch });
  return {
    id: j.id,
    run: async (batch) => {
      // one after the other: a cancel that ends the judge's call never leaves a detector run in flight
      const types = await builtin(batch);
      const items = await j.judgePairs(
        batch.map((r) => ({ prompt: r.prompt, response: r.response })),
        { signal: input.signal },
      );
      return items.map((x, k): JudgeVerdict => {
        const base = { recordId: batch[k]!.id, categories: [], builtinBehaviour: types[k]!.type, builtinHarmful: harmfulType(types[k]!.type) };
        if (!x.ok) return { ...base, harmful: null, refusal: null, behaviour: null, error: { kind: x.kind, message: x.error }, raw: x.raw };
        const { promptHarmful, responseRefusal } = x.answer;
        if (responseRefusal === null)
          return {
            ...base,
            harmful: promptHarmful,
            refusal: null,
            behaviour: null,
            error: { kind: 'no-verdict', message: 'WildGuard answered "Response refusal: n/a" for this reply' },
            raw: x.raw,
          };
        return { ...base, harmful: promptHarmful, refusal: responseRefusal, behaviour: typeOf(promptHarmful, responseRefusal), error: null, raw: x.raw };
      });
    },
  };
}

async function llamaGuard(input: CurationJudgeInput): Promise<BatchJudge> {
  const { builtin, typeOf } = await builtinTyping(input);
  const { classifyPromptsWithLlamaGuard, llamaGuardMappingVersion } = await import('../../detect/model-judges/llamaGuard');
  return {
    id: `llama-guard-3|raw|${llamaGuardMappingVersion()}|${input.generator.id} + built-in refusal detector`,
    run: async (batch) => {
      const types = await builtin(batch);
      const items = await classifyPromptsWithLlamaGuard(
        batch.map((r) => r.prompt),
        { generator: input.generator, batchSize: input.generateBatch },
        { signal: input.signal },
      );
      return items.map((v, k): JudgeVerdict => {
        const t = types[k]!.type;
        const base = { recordId: batch[k]!.id, refusal: null, builtinBehaviour: t, builtinHarmful: harmfulType(t), raw: v.raw };
        if (v.error || v.harmful === null)
          return { ...base, harmful: null, behaviour: null, categories: [], error: v.error ?? { kind: 'parse', message: 'no verdict' } };
        return { ...base, harmful: v.harmful, behaviour: typeOf(v.harmful, refusalType(t)), categories: v.categories, error: null };
      });
    },
  };
}

/** The implementations, one per model judge of the shared table. */
export const CURATION_JUDGE_IMPLS = {
  wildguard,
  'llama-guard': llamaGuard,
} satisfies Record<ModelJudgeId, (input: CurationJudgeInput) => Promise<BatchJudge>>;
