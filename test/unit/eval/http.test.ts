import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../../src/main/engine';
import type { DecoderRuntime } from '../../../src/main/engine';
import { EngineGenerator } from '../../../src/main/eval/engineGenerator';
import { BackendUnavailableError, HttpRequestError, OpenAICompatibleBackend } from '../../../src/main/eval/httpBackend';
import { type OpenAIServerHandle, startOpenAIServer } from '../../../src/main/eval/openaiServer';
import { SHARED_MISSING, sharedPath } from '../../helpers/shared';
import { ScriptedGenerator } from './fakes';

const stories = sharedPath('models', 'stories260K.gguf');
const NOTE = stories ? '' : ` (${SHARED_MISSING})`;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}
function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A proxy that answers `failures` requests with `status` before forwarding to `target`. */
async function flakyProxy(target: string, failures: number, status = 503, headers: Record<string, string> = {}) {
  let hits = 0;
  const server = createServer(async (req, res) => {
    hits++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (hits <= failures) {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { message: 'busy' } }));
      return;
    }
    const r = await fetch(`${target}${req.url}`, {
      method: req.method,
      headers: { 'content-type': 'application/json', ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) },
      body: Buffer.concat(chunks),
    });
    res.writeHead(r.status, { 'content-type': 'application/json' });
    res.end(await r.text());
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, server, hits: () => hits };
}

