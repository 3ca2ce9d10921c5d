/**
 * The local ONNX engine (src/main/engine) as an eval Generator and NextTokenScorer.
 *
 * Chat requests are rendered with the model's chat template (tokenizer_config.json or the GGUF's
 * tokenizer.chat_template) and encoded without adding special tokens again; a model without a
 * template (e.g. a base model such as stories260K) gets the message contents joined by blank
 * lines, encoded with BOS. Raw-text requests are encoded as given (BOS added unless the text
 * already starts with the tokenizer's BOS text).
 */
import type { DecoderRuntime } from '../engine';

/** The engine module, loaded on first use so that importing the eval core does not load onnxruntime. */
let engineModule: Promise<typeof import('../engine')> | null = null;
const engine = () => (engineModule ??= import('../engine'));
import type { GenerateCallOptions, GenerationOutput, GenerationRequest, GenerationSettings, Generator, NextTokenScorer } from './types';

export interface EngineGeneratorOptions {
  /** Record id (default "engine:<model path>"). */
  id?: string;
  /** Prompts decoded together (default 8). */
  batchSize?: number;
  /** 'auto' (default): the model's template when it has one; 'none': join contents; or a template string. */
  chatTemplate?: 'auto' | 'none' | string;
}

export class EngineGenerator implements Generator, NextTokenScorer {
  readonly id: string;
  readonly contextLength: number;
  private readonly rt: DecoderRuntime;
  private readonly opts: EngineGeneratorOptions;

  constructor(rt: DecoderRuntime, opts: EngineGeneratorOptions = {}) {
    this.rt = rt;
    this.opts = opts;
    this.id = opts.id ?? `engine:${rt.model.path}`;
    this.contextLength = rt.model.config.maxPositions;
  }

  /** The token ids a request is sent as. */
  async encode(request: GenerationRequest): Promise<number[]> {
    const tok = this.rt.model.tokenizer;
    if (request.messages) {
      const mode = this.opts.chatTemplate ?? 'auto';
      const tmpl = mode === 'auto' ? this.rt.model.chatTemplate : mode === 'none' ? null : mode;
      if (tmpl)
        return tok.encode((await engine()).applyChatTemplate(this.rt.model, request.messages, { template: tmpl }), { addSpecial: false, parseSpecial: true });
      return tok.encode(request.messages.map((m) => m.content).join('\n\n'), { addSpecial: true });
    }
    return this.encodeRaw(request.prompt);
  }

  private encodeRaw(text: string): number[] {
    const tok = this.rt.model.tokenizer;
    const bosText = tok.bosId !== null ? tok.idToToken(tok.bosId) : null;
    return tok.encode(text, { addSpecial: !(bosText && text.startsWith(bosText)) });
  }

  async countTokens(request: GenerationRequest): Promise<number> {
    return (await this.encode(request)).length;
  }

  async generate(requests: readonly GenerationRequest[], settings: GenerationSettings, options: GenerateCallOptions = {}): Promise<GenerationOutput[]> {
    options.signal?.throwIfAborted();
    const ids = await Promise.all(requests.map((r) => this.encode(r)));
    const res = await (await engine()).generateBatch(this.rt, ids, {
      maxNewTokens: settings.maxNewTokens,
      temperature: settings.temperature,
      topP: settings.topP,
      topK: settings.topK,
      seed: settings.seed,
      stop: settings.stop,
      batchSize: this.opts.batchSize ?? 8,
      overflow: 'error',
      shouldStop: () => !!options.shouldStop?.() || !!options.signal?.aborted,
    });
    return res.map((r) => ({
      text: r.text,
      finishReason: r.finishReason === 'length' ? 'length' : r.finishReason === 'cancelled' ? 'cancelled' : 'stop',
      promptTokens: r.promptTokens,
      completionTokens: r.tokenIds.length,
    }));
  }

  /** Full-vocabulary softmax at the last prompt position; each candidate's first token's probability. */
  async scoreNextToken(
    prompts: readonly string[],
    candidates: readonly string[],
    options: GenerateCallOptions = {},
  ): Promise<Array<Record<string, number | null>>> {
    const tok = this.rt.model.tokenizer;
    const out: Array<Record<string, number | null>> = [];
    for (const p of prompts) {
      options.signal?.throwIfAborted();
      const ids = this.encodeRaw(p);
      // The candidate's first token as it follows this prompt: encode prompt+candidate and take the
      // token after the prompt's ids (tokenizers that add a word-start marker, e.g. SentencePiece's
      // "▁", encode a bare candidate differently); fall back to the candidate alone.
      const candIds = candidates.map((c) => {
        const full = this.encodeRaw(p + c);
        if (full.length > ids.length && ids.every((t, i) => full[i] === t)) return full[ids.length]!;
        const alone = tok.encode(c, { addSpecial: false });
        if (!alone.length) throw new Error(`scoreNextToken: candidate "${c}" encodes to no tokens`);
        return alone[0]!;
      });
      const { logits, dims } = await (await engine()).forwardLogits(this.rt, [ids]);
      const V = dims[2];
      const row = logits.subarray((ids.length - 1) * V, ids.length * V);
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (row[i]! > max) max = row[i]!;
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(row[i]! - max);
      const rec: Record<string, number | null> = {};
      candidates.forEach((c, k) => {
        rec[c] = Math.exp(row[candIds[k]!]! - max) / sum;
      });
      out.push(rec);
    }
    return out;
  }
}
