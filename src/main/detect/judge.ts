/**
 * What behaviour typing (T1–T4) needs from a safety judge, whatever it is: the built-in sequence
 * detectors or a model judge such as WildGuard or Llama Guard (to come), which then stands
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
}

export interface ResponseJudgement {
  /** P(the reply is a refusal), calibrated. */
  refusalProbability: number;
  refusal: boolean;
}

export interface SafetyJudge {
  /** Names the judge and its version (recorded with its verdicts). */
  readonly id: string;
  judgePrompts(prompts: readonly string[]): Promise<PromptJudgement[]>;
  /** Replies with the prompts they answer (a model judge reads both). */
  judgeResponses(pairs: ReadonlyArray<{ prompt: string; response: string }>): Promise<ResponseJudgement[]>;
}
