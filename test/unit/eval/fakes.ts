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

export interface LatencyServer {
  url: string;
  /** Requests answered so far. */
  readonly requests: number;
  /** Most requests the server held at once. */
  readonly maxInFlight: number;
  close(): Promise<void>;
}

/**
 * A fake OpenAI-compatible cluster: every POST to /v1/chat/completions or /v1/completions is
 * answered after a fixed latency (or one drawn per request), however many arrive together (a vLLM
 * or TGI server with room to batch them all), so requests/s measure only how many the client
 * keeps in flight.
 */
export async function startLatencyServer(latencyMs: number | (() => number), reply = 'Sure, here you go.'): Promise<LatencyServer> {
  const latency = typeof latencyMs === 'number' ? () => latencyMs : latencyMs;
  const { createServer } = await import('node:http');
  let requests = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        requests++;
        const chat = (req.url ?? '').includes('/chat/');
        const choice = chat
          ? { index: 0, message: { role: 'assistant', content: reply }, finish_reason: 'stop' }
          : { index: 0, text: reply, finish_reason: 'stop' };
        const body = JSON.stringify({
          id: `x-${requests}`,
          object: chat ? 'chat.completion' : 'text_completion',
          choices: [choice],
          usage: { prompt_tokens: 1, completion_tokens: 4 },
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body);
      }, latency());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    get requests() {
      return requests;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
