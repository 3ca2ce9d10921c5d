/**
 * One benchmark measurement in its own process (so peak RSS is that run's alone).
 *   node --import tsx bench/engine/worker.ts <ours|llamacpp> <model.gguf> <batch> <promptTokens> <newTokens> <threads> [cacheDir]
 * Prints one JSON line. Each engine first generates WARMUP tokens from a short prompt, not measured,
 * then the measured generation runs in rounds (see `rounds`).
 */
import { openModel, generateBatch } from '../../src/main/engine';

const [engine, modelPath, batchS, promptS, newS, threadsS, cacheDir] = process.argv.slice(2);
const B = Number(batchS);
const P = Number(promptS);
const N = Number(newS);
const threads = Number(threadsS);
/** tokens generated before the measurement by each engine */
const WARMUP = 16;

/** A deterministic prompt of P token ids: BOS then ordinary stories260K vocabulary ids. */
function promptIds(len: number, salt: number): number[] {
  const ids = [1];
  for (let i = 1; i < len; i++) ids.push(259 + ((i * 37 + salt * 11) % 250));
  return ids;
}

interface Round {
  prefillMs: number;
  decodeTokPerSec: number;
  /** decode tokens per second of this process's CPU time (user + system): less sensitive to other jobs on a loaded machine */
  decodeTokPerCpuSec: number;
  decodeMs: number;
  generated: number;
}

/** CPU time of this process so far, ms */
const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/**
 * The measured generation, repeated (same prompts, fresh cache) until 1 s of decoding has been
 * timed, at most 7 rounds; the medians are reported. A 64-token stories260K reply takes ~50 ms, and
 * one scheduler hiccup on this shared machine would otherwise decide the number.
 */
async function rounds(one: () => Promise<Round>): Promise<Omit<Round, 'decodeMs'> & { rounds: number; maxRssMB: number }> {
  const rs: Round[] = [];
  let timed = 0;
  let maxRssMB = 0;
  while (rs.length < 7 && (rs.length === 0 || timed < 1000)) {
    const r = await one();
    // peak RSS as of the first measured generation: later rounds add garbage not collected yet
    if (rs.length === 0) maxRssMB = process.resourceUsage().maxRSS / 1024;
    rs.push(r);
    timed += r.decodeMs;
  }
  const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return {
    prefillMs: med(rs.map((r) => r.prefillMs)),
    decodeTokPerSec: med(rs.map((r) => r.decodeTokPerSec)),
    decodeTokPerCpuSec: med(rs.map((r) => r.decodeTokPerCpuSec)),
    generated: rs[0]!.generated,
    rounds: rs.length,
    maxRssMB,
  };
}

async function ours() {
  const t0 = performance.now();
  const rt = await openModel(modelPath!, {
    threads,
    cacheDir: cacheDir || undefined,
    executionProvider: 'cpu',
    memArena: process.env.ARENA !== '0',
    weightDtype: process.env.WEIGHT_DTYPE === 'float16' ? 'float16' : 'float32',
    prepack: process.env.PREPACK === undefined ? undefined : process.env.PREPACK === '1',
    quantCompute: (process.env.QUANT_COMPUTE as 'int8' | 'fp32' | 'off' | undefined) ?? undefined,
  });
  const loadMs = performance.now() - t0;
  const prompts = Array.from({ length: B }, (_, b) => promptIds(P, b));
  // warm-up, not measured (both engines): JIT-compiles the generation loop, as in a running app
  await generateBatch(
    rt,
    prompts.map((p) => p.slice(0, 8)),
    { maxNewTokens: WARMUP, ignoreEos: true },
  );
  const r = await rounds(async () => {
    const first: number[] = new Array(B).fill(0);
    let last = 0;
    let firsts = 0;
    let cpuFirst = 0;
    let cpuLast = 0;
    const start = performance.now();
    const res = await generateBatch(rt, prompts, {
      maxNewTokens: N,
      ignoreEos: true,
      onToken: (e) => {
        const now = performance.now();
        if (!first[e.index]) {
          first[e.index] = now;
          if (++firsts === B) cpuFirst = cpuMs();
        }
        last = now;
        cpuLast = cpuMs();
      },
    });
    const firstAt = Math.max(...first);
    const generated = res.reduce((s, x) => s + x.tokenIds.length, 0);
    return {
      prefillMs: firstAt - start,
      decodeTokPerSec: (generated - B) / ((last - firstAt) / 1000),
      decodeTokPerCpuSec: (generated - B) / ((cpuLast - cpuFirst) / 1000),
      decodeMs: last - firstAt,
      generated,
    };
  });
  await rt.release();
  return { loadMs, ...r, prefillTokPerSec: (B * P) / (r.prefillMs / 1000) };
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
  let w = 0;
  for await (const _t of seq.evaluate(promptIds(8, 0) as never, { temperature: 0 })) if (++w >= WARMUP) break;
  const ids = promptIds(P, 0);
  const r = await rounds(async () => {
    await seq.clearHistory();
    const start = performance.now();
    let firstAt = 0;
    let last = 0;
    let cpuFirst = 0;
    let cpuLast = 0;
    let n = 0;
    for await (const _t of seq.evaluate(ids as never, { temperature: 0 })) {
      const now = performance.now();
      if (n === 0) {
        firstAt = now;
        cpuFirst = cpuMs();
      }
      last = now;
      cpuLast = cpuMs();
      if (++n >= N) break;
    }
    return {
      prefillMs: firstAt - start,
      decodeTokPerSec: (n - 1) / ((last - firstAt) / 1000),
      decodeTokPerCpuSec: (n - 1) / ((cpuLast - cpuFirst) / 1000),
      decodeMs: last - firstAt,
      generated: n,
    };
  });
  await ctx.dispose();
  await model.dispose();
  return { loadMs, ...r, prefillTokPerSec: P / (r.prefillMs / 1000) };
}

const r = engine === 'ours' ? await ours() : await llamacpp();
console.log(
  JSON.stringify({ engine, model: modelPath, batch: B, promptTokens: P, newTokens: N, threads, ...r, maxRssEndMB: process.resourceUsage().maxRSS / 1024 }),
);
