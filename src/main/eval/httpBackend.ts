/**
 * OpenAI-compatible HTTP generation backend (vLLM, llama.cpp server, Ollama, TGI all speak it),
 * on node's fetch. Chat requests go to /v1/chat/completions, raw-text requests to /v1/completions.
 *
 *  - per-attempt timeout (default 120 s);
 *  - retries with exponential backoff (default 4 retries, 0.5 s doubling to 8 s; Retry-After
 *    honoured up to the cap) on connection errors, timeouts, 429 and 5xx;
 *  - other 4xx answers (bad request, context too long) are not retried: HttpRequestError;
 *  - after the last retry: BackendUnavailableError naming the URL, attempts and the last cause;
 *  - cancellation through an AbortSignal (no retry once aborted);
 *  - redirects are not followed: requests go only to the configured server;
 *  - at most `concurrency` requests in flight per backend, across overlapping generate() calls
 *    (the runner starts the next batch before the last one is done), taken in call order.
 *
 * Also a NextTokenScorer through /v1/completions with `logprobs` (top-k; candidates outside the
 * top-k come back null).
 */
import type {
  ChatMessage,
  GenerateCallOptions,
  GenerationFinish,
  GenerationOutput,
  GenerationRequest,
  GenerationSettings,
  Generator,
  NextTokenScorer,
} from './types';

export interface HttpBackendOptions {
  /** Server root, with or without a trailing /v1 (e.g. http://127.0.0.1:8000). */
  baseUrl: string;
  /** Model name sent in every request. */
  model: string;
  apiKey?: string;
  /** Per-attempt timeout in ms (default 120000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First backoff in ms (default 500); doubles each retry up to maxBackoffMs (default 8000). */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Requests in flight at once, across every call on this backend (default 4; 1 to 64). */
  concurrency?: number;
  /** Context window of the served model, if known (enables prompt-length checks in the runner with countTokens absent: see runner). */
  contextLength?: number;
  /** Extra fields merged into every request body (e.g. {"repetition_penalty": 1.1}). */
  extraBody?: Record<string, unknown>;
  /** For tests: a fetch implementation and a sleep function. */
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** The server could not be reached or kept failing (connection errors, timeouts, 429, 5xx) after all retries. */
export class BackendUnavailableError extends Error {
  constructor(
    message: string,
    readonly attempts: number,
    readonly lastStatus: number | null,
  ) {
    super(message);
    this.name = 'BackendUnavailableError';
  }
}

/** The server rejected one request (4xx other than 429): not retried; the runner records it on the item. */
export class HttpRequestError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(message);
    this.name = 'HttpRequestError';
  }
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The most requests one backend keeps in flight. */
export const MAX_HTTP_CONCURRENCY = 64;

