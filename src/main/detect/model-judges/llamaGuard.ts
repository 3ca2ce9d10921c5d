/**
 * Llama Guard 3 for curation: prompt classification (harmful or not, with S1–S14 codes) through the
 * eval core's judge (src/main/eval/llamaGuard.ts: prompt and parser live there, once), and the
 * codes turned into SafeTune's harm categories (BeaverTails 14) and back.
 *
 * The code ↔ category overlaps are the harm taxonomy's (resources/taxonomy/harm-taxonomy.v1.json);
 * resources/llama-guard-3-categories.json (versioned) says which category comes first for a code
 * that several overlap and why the codes without a counterpart (S5, S8, S14) stay unmapped.
 */
import { z } from 'zod';
import mappingJson from '../../../../resources/llama-guard-3-categories.json';
import { getHarmTaxonomy } from '../../data/taxonomy';
import { LLAMA_GUARD_3_CATEGORIES, LlamaGuardJudge, type LlamaGuardPromptOptions } from '../../eval/llamaGuard';
import type { GenerateCallOptions, Generator, JudgeInput, NextTokenScorer } from '../../eval/types';

const MappingFile = z
  .object({
    id: z.string().min(1),
    version: z.string().regex(/^\d+\.\d+\.\d+$/),
    description: z.string(),
    taxonomy: z.string().min(1),
    primary: z.record(z.string(), z.string()),
    unmapped: z.record(z.string(), z.string().min(20)),
  })
  .strict();
export type LlamaGuardMappingFile = z.infer<typeof MappingFile>;

/**
 * Check a mapping file against the bundled taxonomy: its version, every S code either mapped (then
 * with a primary category among the ones that overlap it) or unmapped with a reason, never both, and
 * every taxonomy category reached by some code or unmapped with a reason. Returns the problems.
 */
export function checkLlamaGuardMapping(json: unknown): string[] {
  const parsed = MappingFile.safeParse(json);
  if (!parsed.success) return parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`);
  const m = parsed.data;
  const tax = getHarmTaxonomy();
  const problems: string[] = [];
  if (m.taxonomy !== tax.version) problems.push(`checked against ${m.taxonomy}, but the bundled taxonomy is ${tax.version}`);
  const codes = LLAMA_GUARD_3_CATEGORIES.map((c) => c.code);
  for (const code of codes) {
    const back = tax.fromLlamaGuard3([code]);
    const reason = m.unmapped[code];
    if (back.length && reason) problems.push(`${code} is listed as unmapped but the taxonomy maps it to ${back.join('; ')}`);
    if (!back.length && !reason) problems.push(`${code} maps to no harm category and has no reason under "unmapped"`);
    const p = m.primary[code];
    if (back.length && !p) problems.push(`${code}: no primary category (one of ${back.join('; ')})`);
    if (p && !back.includes(p)) problems.push(`${code}: primary category "${p}" is not one the taxonomy maps it to (${back.join('; ') || 'none'})`);
  }
  for (const k of [...Object.keys(m.primary), ...Object.keys(m.unmapped)])
    if (!codes.includes(k) && !tax.ids.includes(k)) problems.push(`"${k}" is neither a Llama Guard 3 code nor a harm category`);
  for (const id of tax.ids) {
    if (!tax.toLlamaGuard3([id]).length && !m.unmapped[id]) problems.push(`harm category ${id} maps to no Llama Guard code and has no reason under "unmapped"`);
  }
  return problems;
}

let mapping: LlamaGuardMappingFile | null = null;
function bundledMapping(): LlamaGuardMappingFile {
  if (!mapping) {
    const problems = checkLlamaGuardMapping(mappingJson);
    if (problems.length) throw new Error(`resources/llama-guard-3-categories.json: ${problems.join('; ')}`);
    mapping = mappingJson as LlamaGuardMappingFile;
  }
  return mapping;
}

/** The mapping's version, recorded with verdicts. */
export function llamaGuardMappingVersion(): string {
  const m = bundledMapping();
  return `${m.id}@${m.version}`;
}

/** S codes → harm categories, best first: each code's primary category in code order, then the other overlaps. */
export function llamaGuardToHarmCategories(codes: readonly string[]): string[] {
  const m = bundledMapping();
  const tax = getHarmTaxonomy();
  const out: string[] = [];
  for (const c of codes) {
    const p = m.primary[c];
    if (p && !out.includes(p)) out.push(p);
  }
  for (const id of tax.fromLlamaGuard3(codes)) if (!out.includes(id)) out.push(id);
  return out;
}

/** Harm categories → the S codes that overlap them (taxonomy order). */
export function harmCategoriesToLlamaGuard(ids: readonly string[]): string[] {
  return getHarmTaxonomy().toLlamaGuard3(ids);
}

export interface LlamaGuardPromptVerdict {
  /** null when the model's answer could not be read (see error). */
  harmful: boolean | null;
  /** P(unsafe) when a next-token scorer was given, else null. */
  probability: number | null;
  /** S codes the model named. */
  codes: string[];
  /** Those codes as harm categories, best first. */
  categories: string[];
  /** 'parse': the answer is not a Llama Guard verdict; 'failure': the model call failed on this item. */
  error?: { kind: 'parse' | 'failure'; message: string };
  raw: string | null;
}

export interface LlamaGuardClassifyOptions extends LlamaGuardPromptOptions {
  generator: Generator;
  scorer?: NextTokenScorer;
  style?: 'raw' | 'chat';
  batchSize?: number;
}

/** The eval core's judge set up for prompts alone (the same prompt text and parser as evaluations). */
export function llamaGuardPromptJudge(o: LlamaGuardClassifyOptions): LlamaGuardJudge {
  return new LlamaGuardJudge({ ...o, target: 'prompt' });
}

/** Classify user prompts with Llama Guard 3 (harmful or not, and which categories). */
export async function classifyPromptsWithLlamaGuard(
  prompts: readonly string[],
  o: LlamaGuardClassifyOptions,
  call: GenerateCallOptions = {},
): Promise<LlamaGuardPromptVerdict[]> {
  const judge = llamaGuardPromptJudge(o);
  const inputs: JudgeInput[] = prompts.map((prompt, i) => ({
    item: { id: String(i + 1), prompt, expected: 'answer', categories: [], sourceCategories: [], reference: null, source: { file: '', line: null }, meta: {} },
    suiteKind: 'harmful',
    response: '',
  }));
  const verdicts = await judge.judge(inputs, call);
  return verdicts.map((v) => {
    const raw = v.raw ?? null;
    if (v.label === 'unparseable') return { harmful: null, probability: null, codes: [], categories: [], error: { kind: 'parse', message: v.reason }, raw };
    if (v.label !== 'safe' && v.label !== 'unsafe')
      return { harmful: null, probability: null, codes: [], categories: [], error: { kind: 'failure', message: v.reason }, raw };
    const codes = v.categories ?? [];
    return { harmful: v.label === 'unsafe', probability: v.score, codes, categories: llamaGuardToHarmCategories(codes), raw };
  });
}
