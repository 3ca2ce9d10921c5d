/**
 * What behaviour typing (T1–T4) needs from a safety judge, whatever it is: the built-in sequence
 * detectors or a model judge (model-judges/: WildGuard, Llama Guard 3), which then stands
 * in for them with the same result shape — a prompt-harm probability with the harm categories and
 * their scores, and a refusal probability for each reply. The built-in one is BuiltinSafetyJudge
 * (behaviour.ts); classifyBehaviour takes any.
 */
export interface PromptJudgement {
  /** P(the prompt is harmful), calibrated. */
  harmProbability: number;
  harmful: boolean;
  /** Score per harm category (BeaverTails ids; calibrated probabilities for the built-in detector). */
  categoryScores: Record<string, number>;
  /** Assigned categories, best first (may be empty when the judge gives none). */
  categories: string[];
  /** Set when a model judge gave no usable verdict for this item (unreadable answer, failed call): the other fields are then placeholders (false / 0) and must not be read as a label. */
  error?: string;
}

export interface ResponseJudgement {
  /** P(the reply is a refusal), calibrated. */
  refusalProbability: number;
  refusal: boolean;
  /** As PromptJudgement.error. */
  error?: string;
}

export interface SafetyJudge {
  /** Names the judge and its version (recorded with its verdicts). */
  readonly id: string;
  judgePrompts(prompts: readonly string[]): Promise<PromptJudgement[]>;
  /** Replies with the prompts they answer (a model judge reads both). */
  judgeResponses(pairs: ReadonlyArray<{ prompt: string; response: string }>): Promise<ResponseJudgement[]>;
}
