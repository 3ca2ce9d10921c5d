/**
 * Record-format detection and normalisation: turns raw rows (objects from any container) into
 * {prompt, response, categories, labels, contentHash} records, or a precise rejection reason.
 *
 * Recognised shapes:
 *  - alpaca:          instruction, input?, output
 *  - chat:            messages: [{role, content}]
 *  - sharegpt:        conversations: [{from, value}]
 *  - beavertails:     prompt, response, category {14 booleans}, is_safe
 *  - prompt-response: prompt/question/query/goal + response/completion/answer/output
 *  - prompt-only:     a prompt-like field alone (XSTest prompts, AdvBench goal/target, plain strings)
 * When detection is unsure, pass an explicit ColumnMapping.
 */
import { createHash } from 'node:crypto';
import { getHarmTaxonomy } from './taxonomy';

export type RecordFormat = 'alpaca' | 'chat' | 'sharegpt' | 'beavertails' | 'prompt-response' | 'prompt-only';

/** Which fields hold what. Unmapped scalar fields are kept in `labels`. */
export interface ColumnMapping {
  format: RecordFormat;
  /** Field holding the prompt (alpaca: the instruction). Not used for chat/sharegpt. */
  prompt?: string;
  /** alpaca: optional field appended to the prompt after a blank line. */
  input?: string;
  /** Field holding the response (absent for prompt-only). */
  response?: string;
  /** chat/sharegpt: field holding the turns. */
  turns?: string;
  /** Field holding categories: an object of booleans, an array of names, or one name / "a,b" list. */
  categories?: string;
}

export interface NormalisedRecord {
  prompt: string;
  /** '' for prompt-only sources. */
  response: string;
  sourceFile: string;
  /** 0-based data-row index in the source file. */
  sourceRow: number;
  /** 1-based line where the row starts (null for parquet). */
  sourceLine: number | null;
  /** Canonical BeaverTails category ids. */
  categories: string[];
  /** Other fields of the row (scalars and small values), plus derived labels. */
  labels: Record<string, unknown>;
  /** sha256 hex of normalised prompt + "\u0000" + normalised response. */
  contentHash: string;
}

export interface DetectionResult {
  mapping: ColumnMapping | null;
  /** Share of the sample rows the mapping fits (0..1). */
  confidence: number;
  /** Human-readable why/why not. */
  reason: string;
}

const PROMPT_FIELDS = ['prompt', 'instruction', 'question', 'query', 'goal', 'input', 'text', 'sentence', 'instructions', 'request', 'user'];
const RESPONSE_FIELDS = ['response', 'output', 'completion', 'answer', 'chosen', 'reply', 'assistant', 'canonical_solution', 'solution', 'target'];
const CATEGORY_FIELDS = ['category', 'categories', 'harm_category', 'harm_categories'];

/** Canonical text normalisation used for hashing and duplicate detection. */
export function normaliseText(s: string): string {
  return s.normalize('NFKC').replace(/\s+/g, ' ').trim();
}

