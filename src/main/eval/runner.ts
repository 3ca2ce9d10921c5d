/**
 * Evaluation runner core (pure: no DB, no files). Given a generator, suites, judges and settings,
 * it produces one EvalRecord per suite item, in batches:
 *
 *  - `isDone(suiteId, itemId)` skips items already stored (resume);
 *  - `onBatch(records, progress)` is awaited after every finished batch, in order (store them there);
 *  - a generator with `concurrency` (an HTTP backend) gets the next batches while the oldest is
 *    judged and stored, so its requests stay in flight end to end instead of draining at every
 *    batch boundary; the local engine gets one batch at a time;
 *  - `shouldStop()` / `signal` are checked before every batch and passed to the generator; items
 *    whose generation was cut by a stop are not recorded (they are redone on resume); a stop or an
 *    abort always ends with `stopped: true`, never an exception;
 *  - prompts too long for the context are truncated (middle by default) with a recorded warning,
 *    never a crash; with no way to count tokens, `maxPromptChars` bounds them instead;
 *  - a generation error on one item (e.g. HTTP 400 "context too long") is recorded on that item
 *    (finishReason 'error', no verdicts); an unreachable backend (BackendUnavailableError) or a
 *    cancellation ends the run with that error (records stored so far stay valid for resume).
 */
import { BackendUnavailableError } from './httpBackend';
import type { ChatMessage, EvalRecord, GenerationOutput, GenerationRequest, GenerationSettings, Generator, Judge, JudgeInput, Suite, SuiteItem } from './types';
import { DEFAULT_GENERATION_SETTINGS } from './types';

export type TruncateMode = 'middle' | 'keep-start' | 'keep-end';

export interface RunSettings {
  generation: GenerationSettings;
  /** Items per generator call (default 8). */
  batchSize?: number;
  /** 'chat' (default): the prompt is a user message (the generator applies its chat template); 'raw': sent as text. */
  promptFormat?: 'chat' | 'raw';
  /** Chat only: a system message before every prompt. */
  systemPrompt?: string;
  /** How an over-long prompt is shortened (default 'middle'). */
  truncate?: TruncateMode;
  /** Character bound on prompts when the generator cannot count tokens (default none). */
  maxPromptChars?: number;
}

export interface RunProgress {
  /** Items recorded by this run so far. */
  done: number;
  /** Items skipped because they were already done. */
  skipped: number;
  /** All items in the run (skipped included). */
  total: number;
}

export interface RunInput {
  generator: Generator;
  suites: readonly Suite[];
  judges: readonly Judge[];
  settings: RunSettings;
  isDone?: (suiteId: string, itemId: string) => boolean;
  onBatch?: (records: EvalRecord[], progress: RunProgress) => void | Promise<void>;
  shouldStop?: () => boolean;
  signal?: AbortSignal;
}

export interface RunResult extends RunProgress {
  stopped: boolean;
}

/** What to store with a run so its numbers can be reproduced and compared. */
export interface RunDescription {
  generatorId: string;
  contextLength: number | null;
  generation: GenerationSettings;
  promptFormat: 'chat' | 'raw';
  systemPrompt: string | null;
  truncate: TruncateMode;
  maxPromptChars: number | null;
  batchSize: number;
  judges: Array<{ id: string; version: string; kind: string }>;
  suites: Array<{ id: string; kind: string; loader: string; items: number; files: string[]; notes: string[] }>;
}

export function describeRun(input: Pick<RunInput, 'generator' | 'suites' | 'judges' | 'settings'>): RunDescription {
  const s = input.settings;
  return {
    generatorId: input.generator.id,
    contextLength: input.generator.contextLength ?? null,
    generation: { ...DEFAULT_GENERATION_SETTINGS, ...s.generation },
    promptFormat: s.promptFormat ?? 'chat',
    systemPrompt: s.systemPrompt ?? null,
    truncate: s.truncate ?? 'middle',
    maxPromptChars: s.maxPromptChars ?? null,
    batchSize: s.batchSize ?? 8,
    judges: input.judges.map((j) => ({ id: j.id, version: j.version, kind: j.kind })),
    suites: input.suites.map((x) => ({ id: x.id, kind: x.kind, loader: x.loader, items: x.items.length, files: x.files, notes: x.notes })),
  };
}

const ELLIPSIS = '\n[…]\n';

/** Shorten `text` to `keep` characters (plus a marker) the given way. */
export function cutText(text: string, keep: number, mode: TruncateMode): string {
  if (keep >= text.length) return text;
  if (keep <= 0) return '';
  if (mode === 'keep-start') return text.slice(0, keep) + ELLIPSIS.trimEnd();
  if (mode === 'keep-end') return ELLIPSIS.trimStart() + text.slice(text.length - keep);
  const head = Math.ceil(keep / 2);
  return text.slice(0, head) + ELLIPSIS + text.slice(text.length - (keep - head));
}

