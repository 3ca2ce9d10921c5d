import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AppError } from '../../../shared/errors';
import type { Embedder } from '../../embed/types';
import type { Generator } from '../../eval/types';
import { parse, type Command } from '../command';

const usage =
  'safetune detect refusal|harm|category|behaviour --input FILE.jsonl --field NAME [--response-field NAME] [--prompt-field NAME] [--references DIR [--embedder DIR]] [--rules-only] ' +
  '[--judge builtin|wildguard|llama-guard [--model PATH | --http URL --http-model NAME]] [--json]';

type Kind = 'refusal' | 'harm' | 'category' | 'behaviour';
type JudgeName = 'builtin' | 'wildguard' | 'llama-guard';
interface Row {
  line: number;
  text: string;
  /** refusal: the prompt answered (--prompt-field); behaviour: the reply (--response-field). */
  other?: string;
}
/** One built-in verdict: what is printed, and the single label compared with a model judge. */
interface Verdict {
  label: string | string[];
  score: number | Record<string, number>;
  extra: Record<string, unknown>;
  primary: string;
}

/**
 * Runs one of the curation detectors over a JSONL file, one verdict per input line, so they can be
 * checked against any labelled file. Scores are calibrated probabilities (--json prints them all):
 * refusal P(refusal); harm P(harmful); category P(category) for each of the 14 categories, blended
 * with the kNN vote of reference prompts when --references is given (embedded with the built-in word
 * vectors, or with the sentence encoder --embedder names); behaviour the type T1–T4 of a
 * (prompt, reply) pair with its confidence.
 *
 * --judge wildguard|llama-guard runs a model judge instead (the user's own weights: --model, or an
 * OpenAI-compatible server: --http), prints its verdicts next to the built-in ones and the
 * agreement between the two (a confusion table); answers the judge model wrote out of format are
 * counted and shown, never turned into a label.
 */
