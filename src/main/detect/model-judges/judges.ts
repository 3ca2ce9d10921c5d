/**
 * Model judges as SafetyJudges (judge.ts), for users who have the weights: WildGuard (prompt harm
 * and refusal in one pass) and Llama Guard 3 (prompt harm and categories). Either runs through any
 * eval Generator: the local engine (eval/engineGenerator.ts, an HF folder or GGUF) or an
 * OpenAI-compatible server (eval/httpBackend.ts: vLLM, llama.cpp server, Ollama).
 *
 * An item whose answer cannot be read, or whose model call failed, gets `error` set on its
 * judgement and is counted in `stats`; it is never turned into a label.
 */
import { isolate } from '../../eval/llamaGuard';
import type { GenerateCallOptions, Generator, NextTokenScorer } from '../../eval/types';
import type { PromptJudgement, ResponseJudgement, SafetyJudge } from '../judge';
import { classifyPromptsWithLlamaGuard, llamaGuardMappingVersion, type LlamaGuardClassifyOptions } from './llamaGuard';
import { WILDGUARD_FORMAT_VERSION, type WildGuardAnswer, buildWildGuardPrompt, parseWildGuardOutput } from './wildguard';

/** What a model judge has seen so far. */
export interface ModelJudgeStats {
  /** Items sent to the model. */
  items: number;
  /** Answers that were not in the judge's format. */
  parseErrors: number;
  /** Items whose model call failed. */
  failures: number;
  /** Answers in the format that still give no verdict for what was asked (WildGuard's "n/a" refusal for a reply). */
  noVerdict: number;
  /** The first few problems, for the user to see (item index within its call, message, raw answer). */
  examples: Array<{ index: number; kind: 'parse' | 'failure' | 'no-verdict'; message: string; raw: string | null }>;
}

const MAX_EXAMPLES = 20;

function emptyStats(): ModelJudgeStats {
  return { items: 0, parseErrors: 0, failures: 0, noVerdict: 0, examples: [] };
}

abstract class CountingJudge {
  readonly stats: ModelJudgeStats = emptyStats();

  protected note(index: number, kind: 'parse' | 'failure' | 'no-verdict', message: string, raw: string | null): string {
    if (kind === 'parse') this.stats.parseErrors++;
    else if (kind === 'failure') this.stats.failures++;
    else this.stats.noVerdict++;
    if (this.stats.examples.length < MAX_EXAMPLES) this.stats.examples.push({ index, kind, message, raw });
    return message;
  }
}

const noPrompt = (error: string): PromptJudgement => ({ harmProbability: 0, harmful: false, categoryScores: {}, categories: [], error });
const noResponse = (error: string): ResponseJudgement => ({ refusalProbability: 0, refusal: false, error });

export type WildGuardItem = { ok: true; answer: WildGuardAnswer; raw: string } | { ok: false; kind: 'parse' | 'failure'; error: string; raw: string | null };

export interface WildGuardJudgeOptions {
  generator: Generator;
  /** Requests per generator call (default 8). */
  batchSize?: number;
  /** Tokens the model may write (default 32: the three lines take about 20). */
  maxNewTokens?: number;
}

/** WildGuard as a SafetyJudge: harm from "Harmful request", refusal from "Response refusal"; no categories. */
export class WildGuardSafetyJudge extends CountingJudge implements SafetyJudge {
  readonly id: string;

  constructor(private readonly o: WildGuardJudgeOptions) {
    super();
    this.id = `${WILDGUARD_FORMAT_VERSION}|${o.generator.id}`;
  }

  /** One WildGuard pass per pair (a pair without response classifies the request alone). */
  async judgePairs(pairs: ReadonlyArray<{ prompt: string; response?: string }>, call: GenerateCallOptions = {}): Promise<WildGuardItem[]> {
    const out: WildGuardItem[] = [];
    const bs = Math.max(1, this.o.batchSize ?? 8);
    for (let s = 0; s < pairs.length; s += bs) {
      const reqs = pairs.slice(s, s + bs).map((p) => ({ prompt: buildWildGuardPrompt(p.prompt, p.response) }));
      const gens = await isolate(reqs, (rs) => this.o.generator.generate(rs, { maxNewTokens: this.o.maxNewTokens ?? 32, temperature: 0 }, call), call);
      this.stats.items += reqs.length;
      gens.forEach((g, k) => {
        const i = s + k;
        if (g instanceof Error) {
          out.push({ ok: false, kind: 'failure', error: this.note(i, 'failure', `judge model failed on this item: ${g.message}`, null), raw: null });
          return;
        }
        const p = parseWildGuardOutput(g.text);
        out.push(
          p.ok
            ? { ok: true, answer: p.answer, raw: g.text }
            : { ok: false, kind: 'parse', error: this.note(i, 'parse', `WildGuard answer not understood: ${p.error}`, g.text), raw: g.text },
        );
      });
    }
    return out;
  }

  async judgePrompts(prompts: readonly string[]): Promise<PromptJudgement[]> {
    const r = await this.judgePairs(prompts.map((prompt) => ({ prompt })));
    return r.map((x) =>
      x.ok ? { harmProbability: x.answer.promptHarmful ? 1 : 0, harmful: x.answer.promptHarmful, categoryScores: {}, categories: [] } : noPrompt(x.error),
    );
  }

  async judgeResponses(pairs: ReadonlyArray<{ prompt: string; response: string }>): Promise<ResponseJudgement[]> {
    const r = await this.judgePairs(pairs);
    return r.map((x, i) => {
      if (!x.ok) return noResponse(x.error);
      const ref = x.answer.responseRefusal;
      if (ref === null) return noResponse(this.note(i, 'no-verdict', 'WildGuard answered "Response refusal: n/a" for this reply', x.raw));
      return { refusalProbability: ref ? 1 : 0, refusal: ref };
    });
  }
}

export interface LlamaGuardSafetyJudgeOptions extends LlamaGuardClassifyOptions {
  scorer?: NextTokenScorer;
  /** Llama Guard does not judge refusals: judgeResponses goes to this judge (e.g. the built-in detectors), or fails. */
  refusal?: SafetyJudge;
}

/** Llama Guard 3 as a SafetyJudge for prompts: unsafe → harmful, its S codes → harm categories (score 1 each). */
export class LlamaGuardSafetyJudge extends CountingJudge implements SafetyJudge {
  readonly id: string;

  constructor(private readonly o: LlamaGuardSafetyJudgeOptions) {
    super();
    this.id = `llama-guard-3|${o.style ?? 'raw'}|${llamaGuardMappingVersion()}|${o.generator.id}${o.refusal ? `+${o.refusal.id}` : ''}`;
  }

  async judgePrompts(prompts: readonly string[]): Promise<PromptJudgement[]> {
    const v = await classifyPromptsWithLlamaGuard(prompts, this.o);
    this.stats.items += prompts.length;
    return v.map((x, i) => {
      if (x.error) return noPrompt(this.note(i, x.error.kind, x.error.message, x.raw));
      return {
        harmProbability: x.probability ?? (x.harmful ? 1 : 0),
        harmful: x.harmful!,
        categoryScores: Object.fromEntries(x.categories.map((c) => [c, 1])),
        categories: x.categories,
      };
    });
  }

  judgeResponses(pairs: ReadonlyArray<{ prompt: string; response: string }>): Promise<ResponseJudgement[]> {
    if (!this.o.refusal)
      return Promise.reject(new Error('Llama Guard 3 judges harm, not refusals: give it a refusal judge (e.g. the built-in detectors) or use WildGuard'));
    return this.o.refusal.judgeResponses(pairs);
  }
}
