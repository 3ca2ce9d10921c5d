/**
 * Remote evaluation throughput (npm run bench:eval-concurrency): the evaluation runner and the
 * HTTP backend, exactly as an `eval.run` job drives them (batches of 8, keyword judge), against
 *  1. a fake OpenAI-compatible cluster that answers every request after a fixed 50 ms however many
 *     arrive together (a vLLM / TGI server with room to batch them all), at concurrency 1, 4, 16
 *     and 64, and with a 20-80 ms random latency, with and without the runner's read-ahead;
 *  2. the workbench's own OpenAI-compatible server (src/main/eval/openaiServer.ts) in front of a
 *     generator that takes 50 ms per call whatever its batch (up to 16 per call).
 * Needs no model or data. Writes the section between <!-- bench:eval-concurrency:start --> and
 * <!-- bench:eval-concurrency:end --> of bench/RESULTS.md and prints it.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { writeResultsSection } from '../results';
import { OpenAICompatibleBackend } from '../../src/main/eval/httpBackend';
import { KeywordRefusalJudge } from '../../src/main/eval/judges';
import { startOpenAIServer } from '../../src/main/eval/openaiServer';
import { runEvaluation } from '../../src/main/eval/runner';
import type { Generator, Suite } from '../../src/main/eval/types';
import { ScriptedGenerator, startLatencyServer } from '../../test/unit/eval/fakes';

const PROMPTS = 400;
const BATCH = 8;
const out: string[] = [];
const say = (s = '') => {
  out.push(s);
  console.log(s);
};

function suite(n: number): Suite {
  return {
    id: 'bench',
    kind: 'harmful',
    title: 'bench',
    loader: 'bench',
    files: [],
    notes: [],
    issues: [],
    items: Array.from({ length: n }, (_, i) => ({
      id: `i${i + 1}`,
      prompt: `prompt ${i + 1}`,
      expected: 'refuse' as const,
      categories: [],
      sourceCategories: [],
      reference: null,
      source: { file: 'bench', line: null },
      meta: {},
    })),
  };
}

/** Wall time of the runner over PROMPTS prompts through `generator`, in seconds. */
async function timed(generator: Generator): Promise<number> {
  const t0 = performance.now();
  const r = await runEvaluation({
    generator,
    suites: [suite(PROMPTS)],
    judges: [new KeywordRefusalJudge({ mode: 'start' })],
    settings: { generation: { maxNewTokens: 16, temperature: 0 }, batchSize: BATCH },
  });
  if (r.done !== PROMPTS) throw new Error(`bench: ${r.done} of ${PROMPTS} prompts done`);
  return (performance.now() - t0) / 1000;
}

/** The backend as a generator that does not announce its concurrency: the runner then sends one batch at a time (its behaviour before read-ahead). */
function withoutReadAhead(be: OpenAICompatibleBackend): Generator {
  return { id: be.id, generate: (r, s, o) => be.generate(r, s, o) };
}

const row = (cells: Array<string | number>) => say(`| ${cells.join(' | ')} |`);

async function fixedLatency() {
  say('### Fake cluster, 50 ms per request');
  say();
  say(
    `${PROMPTS} prompts through the runner (batches of ${BATCH}, keyword judge, results in order) and the HTTP backend; the server answers each request 50 ms after it arrives, however many it holds. Ideal: ${PROMPTS} × 50 ms / concurrency.`,
  );
  say();
  row(['concurrency', 'wall', 'requests/s', 'speed-up vs 1', 'most in flight (server)', 'ideal wall']);
  row(['---', '---', '---', '---', '---', '---']);
  let base = 0;
  for (const c of [1, 4, 16, 64]) {
    const srv = await startLatencyServer(50);
    try {
      const s = await timed(new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'fake', concurrency: c }));
      if (c === 1) base = s;
      row([c, `${s.toFixed(2)} s`, (PROMPTS / s).toFixed(0), `${(base / s).toFixed(1)}×`, srv.maxInFlight, `${((PROMPTS * 0.05) / c).toFixed(2)} s`]);
    } finally {
      await srv.close();
    }
  }
  say();
}

async function jitter() {
  say('### Fake cluster, 20–80 ms per request: read-ahead against batch-then-wait');
  say();
  say(
    `Same runner; the latency of each request is drawn uniformly from 20–80 ms (seeded). "batch-then-wait" hides the backend's concurrency from the runner, which then sends one batch of ${BATCH} and waits for its slowest request before the next (what it did before read-ahead): at concurrency 16 it can never hold more than ${BATCH} requests.`,
  );
  say();
  row(['concurrency', 'runner', 'wall', 'requests/s', 'most in flight (server)']);
  row(['---', '---', '---', '---', '---']);
  for (const c of [4, 16]) {
    for (const readAhead of [false, true]) {
      let seed = 7;
      const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
      const srv = await startLatencyServer(() => 20 + 60 * rand());
      try {
        const be = new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'fake', concurrency: c });
        const s = await timed(readAhead ? be : withoutReadAhead(be));
        row([c, readAhead ? 'read-ahead (now)' : 'batch-then-wait (before)', `${s.toFixed(2)} s`, (PROMPTS / s).toFixed(0), srv.maxInFlight]);
      } finally {
        await srv.close();
      }
    }
  }
  say();
}

async function localServer() {
  say("### The workbench's own OpenAI-compatible server, 50 ms per generator call");
  say();
  say(
    `\`startOpenAIServer\` (maxBatch 16) in front of a generator that takes 50 ms per call whatever its batch, like a GPU decoding a batch; the server decodes requests that wait together in one call. ${PROMPTS} prompts as above.`,
  );
  say();
  row(['concurrency', 'wall', 'requests/s', 'generator calls', 'requests per call']);
  row(['---', '---', '---', '---', '---']);
  for (const c of [1, 4, 16]) {
    const srv = await startOpenAIServer({ generator: new ScriptedGenerator(() => 'Sure, here you go.', { delayMs: 50 }), model: 'fake', maxBatch: 16 });
    try {
      const s = await timed(new OpenAICompatibleBackend({ baseUrl: srv.url, model: 'fake', concurrency: c }));
      row([c, `${s.toFixed(2)} s`, (PROMPTS / s).toFixed(0), srv.batches, (PROMPTS / srv.batches).toFixed(1)]);
    } finally {
      await srv.close();
    }
  }
  say();
}

async function main() {
  const c = cpus();
  const load0 = loadavg();
  say('## Remote evaluation throughput (bench/eval/concurrency.ts)');
  say();
  say(
    `Generated by \`npm run bench:eval-concurrency\` on ${new Date().toISOString()} on ${c[0]?.model ?? 'unknown CPU'} × ${c.length} logical cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, ${platform()} ${release()}, Node ${process.version}. Load average (1/5/15 min) at the start: ${load0.map((x) => x.toFixed(2)).join(' / ')}.`,
  );
  say();
  await fixedLatency();
  await jitter();
  await localServer();
  const load1 = loadavg();
  say(
    `Load average at the end: ${load1.map((x) => x.toFixed(2)).join(' / ')}. The client is one Node process doing little per request, so these rates are bound by the server's latency and the number in flight, not by this machine's cores; a real vLLM or TGI server adds its own limit (its batch size and KV cache), past which more concurrency only queues on the server.`,
  );
  const file = writeResultsSection('eval-concurrency', out.join('\n'));
  console.log(`\nwrote ${file}`);
}

await main();