export const detectCommand: Command = {
  name: 'detect',
  usage,
  summary: 'Run the refusal, prompt-harm, harm-category or behaviour detector (or a model judge) over a JSONL file',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      {
        input: { type: 'string' },
        field: { type: 'string' },
        'response-field': { type: 'string' },
        'prompt-field': { type: 'string' },
        references: { type: 'string' },
        embedder: { type: 'string' },
        'rules-only': { type: 'boolean', default: false },
        judge: { type: 'string', default: 'builtin' },
        model: { type: 'string' },
        http: { type: 'string' },
        'http-model': { type: 'string' },
        json: { type: 'boolean', default: false },
      },
      usage,
      {
        input: 'The JSONL file to run over: one verdict per line, in order.',
        field: 'The field holding the text to judge: the reply (refusal) or the prompt (harm, category, behaviour).',
        'response-field': 'behaviour: the field holding the reply to the prompt.',
        'prompt-field': 'refusal, with --judge wildguard: the field holding the prompt the reply answers.',
        references: 'category: reference prompts, one file per harm category (BeaverTails layout), whose nearest neighbours refine the detector.',
        embedder:
          'category, with --references: a sentence-transformers ONNX folder that embeds the prompts and references for the neighbour vote (default: the built-in word vectors).',
        'rules-only': 'refusal, behaviour: only the refusal phrase rules, no classifier.',
        judge: 'builtin: the shipped detectors. wildguard or llama-guard: that model judges too, next to the built-in verdicts, with their agreement.',
        model: 'The judge model (a GGUF file or a Hugging Face folder), for --judge wildguard|llama-guard.',
        http: 'An OpenAI-compatible server (vLLM, llama.cpp server, Ollama) serving the judge model, instead of --model.',
        'http-model': 'With --http: the model name the server serves.',
      },
    );
    const kind = positionals[0] as Kind;
    if (!['refusal', 'harm', 'category', 'behaviour'].includes(kind)) throw new AppError('invalid_input', `usage: ${usage}`);
    if (!values.input || !values.field) throw new AppError('invalid_input', `--input and --field are required\nusage: ${usage}`);
    if (kind === 'behaviour' && !values['response-field'])
      throw new AppError('invalid_input', `detect behaviour needs --field (the prompt) and --response-field (the reply)\nusage: ${usage}`);
    const judge = values.judge as JudgeName;
    if (!['builtin', 'wildguard', 'llama-guard'].includes(judge))
      throw new AppError('invalid_input', `--judge must be builtin, wildguard or llama-guard, not "${values.judge}"`);
    if (judge !== 'builtin') {
      if (!values.model === !values.http)
        throw new AppError('invalid_input', `--judge ${judge} needs the judge model: --model PATH or --http URL --http-model NAME\nusage: ${usage}`);
      if (values.http && !values['http-model']) throw new AppError('invalid_input', '--http needs --http-model NAME (the model name the server serves)');
      if (judge === 'wildguard' && kind === 'category')
        throw new AppError('invalid_input', 'WildGuard gives no harm categories: use --judge llama-guard for detect category');
      if (judge === 'llama-guard' && kind === 'refusal')
        throw new AppError('invalid_input', 'Llama Guard 3 judges harm, not refusals: use --judge wildguard for detect refusal');
    }
    if (values.embedder && !(kind === 'category' && values.references))
      throw new AppError(
        'invalid_input',
        '--embedder applies to detect category with --references (the neighbour vote); the detectors themselves use the word vectors they were trained on',
      );
    const otherField = kind === 'behaviour' ? values['response-field'] : kind === 'refusal' ? values['prompt-field'] : undefined;
    const rows = await readRows(resolve(values.input), values.field, otherField, env.io.err);

    const { createDefaultEmbedder } = await import('../../embed/staticVectors');
    const embedder = await createDefaultEmbedder();
    const builtin = await builtinVerdicts(kind, rows, embedder, {
      references: values.references,
      embedder: values.embedder,
      rulesOnly: values['rules-only'],
      json: values.json,
    });
    const print = (line: number, label: string | string[], score: number | Record<string, number> | null, extra: Record<string, unknown> = {}) =>
      env.io.out(
        values.json
          ? JSON.stringify({ line, label, score, ...extra })
          : `${line}\t${Array.isArray(label) ? label.join(',') : label}\t${typeof score === 'number' ? score.toFixed(3) : ''}`,
      );

    if (judge === 'builtin') {
      builtin.forEach((v, i) => print(rows[i]!.line, v.label, v.score, v.extra));
      return 0;
    }

    const generator = await openGenerator(values);
    try {
      const judged = await modelVerdicts(judge, kind, rows, generator.gen, embedder);
      const { agreement, formatAgreement } = await import('../../detect/model-judges/agreement');
      judged.verdicts.forEach((v, i) => {
        const b = builtin[i]!;
        if (v.error) print(rows[i]!.line, 'no verdict', null, { builtin: b.primary, error: v.error, raw: v.raw });
        else print(rows[i]!.line, v.label!, v.score, { builtin: b.primary, ...(values.json ? { raw: v.raw } : {}) });
      });
      const a = agreement(
        judged.verdicts.map((v) => (v.error ? null : v.primary!)),
        builtin.map((b) => b.primary),
        { judge: judged.id, reference: 'built-in detectors' },
      );
      const stats = judged.stats;
      if (values.json) env.io.out(JSON.stringify({ agreement: a, judge: judged.id, stats }));
      else {
        for (const l of formatAgreement(a)) env.io.out(l);
        env.io.out(
          `judge ${judged.id}: ${stats.items} items, ${stats.parseErrors} answers not in the judge's format, ${stats.failures} failed calls, ${stats.noVerdict} without a verdict`,
        );
        for (const e of stats.examples.slice(0, 5))
          env.io.err(`  line ${rows[e.index]?.line ?? '?'}: ${e.message}${e.raw !== null ? ` — answer: ${JSON.stringify(e.raw.slice(0, 160))}` : ''}`);
      }
      return 0;
    } finally {
      await generator.close();
    }
  },
};

