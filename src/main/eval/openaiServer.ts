/**
 * A small OpenAI-compatible server (node:http) that serves one Generator on a loopback address:
 * GET /v1/models, POST /v1/chat/completions, POST /v1/completions (prompt: string or string[]).
 * One generator call runs at a time (the local engine blocks its thread while generating); requests
 * that arrive meanwhile with the same generation settings are decoded together in the next call
 * (up to maxBatch), and a failing batch is retried request by request.
 * No streaming. Optional bearer key. Binds 127.0.0.1 by default and refuses non-loopback hosts
 * unless allowRemote is set.
 */
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ChatMessage, GenerationOutput, GenerationRequest, GenerationSettings, Generator } from './types';

export interface OpenAIServerOptions {
  generator: Generator;
  /** Model name reported by /v1/models and in answers (default: generator.id). */
  model?: string;
  host?: string;
  /** 0 (default): any free port. */
  port?: number;
  apiKey?: string;
  allowRemote?: boolean;
  /** Largest request body in bytes (default 8 MiB). */
  maxBodyBytes?: number;
  /** Upper bound on max_tokens (default 4096). */
  maxTokensCap?: number;
  /** Requests decoded together when several wait with the same settings (default 8). */
  maxBatch?: number;
  /** How long a batch waits for more requests before starting, in ms (default 5; 0: never). */
  batchWindowMs?: number;
}

