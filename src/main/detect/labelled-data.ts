/**
 * Loaders for the labelled public data the detectors are trained and measured on (read in place
 * from the shared data folder; nothing of it is copied into the repository):
 *  - refusal labels: XSTest completions of GPT-4 and Mistral-Instruct with human labels
 *    (2_full_refusal and 3_partial_refusal count as refusal) and XSTest's own string-match label;
 *  - harmful / benign prompts for the prompt-harm detector.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

export interface RefusalExample {
  id: string;
  model: string;
  prompt: string;
  response: string;
  /** Human final label: full or partial refusal. */
  refusal: boolean;
  finalLabel: string;
  /** XSTest's string-match label says refusal. */
  strmatchRefusal: boolean;
  /** XSTest prompt type (e.g. homonyms, contrast_homonyms). */
  type: string;
}

export async function loadXstestCompletions(file: string, model: string): Promise<RefusalExample[]> {
  const rows = parse(await readFile(file, 'utf8'), { columns: true }) as Array<Record<string, string>>;
  return rows.map((r) => ({
    id: r.id ?? '',
    model,
    prompt: r.prompt ?? '',
    response: r.completion ?? '',
    refusal: r.final_label === '2_full_refusal' || r.final_label === '3_partial_refusal',
    finalLabel: r.final_label ?? '',
    strmatchRefusal: r.strmatch_label === '2_full_refusal',
    type: r.type ?? '',
  }));
}

export interface PromptExample {
  prompt: string;
  harmful: boolean;
  source: string;
}

async function jsonInstructions(file: string): Promise<string[]> {
  const j = JSON.parse(await readFile(file, 'utf8')) as { instructions?: string[] } | Array<{ instruction: string }>;
  if (Array.isArray(j)) return j.map((x) => x.instruction);
  return j.instructions ?? [];
}

/**
 * Harmful vs benign prompts from the shared folder. Harmful: AdvBench, Safety-Tuned LLaMAs'
 * malicious / hateful (CoNa) / controversial / physically unsafe instructions, XSTest's unsafe
 * contrast prompts, a deterministic sample of BeaverTails unsafe prompts. Benign: XSTest's safe
 * prompts (look unsafe: the hard negatives), safe physical-safety prompts, Alpaca instructions,
 * GSM8K questions.
 */
export async function loadPromptHarmExamples(sharedDataDir: string, options: { beavertailsPerCategory?: number; alpaca?: number; gsm8k?: number } = {}): Promise<PromptExample[]> {
  const out: PromptExample[] = [];
  const d = (...p: string[]) => join(sharedDataDir, ...p);
  const adv = parse(await readFile(d('harmful', 'advbench_harmful_behaviors.csv'), 'utf8'), { columns: true }) as Array<{ goal: string }>;
  for (const r of adv) out.push({ prompt: r.goal, harmful: true, source: 'advbench' });
  for (const f of ['stl_I-MaliciousInstructions.json', 'stl_I-CoNa.json', 'stl_I-Controversial.json', 'stl_I-PhysicalSafetyUnsafe.json']) {
    for (const p of await jsonInstructions(d('harmful', f))) out.push({ prompt: p, harmful: true, source: f.replace(/\.json$/, '') });
  }
  const xs = parse(await readFile(d('benign', 'xstest_prompts.csv'), 'utf8'), { columns: true }) as Array<{ prompt: string; label: string }>;
  for (const r of xs) out.push({ prompt: r.prompt, harmful: r.label === 'unsafe', source: r.label === 'unsafe' ? 'xstest-unsafe' : 'xstest-safe' });
  for (const p of await jsonInstructions(d('benign', 'stl_I-PhysicalSafetySafe.json'))) out.push({ prompt: p, harmful: false, source: 'stl_I-PhysicalSafetySafe' });
  for (const p of await jsonInstructions(d('benign', 'stl_I-Alpaca.json'))) out.push({ prompt: p, harmful: false, source: 'stl_I-Alpaca' });
  const alpaca = JSON.parse(await readFile(d('task', 'alpaca_en_demo.json'), 'utf8')) as Array<{ instruction: string; input: string }>;
  for (const r of alpaca.slice(0, options.alpaca ?? 600)) out.push({ prompt: r.input ? `${r.instruction}\n\n${r.input}` : r.instruction, harmful: false, source: 'alpaca' });
  const gsm = (await readFile(d('task', 'gsm8k_test.jsonl'), 'utf8')).split('\n').filter(Boolean);
  for (const l of gsm.slice(0, options.gsm8k ?? 300)) out.push({ prompt: (JSON.parse(l) as { question: string }).question, harmful: false, source: 'gsm8k' });
  const per = options.beavertailsPerCategory ?? 40;
  const { getHarmTaxonomy } = await import('../data/taxonomy');
  for (const c of getHarmTaxonomy().categories) {
    const lines = (await readFile(d('reference', 'beavertails-unsafe-prompts', c.referenceFile), 'utf8')).split('\n').filter((l) => l.trim());
    // Every (len/per)-th line: deterministic and spread over the file.
    const step = Math.max(1, Math.floor(lines.length / per));
    for (let i = 0; i < lines.length && i / step < per; i += step) out.push({ prompt: lines[i]!, harmful: true, source: `beavertails:${c.id}` });
  }
  return out;
}

/** Deterministic split by a hash of the text: ~`testFraction` of items go to test. */
export function hashSplit<T>(items: readonly T[], key: (t: T) => string, testFraction = 0.3): { train: T[]; test: T[] } {
  const train: T[] = [];
  const test: T[] = [];
  for (const it of items) {
    let h = 0x811c9dc5;
    const s = key(it);
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    ((h % 1000) / 1000 < testFraction ? test : train).push(it);
  }
  return { train, test };
}
