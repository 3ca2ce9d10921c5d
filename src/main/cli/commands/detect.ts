import { createReadStream } from 'node:fs';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { AppError } from '../../../shared/errors';
import { parse, type Command } from '../command';

const usage = 'safetune detect refusal|harm|category --input FILE.jsonl --field NAME [--references DIR] [--rules-only] [--json]';

/**
 * Runs one of the curation detectors over a JSONL file, one verdict per input line, so they can be
 * checked against any labelled file. Scores are calibrated probabilities (--json prints them all):
 * refusal P(refusal); harm P(harmful); category P(category) for each of the 14 categories, blended
 * with the kNN vote of reference prompts when --references is given.
 */
export const detectCommand: Command = {
  name: 'detect',
  usage,
  summary: 'Run the refusal, prompt-harm or harm-category detector over a JSONL file',
  async run(argv, env) {
    const { values, positionals } = parse(
      argv,
      {
        input: { type: 'string' },
        field: { type: 'string' },
        references: { type: 'string' },
        'rules-only': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
      },
      usage,
    );
    const kind = positionals[0];
    if (kind !== 'refusal' && kind !== 'harm' && kind !== 'category') throw new AppError('invalid_input', `usage: ${usage}`);
    if (!values.input || !values.field) throw new AppError('invalid_input', `--input and --field are required\nusage: ${usage}`);
    const file = resolve(values.input);
    const texts: { line: number; text: string }[] = [];
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
          env.io.err(`${file}:${n}: not JSON (${(e as Error).message}): skipped`);
          continue;
        }
        const v = (row as Record<string, unknown>)?.[values.field];
        if (typeof v !== 'string') {
          env.io.err(`${file}:${n}: field "${values.field}" is ${v === undefined ? 'missing' : `a ${typeof v}`}, not text: skipped`);
          continue;
        }
        texts.push({ line: n, text: v });
      }
    } catch (e) {
      throw new AppError('invalid_input', `Cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }

    const { createDefaultEmbedder } = await import('../../embed/static-vectors');
    const embedder = await createDefaultEmbedder();
    const out = (line: number, label: string | string[], score: number | Record<string, number>, extra: Record<string, unknown> = {}) =>
      env.io.out(values.json ? JSON.stringify({ line, label, score, ...extra }) : `${line}\t${Array.isArray(label) ? label.join(',') : label}\t${typeof score === 'number' ? score.toFixed(3) : ''}`);

    if (kind === 'refusal') {
      const { detectRefusals, shippedRefusalDetector } = await import('../../detect/behaviour');
      const r = await detectRefusals(texts.map((t) => t.text), { embedder, rulesOnly: values['rules-only'] });
      const threshold = values['rules-only'] ? null : shippedRefusalDetector().file.threshold;
      r.forEach((v, i) => out(texts[i]!.line, v.refusal ? 'refusal' : 'compliance', v.probability, { source: v.source, threshold, rule: v.rule.phrase ?? null }));
    } else if (kind === 'harm') {
      const { detectHarmfulPrompts, shippedPromptDetector } = await import('../../detect/behaviour');
      const p = await detectHarmfulPrompts(texts.map((t) => t.text), { embedder });
      const threshold = shippedPromptDetector().file.threshold;
      p.forEach((v, i) => out(texts[i]!.line, v >= threshold ? 'harmful' : 'benign', v, { threshold }));
    } else {
      const { detectCategories, embedReferences, loadReferencePrompts } = await import('../../detect/categories');
      const { detectHarmfulPrompts } = await import('../../detect/behaviour');
      const references = values.references
        ? await embedReferences(
            await loadReferencePrompts(resolve(values.references)).catch((e: Error) => {
              throw new AppError('invalid_input', `reference prompts in ${resolve(values.references!)}: ${e.message}`);
            }),
            embedder,
          )
        : undefined;
      const prompts = texts.map((t) => t.text);
      const inf = await detectCategories(prompts, { embedder, ...(references ? { references } : {}) });
      const harm = values.json ? await detectHarmfulPrompts(prompts, { embedder }) : null;
      const C = inf.categories.length;
      texts.forEach((t, i) => {
        const scores = Object.fromEntries(inf.categories.map((c, k) => [c, Math.round(inf.scores[i * C + k]! * 1000) / 1000]));
        out(t.line, inf.labels[i]!, values.json ? scores : (scores[inf.labels[i]![0]!] ?? 0), values.json ? { method: inf.method, harmProbability: Math.round(harm![i]! * 1000) / 1000 } : {});
      });
    }
    return 0;
  },
};