export interface OpenAIServerHandle {
  url: string;
  port: number;
  /** Requests answered so far (any status). */
  readonly requests: number;
  /** Generator calls made so far (requests waiting together share one). */
  readonly batches: number;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) {
        reject(new HttpError(413, `request body over ${limit} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function settingsFrom(b: Record<string, unknown>, cap: number): GenerationSettings {
  const num = (k: string, d?: number) => {
    const v = b[k];
    if (v === undefined || v === null) return d;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new HttpError(400, `"${k}" must be a number`);
    return v;
  };
  const maxTokens = num('max_tokens', num('max_completion_tokens', 256))!;
  if (!(maxTokens >= 1)) throw new HttpError(400, '"max_tokens" must be at least 1');
  const stop = b.stop === undefined || b.stop === null ? undefined : typeof b.stop === 'string' ? [b.stop] : b.stop;
  if (stop !== undefined && !(Array.isArray(stop) && stop.every((s) => typeof s === 'string')))
    throw new HttpError(400, '"stop" must be a string or an array of strings');
  return {
    maxNewTokens: Math.min(cap, Math.floor(maxTokens)),
    temperature: num('temperature', 0)!,
    topP: num('top_p'),
    topK: num('top_k'),
    seed: num('seed'),
    stop: stop as string[] | undefined,
  };
}

function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === '::1' || host === 'localhost';
}

export async function startOpenAIServer(opts: OpenAIServerOptions): Promise<OpenAIServerHandle> {
  const host = opts.host ?? '127.0.0.1';
  if (!isLoopback(host) && !opts.allowRemote) throw new Error(`OpenAI-compatible server: refusing to listen on ${host} (not loopback) without allowRemote`);
  const model = opts.model ?? opts.generator.id;
  const limit = opts.maxBodyBytes ?? 8 * 1024 * 1024;
  const cap = opts.maxTokensCap ?? 4096;
  let served = 0;
  let created = 0;
  let batches = 0;
  const maxBatch = Math.max(1, opts.maxBatch ?? 8);
  const windowMs = opts.batchWindowMs ?? 5;
  interface Job {
    req: GenerationRequest;
    settings: GenerationSettings;
    key: string;
    resolve: (o: GenerationOutput) => void;
    reject: (e: unknown) => void;
  }
  const queue: Job[] = [];
  let busy = false;
  /** One generator call at a time; requests waiting meanwhile with equal settings are decoded together. */
  const pump = async () => {
    if (busy) return;
    busy = true;
    try {
      while (queue.length) {
        // Give requests sent together (they arrive a few I/O events apart) a moment to join.
        if (queue.length < maxBatch && windowMs > 0) await new Promise((r) => setTimeout(r, windowMs));
        const key = queue[0]!.key;
        const take: Job[] = [];
        for (let i = 0; i < queue.length && take.length < maxBatch; ) {
          if (queue[i]!.key === key) take.push(...queue.splice(i, 1));
          else i++;
        }
        batches++;
        try {
          const outs = await opts.generator.generate(
            take.map((j) => j.req),
            take[0]!.settings,
          );
          take.forEach((j, k) => j.resolve(outs[k]!));
        } catch (e) {
          if (take.length === 1) take[0]!.reject(e);
          else {
            // One bad request must not fail the others: retry them one by one.
            for (const j of take) {
              try {
                j.resolve((await opts.generator.generate([j.req], j.settings))[0]!);
              } catch (e2) {
                j.reject(e2);
              }
            }
          }
        }
      }
    } finally {
      busy = false;
    }
  };
  const submit = (reqs: GenerationRequest[], settings: GenerationSettings): Promise<GenerationOutput[]> => {
    const key = JSON.stringify(settings);
    const ps = reqs.map((req) => new Promise<GenerationOutput>((resolve, reject) => queue.push({ req, settings, key, resolve, reject })));
    void pump();
    return Promise.all(ps);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '');
    if (opts.apiKey && req.headers.authorization !== `Bearer ${opts.apiKey}`) throw new HttpError(401, 'missing or wrong API key');
    if (req.method === 'GET' && path === '/v1/models') {
      send(res, 200, { object: 'list', data: [{ id: model, object: 'model', owned_by: 'safetune' }] });
      return;
    }
    if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/completions')) throw new HttpError(404, `no route ${req.method} ${path}`);
    let b: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(await readBody(req, limit));
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
      b = parsed as Record<string, unknown>;
    } catch (e) {
      if (e instanceof HttpError) throw e;
      throw new HttpError(400, `request body is not a JSON object: ${(e as Error).message}`);
    }
    if (b.stream === true) throw new HttpError(400, 'streaming is not supported by this server');
    const settings = settingsFrom(b, cap);
    const id = `${path.endsWith('chat/completions') ? 'chatcmpl' : 'cmpl'}-${++created}`;
    const now = Math.floor(Date.now() / 1000);
    if (path === '/v1/chat/completions') {
      const msgs = b.messages;
      if (!Array.isArray(msgs) || !msgs.length) throw new HttpError(400, '"messages" must be a non-empty array');
      for (const m of msgs as Array<Record<string, unknown>>) {
        if (!m || !['system', 'user', 'assistant'].includes(m.role as string) || typeof m.content !== 'string')
          throw new HttpError(400, 'each message needs role system/user/assistant and string content');
      }
      const [out] = await submit([{ messages: msgs as ChatMessage[] }], settings);
      send(res, 200, {
        id,
        object: 'chat.completion',
        created: now,
        model,
        choices: [{ index: 0, message: { role: 'assistant', content: out!.text }, finish_reason: out!.finishReason === 'length' ? 'length' : 'stop' }],
        usage: {
          prompt_tokens: out!.promptTokens ?? 0,
          completion_tokens: out!.completionTokens ?? 0,
          total_tokens: (out!.promptTokens ?? 0) + (out!.completionTokens ?? 0),
        },
      });
      return;
    }
    const prompts =
      typeof b.prompt === 'string' ? [b.prompt] : Array.isArray(b.prompt) && b.prompt.every((p) => typeof p === 'string') ? (b.prompt as string[]) : null;
    if (!prompts || !prompts.length) throw new HttpError(400, '"prompt" must be a string or a non-empty array of strings');
    if (b.logprobs !== undefined && b.logprobs !== null && b.logprobs !== false && b.logprobs !== 0)
      throw new HttpError(400, 'logprobs are not supported by this server');
    const reqs: GenerationRequest[] = prompts.map((p) => ({ prompt: p }));
    const outs = await submit(reqs, settings);
    send(res, 200, {
      id,
      object: 'text_completion',
      created: now,
      model,
      choices: outs.map((o, index) => ({ index, text: o.text, finish_reason: o.finishReason === 'length' ? 'length' : 'stop', logprobs: null })),
      usage: {
        prompt_tokens: outs.reduce((s, o) => s + (o.promptTokens ?? 0), 0),
        completion_tokens: outs.reduce((s, o) => s + (o.completionTokens ?? 0), 0),
        total_tokens: outs.reduce((s, o) => s + (o.promptTokens ?? 0) + (o.completionTokens ?? 0), 0),
      },
    });
  };

  const server = createServer((req, res) => {
    handle(req, res)
      .catch((e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        const type =
          status === 400 || status === 413
            ? 'invalid_request_error'
            : status === 401
              ? 'authentication_error'
              : status === 404
                ? 'not_found_error'
                : 'server_error';
        if (!res.headersSent) send(res, status, { error: { message: (e as Error).message ?? String(e), type } });
        else res.destroy();
      })
      .finally(() => {
        served++;
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${urlHost}:${port}`,
    port,
    get requests() {
      return served;
    },
    get batches() {
      return batches;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((e) => (e ? reject(e) : resolve()));
      }),
  };
}