export function contentHash(prompt: string, response: string): string {
  return createHash('sha256').update(normaliseText(prompt)).update('\u0000').update(normaliseText(response)).digest('hex');
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

function findKey(o: Record<string, unknown>, candidates: readonly string[]): string | undefined {
  const keys = Object.keys(o);
  for (const c of candidates) {
    const k = keys.find((key) => key.toLowerCase() === c);
    if (k !== undefined) return k;
  }
  return undefined;
}

/** Propose a mapping for one row (or null). */
function mappingForRow(row: unknown): ColumnMapping | null {
  if (typeof row === 'string') return { format: 'prompt-only' };
  if (!isObj(row)) return null;
  const keys = new Set(Object.keys(row).map((k) => k.toLowerCase()));
  const cat = findKey(row, CATEGORY_FIELDS);
  const withCat = (m: ColumnMapping): ColumnMapping => (cat !== undefined ? { ...m, categories: cat } : m);
  if (Array.isArray(row.messages)) return withCat({ format: 'chat', turns: 'messages' });
  if (Array.isArray(row.conversations)) return withCat({ format: 'sharegpt', turns: 'conversations' });
  if (keys.has('instruction') && keys.has('output')) {
    return withCat({
      format: 'alpaca',
      prompt: findKey(row, ['instruction'])!,
      response: findKey(row, ['output'])!,
      ...(keys.has('input') ? { input: findKey(row, ['input'])! } : {}),
    });
  }
  if (keys.has('prompt') && keys.has('response') && (isObj(row.category) || jsonObjectString(row.category)) && 'is_safe' in row) {
    return { format: 'beavertails', prompt: 'prompt', response: 'response', categories: 'category' };
  }
  // AdvBench: goal + target, where target is the attack's target prefix, not a real response.
  if (keys.has('goal') && keys.has('target') && keys.size === 2) return { format: 'prompt-only', prompt: findKey(row, ['goal'])! };
  const p = findKey(row, PROMPT_FIELDS);
  if (p === undefined) return null;
  const r = findKey(
    row,
    RESPONSE_FIELDS.filter((f) => f !== p.toLowerCase()),
  );
  if (r !== undefined && typeof row[r] === 'string') return withCat({ format: 'prompt-response', prompt: p, response: r });
  return withCat({ format: 'prompt-only', prompt: p });
}

const sameMapping = (a: ColumnMapping, b: ColumnMapping) => JSON.stringify(a) === JSON.stringify(b);

/** Detect the record format from sample rows: the mapping that fits most rows. */
export function detectFormat(sample: readonly unknown[]): DetectionResult {
  if (sample.length === 0) return { mapping: null, confidence: 0, reason: 'no rows to look at' };
  const votes: Array<{ m: ColumnMapping; n: number }> = [];
  for (const row of sample) {
    const m = mappingForRow(row);
    if (!m) continue;
    const v = votes.find((x) => sameMapping(x.m, m));
    if (v) v.n++;
    else votes.push({ m, n: 1 });
  }
  if (!votes.length) {
    const first = sample.find(isObj);
    const fields = first ? Object.keys(first).join(', ') : typeName(sample[0]);
    return { mapping: null, confidence: 0, reason: `no prompt-like field found (fields: ${fields}); give a column mapping` };
  }
  votes.sort((a, b) => b.n - a.n);
  const best = votes[0]!;
  const confidence = best.n / sample.length;
  const desc = [
    best.m.prompt && `prompt="${best.m.prompt}"`,
    best.m.input && `input="${best.m.input}"`,
    best.m.response && `response="${best.m.response}"`,
    best.m.turns && `turns="${best.m.turns}"`,
    best.m.categories && `categories="${best.m.categories}"`,
  ]
    .filter(Boolean)
    .join(', ');
  return { mapping: best.m, confidence, reason: `${best.m.format}${desc ? ` (${desc})` : ''} fits ${best.n}/${sample.length} sample rows` };
}

export type NormaliseResult = { ok: true; record: Omit<NormalisedRecord, 'sourceFile' | 'sourceRow' | 'sourceLine'> } | { ok: false; reason: string };

function requireString(row: Record<string, unknown>, field: string, optional = false): string | { err: string } {
  const v = row[field];
  if (v === undefined || v === null) return optional ? '' : { err: `field "${field}": missing` };
  if (typeof v !== 'string') return { err: `field "${field}": expected string, got ${typeName(v)}` };
  return v;
}

/** A string holding a JSON object or array (e.g. a BeaverTails category column in a CSV export). */
function jsonObjectString(v: unknown): boolean {
  return typeof v === 'string' && /^\s*[{[]/.test(v);
}

function parseCategories(v: unknown, field: string): { ids: string[]; unknown: string[] } | { err: string } {
  if (jsonObjectString(v)) {
    const text = v as string;
    try {
      v = JSON.parse(text);
    } catch {
      try {
        // Python-style dict reprs ({'a': True}) are common in CSV exports too.
        v = JSON.parse(
          text
            .replace(/'/g, '"')
            .replace(/\bTrue\b/g, 'true')
            .replace(/\bFalse\b/g, 'false'),
        );
      } catch {
        return { err: `field "${field}": not valid JSON: ${text.slice(0, 60)}` };
      }
    }
  }
  const tax = getHarmTaxonomy();
  const ids = new Set<string>();
  const unknown: string[] = [];
  const add = (name: string) => {
    const n = name.trim();
    if (!n) return;
    const id = tax.resolve(n);
    if (id) ids.add(id);
    else unknown.push(n);
  };
  if (v === undefined || v === null || v === '') return { ids: [], unknown };
  if (isObj(v)) {
    for (const [k, flag] of Object.entries(v)) {
      if (typeof flag !== 'boolean' && flag !== 0 && flag !== 1) return { err: `field "${field}.${k}": expected boolean, got ${typeName(flag)}` };
      if (flag) add(k);
    }
  } else if (Array.isArray(v)) {
    for (const x of v) {
      if (typeof x !== 'string') return { err: `field "${field}": expected an array of strings, got an element of type ${typeName(x)}` };
      add(x);
    }
  } else if (typeof v === 'string') {
    // One name, or a list separated by ";" or "|" (BeaverTails ids contain commas themselves).
    const whole = tax.resolve(v);
    if (whole) ids.add(whole);
    else for (const part of v.split(/[;|]/)) add(part);
  } else return { err: `field "${field}": expected object, array or string, got ${typeName(v)}` };
  return { ids: tax.ids.filter((id) => ids.has(id)), unknown };
}

function extractTurns(
  turns: unknown,
  field: string,
  sharegpt: boolean,
): { prompt: string; response: string; system?: string; turns: number } | { err: string } {
  if (!Array.isArray(turns)) return { err: `field "${field}": expected array, got ${typeName(turns)}` };
  const roleKey = sharegpt ? 'from' : 'role';
  const textKey = sharegpt ? 'value' : 'content';
  const norm: Array<{ role: string; text: string }> = [];
  for (let k = 0; k < turns.length; k++) {
    const t = turns[k];
    if (!isObj(t)) return { err: `field "${field}[${k}]": expected object, got ${typeName(t)}` };
    const role = t[roleKey];
    let text = t[textKey];
    if (typeof role !== 'string') return { err: `field "${field}[${k}].${roleKey}": expected string, got ${typeName(role)}` };
    // OpenAI-style content parts: [{type:'text', text}]
    if (Array.isArray(text)) text = text.map((p) => (isObj(p) && typeof p.text === 'string' ? p.text : '')).join('');
    if (typeof text !== 'string') return { err: `field "${field}[${k}].${textKey}": expected string, got ${typeName(text)}` };
    const r = role.toLowerCase();
    const canon =
      r === 'human' || r === 'user' ? 'user' : r === 'gpt' || r === 'assistant' || r === 'bot' || r === 'model' ? 'assistant' : r === 'system' ? 'system' : r;
    norm.push({ role: canon, text });
  }
  const lastA = norm.map((t) => t.role).lastIndexOf('assistant');
  const userIdx = (lastA >= 0 ? norm.slice(0, lastA) : norm).map((t) => t.role).lastIndexOf('user');
  if (userIdx < 0) return { err: `field "${field}": no user turn` };
  const system = norm.find((t) => t.role === 'system')?.text;
  return {
    prompt: norm[userIdx]!.text,
    response: lastA > userIdx ? norm[lastA]!.text : '',
    ...(system !== undefined ? { system } : {}),
    turns: norm.filter((t) => t.role === 'user').length,
  };
}

/** Normalise one raw row with a mapping; never throws for bad data. */
export function normaliseRow(row: unknown, mapping: ColumnMapping): NormaliseResult {
  const fail = (reason: string): NormaliseResult => ({ ok: false, reason });
  if (typeof row === 'string') {
    if (mapping.format !== 'prompt-only') return fail(`expected an object, got a string`);
    if (!row.trim()) return fail('empty prompt');
    return { ok: true, record: { prompt: row, response: '', categories: [], labels: {}, contentHash: contentHash(row, '') } };
  }
  if (!isObj(row)) return fail(`expected an object, got ${typeName(row)}`);
  let prompt: string;
  let response = '';
  const used = new Set<string>();
  const labels: Record<string, unknown> = {};
  if (mapping.format === 'chat' || mapping.format === 'sharegpt') {
    const field = mapping.turns ?? (mapping.format === 'chat' ? 'messages' : 'conversations');
    used.add(field);
    const t = extractTurns(row[field], field, mapping.format === 'sharegpt');
    if ('err' in t) return fail(t.err);
    prompt = t.prompt;
    response = t.response;
    if (t.system !== undefined) labels.system = t.system;
    if (t.turns > 1) labels.userTurns = t.turns;
  } else {
    if (!mapping.prompt) return fail('mapping has no prompt field');
    const p = requireString(row, mapping.prompt);
    if (typeof p !== 'string') return fail(p.err);
    used.add(mapping.prompt);
    prompt = p;
    if (mapping.input) {
      const inp = requireString(row, mapping.input, true);
      if (typeof inp !== 'string') return fail(inp.err);
      used.add(mapping.input);
      if (inp.trim()) prompt = `${prompt}\n\n${inp}`;
    }
    if (mapping.format !== 'prompt-only') {
      if (!mapping.response) return fail('mapping has no response field');
      const r = requireString(row, mapping.response);
      if (typeof r !== 'string') return fail(r.err);
      used.add(mapping.response);
      response = r;
    }
  }
  if (!prompt.trim()) return fail(`empty prompt`);
  let categories: string[] = [];
  if (mapping.categories) {
    used.add(mapping.categories);
    const c = parseCategories(row[mapping.categories], mapping.categories);
    if ('err' in c) return fail(c.err);
    categories = c.ids;
    if (c.unknown.length) labels.unknownCategories = c.unknown;
  }
  for (const [k, v] of Object.entries(row)) {
    if (used.has(k)) continue;
    if (v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') labels[k] = v;
    else if (JSON.stringify(v).length <= 2000) labels[k] = v;
  }
  return { ok: true, record: { prompt, response, categories, labels, contentHash: contentHash(prompt, response) } };
}
