/**
 * One benchmark measurement in its own process (so peak RSS is that run's alone).
 *   node --import tsx bench/engine/worker.ts <ours|llamacpp> <model.gguf> <batch> <promptTokens> <newTokens> <threads> [cacheDir]
 * Prints one JSON line.
 */
import { openModel, generateBatch } from '../../src/main/engine';

const [engine, modelPath, batchS, promptS, newS, threadsS, cacheDir] = process.argv.slice(2);
const B = Number(batchS);
const P = Number(promptS);
const N = Number(newS);
const threads = Number(threadsS);

/** A deterministic prompt of P token ids: BOS then ordinary stories260K vocabulary ids. */
function promptIds(len: number, salt: number): number[] {
  const ids = [1];
  for (let i = 1; i < len; i++) ids.push(259 + ((i * 37 + salt * 11) % 250));
  return ids;
}

async function ours() {
  const t0 = performance.now();
  const rt = await openModel(modelPath!, { threads, cacheDir: cacheDir || undefined, executionProvider: 'cpu', memArena: process.env.ARENA !== '0', weightDtype: process.env.WEIGHT_DTYPE === 'float16' ? 'float16' : 'float32', prepack: process.env.PREPACK === '1' });
  const loadMs = performance.now() - t0;
  const prompts = Array.from({ length: B }, (_, b) => promptIds(P, b));
  const first: number[] = new Array(B).fill(0);
  let last = 0;
  const start = performance.now();
  const res = await generateBatch(rt, prompts, {
    maxNewTokens: N,
    ignoreEos: true,
    onToken: (e) => {
      const now = performance.now();
      if (!first[e.index]) first[e.index] = now;
      last = now;
    },
  });
  const firstAt = Math.max(...first);
  const prefillMs = firstAt - start;
  const generated = res.reduce((s, r) => s + r.tokenIds.length, 0);
  await rt.release();
  return { loadMs, prefillMs, prefillTokPerSec: (B * P) / (prefillMs / 1000), decodeTokPerSec: (generated - B) / ((last - firstAt) / 1000), generated };
}

async function llamacpp() {
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const t0 = performance.now();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const model = await llama.loadModel({ modelPath: modelPath! });
  const ctx = await model.createContext({ contextSize: Math.max(256, P + N + 8), threads, batchSize: Math.max(512, P), sequences: 1 });
  const loadMs = performance.now() - t0;
  if (B !== 1) throw new Error('llama.cpp side is measured single-stream only');
  const seq = ctx.getSequence();
  const ids = promptIds(P, 0);
  const start = performance.now();
  let firstAt = 0;
  let last = 0;
  let n = 0;
  for await (const _t of seq.evaluate(ids as never, { temperature: 0 })) {
    const now = performance.now();
    if (n === 0) firstAt = now;
    last = now;
    if (++n >= N) break;
  }
  await ctx.dispose();
  await model.dispose();
  const prefillMs = firstAt - start;
  return { loadMs, prefillMs, prefillTokPerSec: P / (prefillMs / 1000), decodeTokPerSec: (n - 1) / ((last - firstAt) / 1000), generated: n };
}

const r = engine === 'ours' ? await ours() : await llamacpp();
console.log(JSON.stringify({ engine, model: modelPath, batch: B, promptTokens: P, newTokens: N, threads, ...r, maxRssMB: process.resourceUsage().maxRSS / 1024 }));
