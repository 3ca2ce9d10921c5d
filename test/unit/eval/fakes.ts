/** Deterministic test doubles for the eval tests (no model needed). */
import type { GenerateCallOptions, GenerationOutput, GenerationRequest, GenerationSettings, Generator, NextTokenScorer } from '../../../src/main/eval/types';

export function requestText(r: GenerationRequest): string {
  return r.messages ? r.messages.map((m) => `${m.role}: ${m.content}`).join('\n') : r.prompt;
}

/** Answers each request with `answer(text of the request)`; records every call. */
export class ScriptedGenerator implements Generator {
  readonly id: string;
  readonly calls: Array<{ requests: GenerationRequest[]; settings: GenerationSettings }> = [];
  contextLength?: number;
  private readonly delayMs: number;
  constructor(
    private readonly answer: (text: string, r: GenerationRequest) => string,
    opts: { id?: string; contextLength?: number; delayMs?: number } = {},
  ) {
    this.id = opts.id ?? 'scripted';
    this.delayMs = opts.delayMs ?? 0;
    if (opts.contextLength) this.contextLength = opts.contextLength;
  }
  async generate(requests: readonly GenerationRequest[], settings: GenerationSettings, options: GenerateCallOptions = {}): Promise<GenerationOutput[]> {
    options.signal?.throwIfAborted();
    this.calls.push({ requests: [...requests], settings });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    return requests.map((r) => {
      const text = this.answer(requestText(r), r);
      return { text, finishReason: 'stop', promptTokens: this.countTokens(r), completionTokens: text.split(/\s+/).filter(Boolean).length };
    });
  }
  /** One token per whitespace-separated word. */
  countTokens(r: GenerationRequest): number {
    return requestText(r).split(/\s+/).filter(Boolean).length;
  }
}

/** Next-token probabilities from a function of the prompt. */
export class ScriptedScorer implements NextTokenScorer {
  readonly id = 'scripted-scorer';
  readonly prompts: string[] = [];
  constructor(private readonly probs: (prompt: string) => Record<string, number | null>) {}
  async scoreNextToken(prompts: readonly string[], candidates: readonly string[]): Promise<Array<Record<string, number | null>>> {
    this.prompts.push(...prompts);
    return prompts.map((p) => {
      const all = this.probs(p);
      return Object.fromEntries(candidates.map((c) => [c, all[c] ?? null]));
    });
  }
}