async function readRows(file: string, field: string, other: string | undefined, err: (l: string) => void): Promise<Row[]> {
  const rows: Row[] = [];
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const raw of lines) {
      n++;
      if (!raw.trim()) continue;
      let row: unknown;
      try {
        row = JSON.parse(raw);
      } catch (e) {
        err(`${file}:${n}: not JSON (${(e as Error).message}): skipped`);
        continue;
      }
      const get = (f: string) => {
        const v = (row as Record<string, unknown>)?.[f];
        if (typeof v !== 'string') err(`${file}:${n}: field "${f}" is ${v === undefined ? 'missing' : `a ${typeof v}`}, not text: skipped`);
        return typeof v === 'string' ? v : null;
      };
      const text = get(field);
      if (text === null) continue;
      if (other === undefined) rows.push({ line: n, text });
      else {
        const o = get(other);
        if (o !== null) rows.push({ line: n, text, other: o });
      }
    }
  } catch (e) {
    throw new AppError('invalid_input', `Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return rows;
}

/** A sentence-transformers ONNX folder as an embedder (a folder it cannot load is the user's input error). */
async function loadEncoder(dir: string): Promise<Embedder & { dispose(): Promise<void> }> {
  const { OnnxSentenceEmbedder } = await import('../../embed/onnxSentence');
  return OnnxSentenceEmbedder.load(dir).catch((e: Error) => {
    throw new AppError('invalid_input', `sentence encoder ${dir}: ${e.message}`);
  });
}

async function builtinVerdicts(
  kind: Kind,
  rows: Row[],
  embedder: Embedder,
  o: { references?: string | undefined; embedder?: string | undefined; rulesOnly: boolean; json: boolean },
): Promise<Verdict[]> {
  const texts = rows.map((r) => r.text);
  if (kind === 'refusal') {
    const { detectRefusals, shippedRefusalDetector } = await import('../../detect/behaviour');
    const r = await detectRefusals(texts, { embedder, rulesOnly: o.rulesOnly });
    const threshold = o.rulesOnly ? null : shippedRefusalDetector().file.threshold;
    return r.map((v) => {
      const label = v.refusal ? 'refusal' : 'compliance';
      return { label, primary: label, score: v.probability, extra: { source: v.source, threshold, rule: v.rule.phrase ?? null } };
    });
  }
  if (kind === 'harm') {
    const { detectHarmfulPrompts, shippedPromptDetector } = await import('../../detect/behaviour');
    const p = await detectHarmfulPrompts(texts, { embedder });
    const threshold = shippedPromptDetector().file.threshold;
    return Array.from(p, (v) => {
      const label = v >= threshold ? 'harmful' : 'benign';
      return { label, primary: label, score: v, extra: { threshold } };
    });
  }
  if (kind === 'behaviour') {
    const { classifyBehaviour } = await import('../../detect/behaviour');
    const r = await classifyBehaviour(
      rows.map((x) => ({ prompt: x.text, response: x.other! })),
      { embedder, rulesOnly: o.rulesOnly },
    );
    return r.map((v) => ({
      label: v.type,
      primary: v.type,
      score: v.confidence,
      extra: { harmProbability: v.harmProbability, refusalProbability: v.refusalProbability, refusalSource: v.refusalSource },
    }));
  }
  const { detectCategories, embedReferences, loadReferencePrompts } = await import('../../detect/categories');
  const { detectHarmfulPrompts } = await import('../../detect/behaviour');
  const encoder = o.embedder ? await loadEncoder(resolve(o.embedder)) : null;
  let inf: Awaited<ReturnType<typeof detectCategories>>;
  try {
    const referenceEmbedder = encoder ?? embedder;
    const references = o.references
      ? await embedReferences(
          await loadReferencePrompts(resolve(o.references)).catch((e: Error) => {
            throw new AppError('invalid_input', `reference prompts in ${resolve(o.references!)}: ${e.message}`);
          }),
          referenceEmbedder,
        )
      : undefined;
    inf = await detectCategories(texts, { embedder, ...(references ? { references, referenceEmbedder } : {}) });
  } finally {
    await encoder?.dispose();
  }
  const harm = o.json ? await detectHarmfulPrompts(texts, { embedder }) : null;
  const C = inf.categories.length;
  return rows.map((_, i) => {
    const scores = Object.fromEntries(inf.categories.map((c, k) => [c, Math.round(inf.scores[i * C + k]! * 1000) / 1000]));
    const labels = inf.labels[i]!;
    return {
      label: labels,
      primary: labels[0] ?? '(none)',
      score: o.json ? scores : (scores[labels[0]!] ?? 0),
      extra: o.json ? { method: inf.method, harmProbability: Math.round(harm![i]! * 1000) / 1000 } : {},
    };
  });
}

/** The judge model: the local engine (HF folder or GGUF) or an OpenAI-compatible server. */
async function openGenerator(values: { model?: string; http?: string; 'http-model'?: string }): Promise<{ gen: Generator; close: () => Promise<void> }> {
  if (values.http) {
    const { OpenAICompatibleBackend } = await import('../../eval/httpBackend');
    try {
      return { gen: new OpenAICompatibleBackend({ baseUrl: values.http, model: values['http-model']! }), close: async () => {} };
    } catch (e) {
      throw new AppError('invalid_input', (e as Error).message);
    }
  }
  const { openModel } = await import('../../engine');
  const { EngineGenerator } = await import('../../eval/engineGenerator');
  const rt = await openModel(resolve(values.model!));
  return { gen: new EngineGenerator(rt), close: () => rt.release() };
}

interface JudgedRow {
  label?: string | string[];
  primary?: string;
  score: number | Record<string, number> | null;
  error?: string;
  raw?: string | null;
}

async function modelVerdicts(judge: Exclude<JudgeName, 'builtin'>, kind: Kind, rows: Row[], generator: Generator, embedder: Embedder) {
  const { WildGuardSafetyJudge, LlamaGuardSafetyJudge } = await import('../../detect/model-judges/judges');
  const texts = rows.map((r) => r.text);
  if (judge === 'wildguard') {
    const j = new WildGuardSafetyJudge({ generator });
    const { wildGuardBehaviour } = await import('../../detect/model-judges/wildguard');
    // refusal: --field is the reply (the prompt, if given, is what it answers); harm: the prompt alone; behaviour: both.
    const pairs = rows.map((r) =>
      kind === 'refusal' ? { prompt: r.other ?? '', response: r.text } : kind === 'behaviour' ? { prompt: r.text, response: r.other! } : { prompt: r.text },
    );
    const items = await j.judgePairs(pairs);
    const verdicts: JudgedRow[] = items.map((x) => {
      if (!x.ok) return { score: null, error: x.error, raw: x.raw };
      const a = x.answer;
      if (kind === 'harm') return one(a.promptHarmful ? 'harmful' : 'benign', a.promptHarmful ? 1 : 0, x.raw);
      if (a.responseRefusal === null) return { score: null, error: 'WildGuard answered "Response refusal: n/a" for this reply', raw: x.raw };
      if (kind === 'refusal') return one(a.responseRefusal ? 'refusal' : 'compliance', a.responseRefusal ? 1 : 0, x.raw);
      return one(wildGuardBehaviour(a)!, 1, x.raw);
    });
    const stats = j.stats;
    items.forEach((x, i) => {
      if (x.ok && kind !== 'harm' && x.answer.responseRefusal === null) {
        stats.noVerdict++;
        if (stats.examples.length < 20) stats.examples.push({ index: i, kind: 'no-verdict', message: verdicts[i]!.error!, raw: x.raw });
      }
    });
    return { id: j.id, verdicts, stats };
  }
  const j = new LlamaGuardSafetyJudge({ generator });
  const pj = await j.judgePrompts(texts);
  let refusals: Array<{ refusal: boolean; probability: number }> | null = null;
  if (kind === 'behaviour') {
    const { detectRefusals } = await import('../../detect/behaviour');
    refusals = await detectRefusals(
      rows.map((r) => r.other!),
      { embedder },
    );
  }
  const { behaviourType } = await import('../../detect/behaviour');
  const verdicts: JudgedRow[] = pj.map((p, i) => {
    if (p.error) return { score: null, error: p.error, raw: j.stats.examples.find((e) => e.index === i)?.raw ?? null };
    if (kind === 'harm') return one(p.harmful ? 'harmful' : 'benign', p.harmProbability, null);
    if (kind === 'category') return { label: p.categories, primary: p.categories[0] ?? '(none)', score: p.categoryScores };
    const r = refusals![i]!;
    return one(
      behaviourType(p.harmful, r.refusal),
      (p.harmful ? p.harmProbability : 1 - p.harmProbability) * (r.refusal ? r.probability : 1 - r.probability),
      null,
    );
  });
  return { id: kind === 'behaviour' ? `${j.id} + built-in refusal detector` : j.id, verdicts, stats: j.stats };
}

function one(label: string, score: number, raw: string | null): JudgedRow {
  return { label, primary: label, score, raw };
}