/** The longest cut of `text` for which `fits` holds (binary search on kept characters), or null. */
export async function truncateToFit(text: string, fits: (t: string) => Promise<boolean> | boolean, mode: TruncateMode): Promise<string | null> {
  if (await fits(text)) return text;
  let lo = 0;
  let hi = text.length - 1;
  let best: string | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const cand = cutText(text, mid, mode);
    if (await fits(cand)) {
      best = cand;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return best;
}

interface Pending {
  suite: Suite;
  item: SuiteItem;
  position: number;
}

interface Fitted {
  req: GenerationRequest | null;
  text: string;
  warnings: string[];
}

/** One batch after generation: each sent item's output or error, by its index in the batch. */
type Generated = { ok: true; batch: Pending[]; fitted: Fitted[]; byIdx: Map<number, GenerationOutput | Error> } | { ok: false; error: unknown };

function key(suiteId: string, itemId: string) {
  return `${suiteId}\u0000${itemId}`;
}

function isAbort(e: unknown, signal?: AbortSignal): boolean {
  return !!signal?.aborted || (e as { name?: string })?.name === 'AbortError';
}

export async function runEvaluation(input: RunInput): Promise<RunResult> {
  const s = input.settings;
  const gen = input.generator;
  const settings: GenerationSettings = { ...DEFAULT_GENERATION_SETTINGS, ...s.generation };
  const bs = Math.max(1, s.batchSize ?? 8);
  const format = s.promptFormat ?? 'chat';
  const mode = s.truncate ?? 'middle';
  const stopNow = () => !!input.shouldStop?.() || !!input.signal?.aborted;
  /**
   * Batches generating at once: one for a generator that serves one call at a time; for a
   * concurrent one (an HTTP backend), enough that its `concurrency` requests stay in flight while
   * the oldest batch is judged and stored.
   */
  const depth = gen.concurrency && gen.concurrency > 1 ? Math.ceil(gen.concurrency / bs) + 1 : 1;

  const ids = new Set<string>();
  for (const su of input.suites) {
    if (ids.has(su.id)) throw new Error(`runEvaluation: two suites share the id "${su.id}"`);
    ids.add(su.id);
  }
  const all: Pending[] = input.suites.flatMap((suite) => suite.items.map((item, position) => ({ suite, item, position })));
  const pending = all.filter((p) => !input.isDone?.(p.suite.id, p.item.id));
  const progress: RunProgress = { done: 0, skipped: all.length - pending.length, total: all.length };

  const build = (text: string): GenerationRequest => {
    if (format === 'raw') return { prompt: text };
    const messages: ChatMessage[] = s.systemPrompt ? [{ role: 'system', content: s.systemPrompt }] : [];
    messages.push({ role: 'user', content: text });
    return { messages };
  };

  /** Fit one prompt: returns the request, the text actually sent and warnings; null request when it cannot fit. */
  const fit = async (text: string): Promise<Fitted> => {
    const warnings: string[] = [];
    let t = text;
    if (s.maxPromptChars !== undefined && t.length > s.maxPromptChars) {
      t = cutText(t, s.maxPromptChars, mode);
      warnings.push(`prompt truncated (${mode}) from ${text.length} to ${s.maxPromptChars} characters (maxPromptChars)`);
    }
    if (gen.countTokens && gen.contextLength) {
      const budget = gen.contextLength - settings.maxNewTokens;
      const count = async (x: string) => gen.countTokens!(build(x));
      const before = await count(t);
      if (before > budget) {
        const cut = budget > 0 ? await truncateToFit(t, async (x) => (await count(x)) <= budget, mode) : null;
        if (cut === null || cut.trim() === '') {
          warnings.push(
            `prompt cannot fit: ${before} tokens, context ${gen.contextLength} minus ${settings.maxNewTokens} new tokens leaves ${budget} (template/system prompt alone is too long, or max new tokens too large)`,
          );
          return { req: null, text: t, warnings };
        }
        warnings.push(
          `prompt truncated (${mode}) from ${before} to ${await count(cut)} tokens to fit context ${gen.contextLength} with ${settings.maxNewTokens} new tokens`,
        );
        t = cut;
      }
    }
    return { req: build(t), text: t, warnings };
  };

  const generateSafely = async (reqs: GenerationRequest[]): Promise<Array<GenerationOutput | Error>> => {
    try {
      return await gen.generate(reqs, settings, { signal: input.signal, shouldStop: input.shouldStop });
    } catch (e) {
      if (e instanceof BackendUnavailableError || isAbort(e, input.signal)) throw e;
      if (reqs.length === 1) return [e as Error];
      // Isolate the failing item(s): one request at a time.
      const out: Array<GenerationOutput | Error> = [];
      for (const r of reqs) {
        if (stopNow()) {
          out.push({ text: '', finishReason: 'cancelled' });
          continue;
        }
        try {
          out.push((await gen.generate([r], settings, { signal: input.signal, shouldStop: input.shouldStop }))[0]!);
        } catch (e2) {
          if (e2 instanceof BackendUnavailableError || isAbort(e2, input.signal)) throw e2;
          out.push(e2 as Error);
        }
      }
      return out;
    }
  };

  /** Fit and generate one batch; a failure comes back as a value so a batch started ahead never rejects unobserved. */
  const generateBatch = async (batch: Pending[]): Promise<Generated> => {
    try {
      const fitted = await Promise.all(batch.map((p) => fit(p.item.prompt)));
      const sendIdx = fitted.map((f, i) => (f.req ? i : -1)).filter((i) => i >= 0);
      const outs = sendIdx.length ? await generateSafely(sendIdx.map((i) => fitted[i]!.req!)) : [];
      const byIdx = new Map<number, GenerationOutput | Error>();
      sendIdx.forEach((i, k) => byIdx.set(i, outs[k]!));
      return { ok: true, batch, fitted, byIdx };
    } catch (error) {
      return { ok: false, error };
    }
  };

  /** Batches whose generation has started, oldest first; judged and stored in this order. */
  const started: Array<Promise<Generated>> = [];
  let nextStart = 0;
  const startMore = () => {
    while (started.length < depth && nextStart < pending.length && !stopNow()) {
      started.push(generateBatch(pending.slice(nextStart, nextStart + bs)));
      nextStart += bs;
    }
  };
  /** Lets batches already started finish (their unsent requests come back cancelled on a stop). */
  const drain = async () => {
    await Promise.all(started.splice(0));
  };

  try {
    for (;;) {
      if (stopNow()) {
        await drain();
        return { ...progress, stopped: true };
      }
      startMore();
      const next = started.shift();
      if (!next) break;
      const generated = await next;
      if (!generated.ok) throw generated.error;
      // A concurrent generator keeps working on the next batches while this one is judged and stored.
      if (depth > 1) startMore();
      const { batch, fitted, byIdx } = generated;

      const records: Array<EvalRecord | null> = batch.map((p, i) => {
        const f = fitted[i]!;
        const base = {
          suiteId: p.suite.id,
          suiteKind: p.suite.kind,
          itemId: p.item.id,
          position: p.position,
          prompt: f.text,
          expected: p.item.expected,
          categories: p.item.categories,
          sourceCategories: p.item.sourceCategories,
          reference: p.item.reference,
          verdicts: [],
        };
        if (!f.req) return { ...base, response: '', finishReason: 'error', warnings: f.warnings };
        const o = byIdx.get(i)!;
        if (o instanceof Error) return { ...base, response: '', finishReason: 'error', warnings: [...f.warnings, `generation failed: ${o.message}`] };
        if (o.finishReason === 'cancelled') return null;
        const warnings = [...f.warnings];
        if (o.finishReason === 'length') warnings.push(`reply cut at the max new tokens limit (${settings.maxNewTokens})`);
        return { ...base, response: o.text, finishReason: o.finishReason, warnings, promptTokens: o.promptTokens, completionTokens: o.completionTokens };
      });

      // Judge the generated items, suite by suite, with every judge that applies.
      const bySuite = new Map<Suite, number[]>();
      records.forEach((r, i) => {
        if (!r || r.finishReason === 'error') return;
        const su = batch[i]!.suite;
        const a = bySuite.get(su) ?? [];
        a.push(i);
        bySuite.set(su, a);
      });
      for (const [su, idx] of bySuite) {
        const inputs: JudgeInput[] = idx.map((i) => ({ item: batch[i]!.item, suiteKind: su.kind, response: records[i]!.response, scorer: su.scorer }));
        for (const j of input.judges) {
          if (!j.appliesTo(su.kind)) continue;
          const vs = await j.judge(inputs, { signal: input.signal });
          if (vs.length !== inputs.length) throw new Error(`judge ${j.id} returned ${vs.length} verdicts for ${inputs.length} inputs`);
          idx.forEach((i, k) => records[i]!.verdicts.push(vs[k]!));
        }
      }

      const finished = records.filter((r): r is EvalRecord => r !== null);
      progress.done += finished.length;
      if (finished.length) await input.onBatch?.(finished, { ...progress });
      if (finished.length < batch.length) {
        await drain();
        return { ...progress, stopped: true };
      }
    }
  } catch (e) {
    await drain();
    // A cancellation that surfaced as an abort error (HTTP requests, judges) ends the run the same
    // way a stop between batches does: what is stored stays valid, the rest is redone on resume.
    if (input.signal?.aborted || (isAbort(e) && input.shouldStop?.())) return { ...progress, stopped: true };
    throw e;
  }
  return { ...progress, stopped: false };
}

/** Helper for resume: a Set-backed isDone from stored (suiteId, itemId) pairs. */
export function doneSet(pairs: Iterable<{ suiteId: string; itemId: string }>): (suiteId: string, itemId: string) => boolean {
  const set = new Set<string>();
  for (const p of pairs) set.add(key(p.suiteId, p.itemId));
  return (suiteId, itemId) => set.has(key(suiteId, itemId));
}