describe.skipIf(!stories)(`OpenAI-compatible server on the engine's stories260K, and the HTTP backend${NOTE}`, () => {
  let rt: DecoderRuntime;
  let gen: EngineGenerator;
  let srv: OpenAIServerHandle;
  beforeAll(async () => {
    rt = await openModel(stories!, { threads: 1 });
    gen = new EngineGenerator(rt);
    srv = await startOpenAIServer({ generator: gen, model: 'stories260K' });
  }, 120_000);
  afterAll(async () => {
    await srv?.close();
    await rt?.release();
  });

  it('completions and chat round-trip exactly what the engine generates', async () => {
    const direct = await gen.generate([{ prompt: 'Once upon a time' }], { maxNewTokens: 24, temperature: 0 });
    expect(direct[0]!.text.startsWith(', there was a little girl named Lily.')).toBe(true);
    const be = new OpenAICompatibleBackend({ baseUrl: `${srv.url}/v1`, model: 'stories260K' });
    const viaHttp = await be.generate([{ prompt: 'Once upon a time' }, { messages: [{ role: 'user', content: 'Once upon a time' }] }], {
      maxNewTokens: 24,
      temperature: 0,
    });
    expect(viaHttp[0]!.text).toBe(direct[0]!.text);
    expect(viaHttp[0]!.completionTokens).toBe(direct[0]!.completionTokens);
    expect(viaHttp[0]!.finishReason).toBe(direct[0]!.finishReason);
    // stories260K has no chat template: the user content is the prompt.
    expect(viaHttp[1]!.text).toBe(direct[0]!.text);
    expect(await be.listModels()).toEqual(['stories260K']);
  });

  it('retries a server that answers 503 twice, then succeeds', async () => {
    const proxy = await flakyProxy(srv.url, 2);
    const sleeps: number[] = [];
    const be = new OpenAICompatibleBackend({ baseUrl: proxy.url, model: 'stories260K', backoffMs: 20, sleep: async (ms) => void sleeps.push(ms) });
    const [out] = await be.generate([{ prompt: 'Once upon a time' }], { maxNewTokens: 8, temperature: 0 });
    expect(out!.text.startsWith(', there was')).toBe(true);
    expect(proxy.hits()).toBe(3);
    expect(sleeps).toEqual([20, 40]);
    await close(proxy.server);
  });

  it('engine next-token scores: a proper distribution whose top candidate is the greedy token', async () => {
    const [p] = await gen.scoreNextToken(['Once upon a time'], [',', '.', 'the']);
    const vals = Object.values(p!) as number[];
    expect(vals.every((v) => v > 0 && v < 1)).toBe(true);
    expect(vals.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(1 + 1e-6);
    expect(p![',']!).toBeGreaterThan(p!['.']!);
    expect(p![',']!).toBeGreaterThan(p!['the']!);
  });
});

describe('HTTP backend failure handling (deterministic test generator behind the server)', () => {
  let srv: OpenAIServerHandle;
  beforeAll(async () => {
    srv = await startOpenAIServer({ generator: new ScriptedGenerator((t) => `echo: ${t}`), model: 'echo', apiKey: 'k1' });
  });
  afterAll(async () => srv?.close());

  it('round-trips with an API key; a wrong key is a 401 request error, not retried', async () => {
    const be = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'echo', apiKey: 'k1' });
    const out = await be.generate([{ messages: [{ role: 'user', content: 'hi' }] }, { prompt: 'raw' }], { maxNewTokens: 5, temperature: 0 });
    expect(out.map((o) => o.text)).toEqual(['echo: user: hi', 'echo: raw']);
    const bad = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'echo', apiKey: 'nope', sleep: async () => expect.fail('must not retry') });
    const err = await bad.generate([{ prompt: 'x' }], { maxNewTokens: 5, temperature: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpRequestError);
    expect((err as HttpRequestError).status).toBe(401);
  });

  it('a bad request (400) is reported with the server message and not retried', async () => {
    const be = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'echo', apiKey: 'k1', sleep: async () => expect.fail('must not retry') });
    const err = (await be.post('/v1/completions', { model: 'echo', prompt: [] }).catch((e: unknown) => e)) as HttpRequestError;
    expect(err).toBeInstanceOf(HttpRequestError);
    expect(err.message).toMatch(/HTTP 400 Bad Request: \{"error":\{"message":"\\"prompt\\" must be a string or a non-empty array/);
  });

  it('429 with Retry-After waits at least that long (capped)', async () => {
    const proxy = await flakyProxy(srv.url, 1, 429, { 'retry-after': '2' });
    const sleeps: number[] = [];
    const be = new OpenAICompatibleBackend({
      baseUrl: proxy.url,
      model: 'echo',
      apiKey: 'k1',
      backoffMs: 10,
      maxBackoffMs: 1500,
      sleep: async (ms) => void sleeps.push(ms),
    });
    const [o] = await be.generate([{ prompt: 'x' }], { maxNewTokens: 2, temperature: 0 });
    expect(o!.text).toBe('echo: x');
    expect(sleeps).toEqual([1500]);
    await close(proxy.server);
  });

  it('an unreachable server fails clearly after the last retry, with exponential backoff', async () => {
    const dead = createServer();
    const port = await listen(dead);
    await close(dead); // nothing listens on this port now
    const sleeps: number[] = [];
    const be = new OpenAICompatibleBackend({
      baseUrl: `http://127.0.0.1:${port}`,
      model: 'm',
      retries: 3,
      backoffMs: 100,
      sleep: async (ms) => void sleeps.push(ms),
    });
    await expect(be.listModels()).rejects.toThrow(new RegExp(`^GET http://127\\.0\\.0\\.1:${port}/v1/models failed: ECONNREFUSED`));
    const err = (await be.generate([{ prompt: 'x' }], { maxNewTokens: 2, temperature: 0 }).catch((e: unknown) => e)) as BackendUnavailableError;
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.attempts).toBe(4);
    expect(err.message).toMatch(new RegExp(`^POST http://127\\.0\\.0\\.1:${port}/v1/completions failed after 4 attempts: ECONNREFUSED`));
    expect(sleeps).toEqual([100, 200, 400]);
  });

  it('a server that never answers times out per attempt', async () => {
    const hang = createServer(() => {
      /* never respond */
    });
    const port = await listen(hang);
    const be = new OpenAICompatibleBackend({ baseUrl: `http://127.0.0.1:${port}`, model: 'm', retries: 1, timeoutMs: 150, backoffMs: 1 });
    const t0 = Date.now();
    const err = (await be.generate([{ prompt: 'x' }], { maxNewTokens: 2, temperature: 0 }).catch((e: unknown) => e)) as BackendUnavailableError;
    expect(err).toBeInstanceOf(BackendUnavailableError);
    expect(err.message).toMatch(/failed after 2 attempts: timed out/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    await close(hang);
  });

  it('cancellation through an AbortSignal stops retrying at once', async () => {
    const proxy = await flakyProxy(srv.url, 100, 503);
    const ac = new AbortController();
    const be = new OpenAICompatibleBackend({ baseUrl: proxy.url, model: 'echo', backoffMs: 10_000, maxBackoffMs: 10_000 });
    const t0 = Date.now();
    const p = be.generate([{ prompt: 'x' }], { maxNewTokens: 2, temperature: 0 }, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('user cancelled')), 100);
    await expect(p).rejects.toThrow('user cancelled');
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(proxy.hits()).toBe(1);
    await close(proxy.server);
  });

  it('next-token scores from /v1/completions top_logprobs (vLLM / llama.cpp shape)', async () => {
    const bodies: Array<Record<string, unknown>> = [];
    const lp = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>);
      res.writeHead(200, { 'content-type': 'application/json' });
      const chatShape = bodies.length > 1;
      res.end(
        JSON.stringify(
          chatShape
            ? {
                choices: [
                  {
                    text: 'unsafe',
                    logprobs: {
                      content: [
                        {
                          token: 'unsafe',
                          logprob: -0.2,
                          top_logprobs: [
                            { token: 'unsafe', logprob: -0.2 },
                            { token: 'safe', logprob: -1.8 },
                          ],
                        },
                      ],
                    },
                  },
                ],
              }
            : { choices: [{ text: 'safe', logprobs: { tokens: ['safe'], top_logprobs: [{ safe: -0.05, ' safe': -4, unsafe: -3 }] } }] },
        ),
      );
    });
    const port = await listen(lp);
    const be = new OpenAICompatibleBackend({ baseUrl: `http://127.0.0.1:${port}`, model: 'guard' });
    const [p] = await be.scoreNextToken(['<prompt>'], ['safe', 'unsafe', 'maybe']);
    expect(p!.safe).toBeCloseTo(Math.exp(-0.05), 12);
    expect(p!.unsafe).toBeCloseTo(Math.exp(-3), 12);
    expect(p!.maybe).toBeNull();
    expect(bodies[0]).toEqual({ model: 'guard', prompt: '<prompt>', max_tokens: 1, temperature: 0, logprobs: 20 });
    const [q] = await be.scoreNextToken(['<prompt>'], ['safe', 'unsafe']);
    expect(q!.unsafe).toBeCloseTo(Math.exp(-0.2), 12);
    expect(q!.safe).toBeCloseTo(Math.exp(-1.8), 12);
    // Our own server does not compute logprobs: the backend reports that clearly.
    const own = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'echo', apiKey: 'k1' });
    await expect(own.scoreNextToken(['x'], ['safe'])).rejects.toThrow(/logprobs are not supported by this server/);
    await close(lp);
  });

  it('the server decodes concurrent requests together and isolates a failing one', async () => {
    const gen = new ScriptedGenerator(
      (t) => {
        if (t.includes('BAD')) throw new Error('prompt too long for the context');
        return `echo: ${t}`;
      },
      { delayMs: 30 },
    );
    const s2 = await startOpenAIServer({ generator: gen, model: 'echo', maxBatch: 4 });
    try {
      const be = new OpenAICompatibleBackend({ baseUrl: s2.url, model: 'echo', concurrency: 8 });
      const prompts = Array.from({ length: 16 }, (_, i) => ({ prompt: `p${i}` }));
      const outs = await be.generate(prompts, { maxNewTokens: 4, temperature: 0 });
      expect(outs.map((o) => o.text)).toEqual(prompts.map((p) => `echo: ${p.prompt}`));
      expect(s2.batches).toBeLessThan(16);
      expect(Math.max(...gen.calls.map((c) => c.requests.length))).toBeGreaterThan(1);
      expect(Math.max(...gen.calls.map((c) => c.requests.length))).toBeLessThanOrEqual(4);
      const results = await Promise.allSettled(['a', 'BAD', 'c'].map((p) => be.generate([{ prompt: p }], { maxNewTokens: 4, temperature: 0 })));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
      const err = (results[1] as PromiseRejectedResult).reason as Error;
      expect(err.message).toMatch(/HTTP 500 .*prompt too long for the context/);
    } finally {
      await s2.close();
    }
  });

  it('refuses to listen on a non-loopback host unless allowed', async () => {
    await expect(startOpenAIServer({ generator: new ScriptedGenerator(() => ''), host: '0.0.0.0' })).rejects.toThrow(/not loopback/);
  });
});