/** A counting semaphore whose waiters are served first come, first served. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

function finishOf(reason: unknown): GenerationFinish {
  return reason === 'length' ? 'length' : 'stop';
}

function describeCause(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  const code = err?.cause?.code;
  return code ? `${code}${err.cause?.message ? ` (${err.cause.message})` : ''}` : (err?.message ?? String(e));
}

export class OpenAICompatibleBackend implements Generator, NextTokenScorer {
  readonly id: string;
  readonly contextLength?: number;
  /** Requests in flight at once (the runner keeps this many busy). */
  readonly concurrency: number;
  private readonly root: string;
  private readonly slots: Slots;
  private readonly o: Required<Pick<HttpBackendOptions, 'timeoutMs' | 'retries' | 'backoffMs' | 'maxBackoffMs' | 'concurrency'>> & HttpBackendOptions;

  constructor(opts: HttpBackendOptions) {
    let root: URL;
    try {
      root = new URL(opts.baseUrl);
    } catch {
      throw new Error(`HTTP backend: "${opts.baseUrl}" is not a URL`);
    }
    if (root.protocol !== 'http:' && root.protocol !== 'https:') throw new Error(`HTTP backend: ${opts.baseUrl}: only http and https are supported`);
    this.root = root.href.replace(/\/+$/, '').replace(/\/v1$/, '');
    this.o = { timeoutMs: 120_000, retries: 4, backoffMs: 500, maxBackoffMs: 8000, concurrency: 4, ...opts };
    const c = this.o.concurrency;
    if (!Number.isInteger(c) || c < 1 || c > MAX_HTTP_CONCURRENCY)
      throw new Error(`HTTP backend: concurrency must be a whole number from 1 to ${MAX_HTTP_CONCURRENCY}, got ${c}`);
    this.concurrency = c;
    this.slots = new Slots(c);
    this.id = `${this.root}#${opts.model}`;
    if (opts.contextLength) this.contextLength = opts.contextLength;
  }

  /** POST JSON with timeout, retries and cancellation. */
  async post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
    const url = `${this.root}${path}`;
    const f = this.o.fetch ?? fetch;
    const sleep = this.o.sleep ?? defaultSleep;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.o.apiKey) headers.authorization = `Bearer ${this.o.apiKey}`;
    let last = '';
    let lastStatus: number | null = null;
    const attempts = this.o.retries + 1;
    for (let attempt = 0; attempt < attempts; attempt++) {
      signal?.throwIfAborted();
      let retryAfterMs: number | null = null;
      try {
        const timeout = AbortSignal.timeout(this.o.timeoutMs);
        const res = await f(url, {
          method: 'POST',
          headers,
          body: JSON.stringify(body),
          redirect: 'error',
          signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
        });
        const text = await res.text();
        if (res.ok) {
          try {
            return JSON.parse(text);
          } catch {
            throw new HttpRequestError(`POST ${url}: the server answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`, res.status, text);
          }
        }
        lastStatus = res.status;
        last = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}${text ? `: ${text.slice(0, 300)}` : ''}`;
        if (res.status !== 429 && res.status < 500) throw new HttpRequestError(`POST ${url}: ${last}`, res.status, text);
        const ra = res.headers.get('retry-after');
        if (ra && /^\d+(\.\d+)?$/.test(ra.trim())) retryAfterMs = Number(ra) * 1000;
      } catch (e) {
        if (e instanceof HttpRequestError) throw e;
        if (signal?.aborted) throw signal.reason ?? e;
        last = describeCause(e);
        lastStatus = null;
      }
      if (attempt < attempts - 1) {
        const backoff = Math.min(this.o.maxBackoffMs, this.o.backoffMs * 2 ** attempt);
        await sleep(retryAfterMs !== null ? Math.min(this.o.maxBackoffMs, Math.max(backoff, retryAfterMs)) : backoff, signal);
      }
    }
    throw new BackendUnavailableError(`POST ${url} failed after ${attempts} attempt${attempts > 1 ? 's' : ''}: ${last}`, attempts, lastStatus);
  }

  /**
   * GET /v1/models (one attempt, the request timeout): the model ids the server offers. Throws
   * BackendUnavailableError when unreachable and HttpRequestError on an error answer; use it to
   * check a server address before a long run.
   */
  async listModels(signal?: AbortSignal): Promise<string[]> {
    const url = `${this.root}/v1/models`;
    const f = this.o.fetch ?? fetch;
    const timeout = AbortSignal.timeout(this.o.timeoutMs);
    let res: Response;
    try {
      res = await f(url, {
        headers: this.o.apiKey ? { authorization: `Bearer ${this.o.apiKey}` } : {},
        redirect: 'error',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason ?? e;
      throw new BackendUnavailableError(`GET ${url} failed: ${describeCause(e)}`, 1, null);
    }
    const text = await res.text();
    if (!res.ok) throw new HttpRequestError(`GET ${url}: HTTP ${res.status}${text ? `: ${text.slice(0, 300)}` : ''}`, res.status, text);
    try {
      const json = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
      return (json.data ?? []).map((m) => String(m.id));
    } catch {
      throw new HttpRequestError(`GET ${url}: the answer is not JSON: ${text.slice(0, 200)}`, res.status, text);
    }
  }

  private body(settings: GenerationSettings, extra: Record<string, unknown>): Record<string, unknown> {
    const b: Record<string, unknown> = { model: this.o.model, max_tokens: settings.maxNewTokens, temperature: settings.temperature, ...extra };
    if (settings.topP !== undefined) b.top_p = settings.topP;
    if (settings.topK !== undefined) b.top_k = settings.topK;
    if (settings.seed !== undefined) b.seed = settings.seed;
    if (settings.stop?.length) b.stop = settings.stop;
    return { ...b, ...(this.o.extraBody ?? {}) };
  }

  async generateOne(request: GenerationRequest, settings: GenerationSettings, signal?: AbortSignal): Promise<GenerationOutput> {
    if (request.messages) {
      const json = (await this.post('/v1/chat/completions', this.body(settings, { messages: request.messages satisfies ChatMessage[] }), signal)) as {
        choices?: Array<{ message?: { content?: string | null }; finish_reason?: string }>;
        usage?: { prompt_tokens?: number; completion_tokens?: number };
      };
      const c = json.choices?.[0];
      if (!c || !c.message)
        throw new HttpRequestError(`POST ${this.root}/v1/chat/completions: answer has no choices[0].message`, 200, JSON.stringify(json).slice(0, 300));
      return {
        text: c.message.content ?? '',
        finishReason: finishOf(c.finish_reason),
        promptTokens: json.usage?.prompt_tokens,
        completionTokens: json.usage?.completion_tokens,
      };
    }
    const json = (await this.post('/v1/completions', this.body(settings, { prompt: request.prompt }), signal)) as {
      choices?: Array<{ text?: string; finish_reason?: string }>;
      usage?: { prompt_tokens?: number; completion_tokens?: number };
    };
    const c = json.choices?.[0];
    if (!c || typeof c.text !== 'string')
      throw new HttpRequestError(`POST ${this.root}/v1/completions: answer has no choices[0].text`, 200, JSON.stringify(json).slice(0, 300));
    return { text: c.text, finishReason: finishOf(c.finish_reason), promptTokens: json.usage?.prompt_tokens, completionTokens: json.usage?.completion_tokens };
  }

  /** Requests run through the backend's `concurrency` slots; the first failure rejects the call (after in-flight ones settle); shouldStop() → unsent requests come back 'cancelled'. */
  async generate(requests: readonly GenerationRequest[], settings: GenerationSettings, options: GenerateCallOptions = {}): Promise<GenerationOutput[]> {
    return this.pool<GenerationRequest, GenerationOutput>(
      requests,
      (r) => this.generateOne(r, settings, options.signal),
      options,
      () => ({ text: '', finishReason: 'cancelled' }),
    );
  }

  async scoreNextToken(
    prompts: readonly string[],
    candidates: readonly string[],
    options: GenerateCallOptions = {},
  ): Promise<Array<Record<string, number | null>>> {
    return this.pool(
      prompts,
      async (prompt) => {
        const json = (await this.post(
          '/v1/completions',
          { model: this.o.model, prompt, max_tokens: 1, temperature: 0, logprobs: 20, ...(this.o.extraBody ?? {}) },
          options.signal,
        )) as {
          choices?: Array<{
            logprobs?: { top_logprobs?: Array<Record<string, number>>; content?: Array<{ top_logprobs?: Array<{ token?: string; logprob?: number }> }> };
          }>;
        };
        const lp = json.choices?.[0]?.logprobs;
        // Legacy completions shape (vLLM, TGI): top_logprobs[0] = {token: logprob}.
        // Chat-style shape (newer llama.cpp server): content[0].top_logprobs = [{token, logprob}].
        let top: Record<string, number> | undefined = lp?.top_logprobs?.[0];
        if (!top && lp?.content?.[0]?.top_logprobs) {
          top = {};
          for (const t of lp.content[0].top_logprobs)
            if (typeof t.token === 'string' && typeof t.logprob === 'number') top[t.token] = Math.max(top[t.token] ?? -Infinity, t.logprob);
        }
        if (!top)
          throw new HttpRequestError(
            `POST ${this.root}/v1/completions: the server returned no top_logprobs (does it support "logprobs"?)`,
            200,
            JSON.stringify(json).slice(0, 300),
          );
        const out: Record<string, number | null> = {};
        for (const c of candidates) {
          let best: number | null = null;
          for (const [tok, lp] of Object.entries(top)) if (tok.trim() === c && (best === null || lp > best)) best = lp;
          out[c] = best === null ? null : Math.exp(best);
        }
        return out;
      },
      options,
    );
  }

  /**
   * Run fn over items through the backend's slots (at most `concurrency` in flight, shared with
   * every other call). The first failure rejects the call once its sent requests settle, and no
   * more of its items are sent. When shouldStop() turns true, items not yet sent get `onStop()`
   * (generate: a 'cancelled' output, as the engine does) and in-flight ones finish.
   */
  private async pool<T, R>(
    items: readonly T[],
    fn: (t: T) => Promise<R>,
    options: GenerateCallOptions,
    onStop: () => R = () => {
      throw new DOMException('generation stopped', 'AbortError');
    },
  ): Promise<R[]> {
    const out: R[] = new Array(items.length);
    let failure: unknown = null;
    let stopped = false;
    await Promise.all(
      items.map(async (item, i) => {
        const release = await this.slots.acquire();
        try {
          if (failure !== null) return;
          if (stopped || options.shouldStop?.()) {
            stopped = true;
            out[i] = onStop();
            return;
          }
          out[i] = await fn(item);
        } catch (e) {
          failure ??= e;
        } finally {
          release();
        }
      }),
    );
    if (failure !== null) throw failure;
    return out;
  }
}
